//! Tests of the dates in questions and notes (kept beside them, in their own file).

use super::*;

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn span(question: &str, today: &str) -> Option<(String, String)> {
    match in_question(question, day(today))?.when {
        When::Span(span) => Some((span.from.to_string(), span.to.to_string())),
        When::Around { .. } => None,
    }
}

fn pair(from: &str, to: &str) -> Option<(String, String)> {
    Some((from.to_string(), to.to_string()))
}

#[test]
fn days_named_outright() {
    let today = "2026-12-01";
    let one = |d: &str| pair(d, d);
    assert_eq!(
        span("What did I write on 2026-09-14?", today),
        one("2026-09-14")
    );
    assert_eq!(
        span("What did I do on September 22nd?", today),
        one("2026-09-22")
    );
    assert_eq!(span("what happened on 4 October", today), one("2026-10-04"));
    assert_eq!(span("on the 3rd of October?", today), one("2026-10-03"));
    assert_eq!(span("Friday 13 November", today), one("2026-11-13"));
    // A day still to come this year is last year's.
    assert_eq!(span("on 20 December", today), one("2025-12-20"));
    assert_eq!(span("Sept 5 2025", today), one("2025-09-05"));
}

#[test]
fn days_relative_to_the_day_of_asking() {
    // 2026-11-30 is a Monday.
    let today = "2026-11-30";
    let one = |d: &str| pair(d, d);
    assert_eq!(span("What did I send yesterday?", today), one("2026-11-29"));
    assert_eq!(span("Who came last Tuesday?", today), one("2026-11-24"));
    assert_eq!(span("last monday", today), one("2026-11-23"));
    assert_eq!(span("three days ago", today), one("2026-11-27"));
    assert_eq!(span("last week", today), pair("2026-11-23", "2026-11-29"));
    assert_eq!(
        span("this week", "2026-11-26"),
        pair("2026-11-23", "2026-11-26")
    );
    assert_eq!(
        span("last weekend", today),
        pair("2026-11-28", "2026-11-29")
    );
    assert_eq!(span("last month", today), pair("2026-10-01", "2026-10-31"));
    assert_eq!(
        span("two weeks ago", today),
        pair("2026-11-16", "2026-11-22")
    );
}

#[test]
fn months_and_seasons() {
    let today = "2026-12-01";
    assert_eq!(
        span("Which book did I finish in August?", today),
        pair("2026-08-01", "2026-08-31")
    );
    assert_eq!(
        span("in early November", today),
        pair("2026-11-01", "2026-11-10")
    );
    assert_eq!(
        span("since August", today),
        pair("2026-08-01", "2026-12-01")
    );
    assert_eq!(span("this autumn", today), pair("2026-09-01", "2026-11-30"));
    assert_eq!(span("in May", today), pair("2026-05-01", "2026-05-31"));
    assert_eq!(span("You may go", today), None);
    assert_eq!(span("What did I march for", today), None);
    let timed = in_question("Which book did I finish in August?", day(today)).unwrap();
    assert_eq!(timed.rest, "which book did i finish");
}

#[test]
fn spans_around_events() {
    let around = |q: &str| match in_question(q, day("2026-12-01")).unwrap().when {
        When::Around { event, relation } => (event, relation),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        around("What did I do the weekend before the Lisbon trip?"),
        ("the lisbon trip".to_string(), Relation::WeekendBefore)
    );
    assert_eq!(
        around("How did I spend the day after the half marathon?"),
        ("the half marathon".to_string(), Relation::DaysAfter(1))
    );
    assert_eq!(
        around("two days before my birthday, what did I do"),
        ("my birthday".to_string(), Relation::DaysBefore(2))
    );
    assert_eq!(
        around("the night before the race"),
        ("the race".to_string(), Relation::DaysBefore(1))
    );
    // 2026-10-09 is a Friday, 2026-10-11 a Sunday.
    let trip = day("2026-10-09");
    assert_eq!(
        Relation::WeekendBefore.around(trip),
        Span {
            from: day("2026-10-03"),
            to: day("2026-10-04")
        }
    );
    assert_eq!(
        Relation::WeekendAfter.around(day("2026-10-11")),
        Span {
            from: day("2026-10-17"),
            to: day("2026-10-18")
        }
    );
    assert_eq!(
        around("What did we agree on the Monday after the kestrel launch?"),
        (
            "the kestrel launch".to_string(),
            Relation::WeekdayAfter(Weekday::Mon)
        )
    );
    // 2026-11-12 is a Thursday: the Monday after is the 16th, the Friday before the 6th.
    let launch = day("2026-11-12");
    assert_eq!(
        Relation::WeekdayAfter(Weekday::Mon).around(launch),
        Span::day(day("2026-11-16"))
    );
    assert_eq!(
        Relation::WeekdayBefore(Weekday::Fri).around(launch),
        Span::day(day("2026-11-06"))
    );
    assert!(in_question("Where does Ana live?", day("2026-12-01")).is_none());
    assert!(in_question("the day after", day("2026-12-01")).is_none());
}

#[test]
fn a_notes_own_dates() {
    let written = day("2026-09-26");
    assert_eq!(
        in_note(
            "Booked the Lisbon trip with Rui for 9 to 11 October",
            written
        ),
        Some(day("2026-10-09"))
    );
    assert_eq!(
        in_note("launch set for 15 October.", day("2026-08-19")),
        Some(day("2026-10-15"))
    );
    assert_eq!(
        in_note("Mum's birthday is on 2 December", day("2026-11-05")),
        Some(day("2026-12-02"))
    );
    assert_eq!(in_note("Arrived in Lisbon", written), None);
    assert_eq!(
        in_note("on 2027-04-01 we fly", written),
        Some(day("2027-04-01"))
    );
}
