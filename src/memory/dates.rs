//! Dates in questions and in notes. A question's date becomes a span of days the search
//! prefers: "2026-07-21", "September 22nd", "in August", "yesterday", "last Tuesday",
//! "last week", "three days ago" — and "the day after X", "the weekend before X", "the
//! Monday after X", where X is an event memory knows (the search finds X, then looks
//! around its date).
//! A note's own date mentions ("booked the trip for 9 to 11 October") date the event it
//! speaks of, which is not always the day it was written.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// Days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Span {
    fn day(day: NaiveDate) -> Span {
        Span { from: day, to: day }
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// Where a span lies from an event's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    DaysBefore(u64),
    DaysAfter(u64),
    WeekendBefore,
    WeekendAfter,
    WeekBefore,
    WeekAfter,
    /// "the Friday before X": the last such weekday before X's day.
    WeekdayBefore(Weekday),
    /// "the Monday after X": the first such weekday after X's day.
    WeekdayAfter(Weekday),
}

impl Relation {
    /// The span this relation names around `event`.
    pub(crate) fn around(self, event: NaiveDate) -> Span {
        match self {
            Relation::DaysBefore(n) => Span::day(event - Days::new(n)),
            Relation::DaysAfter(n) => Span::day(event + Days::new(n)),
            Relation::WeekendBefore => {
                let mut sunday = event - Days::new(1);
                while sunday.weekday() != Weekday::Sun {
                    sunday = sunday - Days::new(1);
                }
                Span {
                    from: sunday - Days::new(1),
                    to: sunday,
                }
            }
            Relation::WeekendAfter => {
                let mut saturday = event + Days::new(1);
                while saturday.weekday() != Weekday::Sat {
                    saturday = saturday + Days::new(1);
                }
                Span {
                    from: saturday,
                    to: saturday + Days::new(1),
                }
            }
            Relation::WeekBefore => Span {
                from: event - Days::new(7),
                to: event - Days::new(1),
            },
            Relation::WeekAfter => Span {
                from: event + Days::new(1),
                to: event + Days::new(7),
            },
            Relation::WeekdayBefore(day) => {
                let mut date = event - Days::new(1);
                while date.weekday() != day {
                    date = date - Days::new(1);
                }
                Span::day(date)
            }
            Relation::WeekdayAfter(day) => {
                let mut date = event + Days::new(1);
                while date.weekday() != day {
                    date = date + Days::new(1);
                }
                Span::day(date)
            }
        }
    }
}

/// What a question says about time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// Days named outright or relative to the day of asking.
    Span(Span),
    /// Days relative to an event memory has to find first ("the Lisbon trip").
    Around { event: String, relation: Relation },
}

/// A question's time, and the question without the words that said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timed {
    pub when: When,
    pub rest: String,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

const NUMBERS: [&str; 11] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];

fn month(word: &str) -> Option<u32> {
    const SHORT: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .position(|name| *name == word)
        .or_else(|| SHORT.iter().position(|short| *short == word))
        .or_else(|| (word == "sept").then_some(8))
        .map(|index| index as u32 + 1)
}

/// Month names that are also everyday words ("you may", "to march"): a month only next
/// to a day number or after "in", "since", "early" and the like.
fn is_also_a_word(word: &str) -> bool {
    matches!(word, "may" | "march" | "mar")
}

fn weekday(word: &str) -> Option<Weekday> {
    WEEKDAYS
        .iter()
        .find(|(name, _)| *name == word || (word.len() == 3 && name.starts_with(word)))
        .map(|(_, day)| *day)
}

fn number(word: &str) -> Option<u64> {
    if let Ok(n) = word.parse::<u64>() {
        return Some(n);
    }
    if word == "a" || word == "an" {
        return Some(1);
    }
    NUMBERS
        .iter()
        .position(|name| *name == word)
        .map(|n| n as u64)
}

/// "22nd", "3rd", "1st", "14th", "22" → the day of the month.
fn day_of_month(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = word.strip_prefix(digits).unwrap_or(word);
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    let day: u32 = digits.parse().ok()?;
    (1..=31).contains(&day).then_some(day)
}

fn year(word: &str) -> Option<i32> {
    let year: i32 = word.parse().ok()?;
    (1900..=2200).contains(&year).then_some(year)
}

/// Lowercased words, apostrophes kept inside, everything else a separator but `-` in
/// ISO dates.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'' || c == '’'))
        .map(|word| word.trim_matches(['-', '\'', '’']).to_lowercase())
        .filter(|word| !word.is_empty())
        .collect()
}

/// The day `month`/`day` falls on most recently, on or before `today` (the year of
/// `today`, or the one before when that day is still to come).
fn latest(month: u32, day: u32, today: NaiveDate) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this_year {
        Some(date) if date <= today => Some(date),
        _ => NaiveDate::from_ymd_opt(today.year() - 1, month, day),
    }
}

/// The day `month`/`day` falls on nearest to `written` (a note about "9 October" written
/// in late September means the coming one).
fn nearest(month: u32, day: u32, written: NaiveDate) -> Option<NaiveDate> {
    [written.year() - 1, written.year(), written.year() + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .min_by_key(|date| (*date - written).num_days().abs())
}

fn month_span(year: i32, month: u32) -> Option<Span> {
    let from = NaiveDate::from_ymd_opt(year, month, 1)?;
    let to = from.checked_add_months(Months::new(1))? - Days::new(1);
    Some(Span { from, to })
}

/// The most recent whole `month` that has begun by `today`.
fn latest_month(month: u32, today: NaiveDate) -> Option<Span> {
    let year = if month <= today.month() {
        today.year()
    } else {
        today.year() - 1
    };
    month_span(year, month)
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// An explicit date at `words[at..]`: ISO, "22 September", "September 22nd",
/// "the 3rd of October", each with an optional year. Returns the date's parts and how
/// many words it took.
fn explicit_date(words: &[String], at: usize) -> Option<(Option<i32>, u32, u32, usize)> {
    let word = words.get(at)?;
    if let Ok(date) = NaiveDate::parse_from_str(word, "%Y-%m-%d") {
        return Some((Some(date.year()), date.month(), date.day(), 1));
    }
    let next = |offset: usize| words.get(at + offset).map(String::as_str);
    // "22 September [2026]", "22nd of September"
    if let Some(day) = day_of_month(word) {
        let (of, month_at) = if next(1) == Some("of") {
            (1, 2)
        } else {
            (0, 1)
        };
        if let Some(month) = next(month_at).and_then(month) {
            let year = next(month_at + 1).and_then(year);
            return Some((year, month, day, 1 + of + 1 + usize::from(year.is_some())));
        }
    }
    // "September 22nd [2026]"
    if let Some(month) = month(word)
        && let Some(day) = next(1).and_then(day_of_month)
    {
        let year = next(2).and_then(year);
        return Some((year, month, day, 2 + usize::from(year.is_some())));
    }
    None
}

/// Relations that put a span around an event: the words, and what they mean.
fn relation(words: &[String], at: usize) -> Option<(Relation, usize)> {
    let word = |offset: usize| words.get(at + offset).map(String::as_str);
    let side = |word: Option<&str>| match word {
        Some("before") => Some(false),
        Some("after") => Some(true),
        _ => None,
    };
    let skip_the = usize::from(word(0) == Some("the"));
    let unit = word(skip_the)?;
    if let Some(after) = side(word(skip_the + 1)) {
        let relation = match unit {
            "day" | "night" | "evening" | "morning" => {
                if after {
                    Relation::DaysAfter(1)
                } else {
                    Relation::DaysBefore(1)
                }
            }
            "weekend" => {
                if after {
                    Relation::WeekendAfter
                } else {
                    Relation::WeekendBefore
                }
            }
            "week" => {
                if after {
                    Relation::WeekAfter
                } else {
                    Relation::WeekBefore
                }
            }
            other => match (weekday(other), after) {
                (Some(day), true) => Relation::WeekdayAfter(day),
                (Some(day), false) => Relation::WeekdayBefore(day),
                (None, _) => return None,
            },
        };
        return Some((relation, skip_the + 2));
    }
    // "two days before", "3 days after"
    let n = number(word(0)?)?;
    if matches!(word(1), Some("day" | "days"))
        && let Some(after) = side(word(2))
        && (1..=60).contains(&n)
    {
        let relation = if after {
            Relation::DaysAfter(n)
        } else {
            Relation::DaysBefore(n)
        };
        return Some((relation, 3));
    }
    None
}

/// Words that end an event's name inside a question ("the day after the race, what …").
fn ends_event(word: &str) -> bool {
    matches!(
        word,
        "and" | "but" | "what" | "which" | "who" | "where" | "how" | "did" | "was" | "were"
    )
}

/// What `question`, asked on `today`, says about time; `None` when it says nothing.
pub(crate) fn in_question(question: &str, today: NaiveDate) -> Option<Timed> {
    let words = words(question);
    let mut at = 0;
    while at < words.len() {
        if let Some((span, taken, lead)) = span_at(&words, at, today) {
            let from = at - lead;
            return Some(Timed {
                when: When::Span(span),
                rest: rest_without(&words, from, at + taken),
            });
        }
        if let Some((relation, taken)) = relation(&words, at) {
            let start = at + taken;
            let mut end = start;
            while end < words.len() && !ends_event(&words[end]) {
                end += 1;
            }
            let event = words[start..end].join(" ");
            if super::query::content_words(&event).is_empty() {
                at += 1;
                continue;
            }
            return Some(Timed {
                when: When::Around { event, relation },
                rest: rest_without(&words, at, end),
            });
        }
        at += 1;
    }
    None
}

fn rest_without(words: &[String], from: usize, to: usize) -> String {
    // "on", "in", "during" before the date go with it.
    let from = if from > 0
        && matches!(
            words[from - 1].as_str(),
            "on" | "in" | "during" | "since" | "from" | "of"
        ) {
        from - 1
    } else {
        from
    };
    words[..from]
        .iter()
        .chain(&words[to.min(words.len())..])
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A span named at `words[at]`, relative to `today`: the span, the words it took, and
/// how many words before `at` belong to it (none yet; kept for "early", "late").
fn span_at(words: &[String], at: usize, today: NaiveDate) -> Option<(Span, usize, usize)> {
    let word = words[at].as_str();
    let next = |offset: usize| words.get(at + offset).map(String::as_str);
    if let Some((year, month, day, taken)) = explicit_date(words, at) {
        let date = match year {
            Some(year) => NaiveDate::from_ymd_opt(year, month, day),
            None => latest(month, day, today),
        }?;
        return Some((Span::day(date), taken, 0));
    }
    match word {
        "today" => return Some((Span::day(today), 1, 0)),
        "yesterday" => return Some((Span::day(today - Days::new(1)), 1, 0)),
        "tonight" | "this" if word == "tonight" || next(1) == Some("morning") => {
            return Some((Span::day(today), if word == "this" { 2 } else { 1 }, 0));
        }
        _ => {}
    }
    if matches!(word, "last" | "this" | "past" | "previous") {
        let which = next(1)?;
        let last = word != "this";
        if let Some(day) = weekday(which) {
            let mut date = today - Days::new(1);
            while date.weekday() != day {
                date = date - Days::new(1);
            }
            if !last && date < monday_of(today) {
                return None;
            }
            return Some((Span::day(date), 2, 0));
        }
        let span = match which {
            "week" => {
                let monday = monday_of(today);
                if last {
                    Span {
                        from: monday - Days::new(7),
                        to: monday - Days::new(1),
                    }
                } else {
                    Span {
                        from: monday,
                        to: today,
                    }
                }
            }
            "weekend" => {
                let mut sunday = if last { today - Days::new(1) } else { today };
                while sunday.weekday() != Weekday::Sun {
                    sunday = sunday - Days::new(1);
                }
                Span {
                    from: sunday - Days::new(1),
                    to: sunday,
                }
            }
            "month" => {
                let first = today.with_day(1)?;
                if last {
                    let previous = first - Days::new(1);
                    month_span(previous.year(), previous.month())?
                } else {
                    Span {
                        from: first,
                        to: today,
                    }
                }
            }
            "year" => {
                let year = if last { today.year() - 1 } else { today.year() };
                Span {
                    from: NaiveDate::from_ymd_opt(year, 1, 1)?,
                    to: NaiveDate::from_ymd_opt(year, 12, 31)?.min(today),
                }
            }
            other => {
                let (month, season) = (month(other), season(other, today));
                match (month, season) {
                    (Some(month), _) => latest_month(month, today)?,
                    (None, Some(span)) => span,
                    _ => return None,
                }
            }
        };
        return Some((span, 2, 0));
    }
    // "three days ago", "two weeks ago", "a month ago"
    if let Some(n) = number(word)
        && let Some(unit) = next(1)
        && next(2) == Some("ago")
        && n <= 400
    {
        let span = match unit {
            "day" | "days" => Span::day(today - Days::new(n)),
            "week" | "weeks" => {
                let monday = monday_of(today - Days::new(7 * n));
                Span {
                    from: monday,
                    to: monday + Days::new(6),
                }
            }
            "month" | "months" => {
                let day = today.checked_sub_months(Months::new(u32::try_from(n).ok()?))?;
                month_span(day.year(), day.month())?
            }
            _ => return None,
        };
        return Some((span, 3, 0));
    }
    // "in August", "since August", "early November" — a month named alone is a month of
    // the past; "may" only after "in" (it is mostly a verb).
    if let Some(month_number) = month(word) {
        let previous = at.checked_sub(1).map(|i| words[i].as_str());
        if is_also_a_word(word)
            && !matches!(
                previous,
                Some("in" | "since" | "during" | "early" | "late" | "mid" | "of")
            )
        {
            return None;
        }
        let mut span = latest_month(month_number, today)?;
        let mut lead = 0;
        if let Some(part @ ("early" | "mid" | "late")) = previous {
            lead = 1;
            let (from, to) = match part {
                "early" => (1, 10),
                "mid" => (11, 20),
                _ => (21, 31),
            };
            span = Span {
                from: span.from.with_day(from)?,
                to: span.to.min(span.from.with_day(to.min(span.to.day()))?),
            };
        }
        if previous == Some("since") {
            span.to = today;
        }
        let with_year = next(1).and_then(year);
        if let Some(year) = with_year {
            span = month_span(year, month_number)?;
        }
        return Some((span, 1 + usize::from(with_year.is_some()), lead));
    }
    None
}

/// "autumn", "summer": the most recent such season that has begun by `today`
/// (northern hemisphere).
fn season(word: &str, today: NaiveDate) -> Option<Span> {
    let first_month = match word {
        "spring" => 3,
        "summer" => 6,
        "autumn" | "fall" => 9,
        "winter" => 12,
        _ => return None,
    };
    let mut year = today.year();
    if NaiveDate::from_ymd_opt(year, first_month, 1)? > today {
        year -= 1;
    }
    let from = NaiveDate::from_ymd_opt(year, first_month, 1)?;
    let to = from.checked_add_months(Months::new(3))? - Days::new(1);
    Some(Span {
        from,
        to: to.min(today),
    })
}

/// The first date `note` names outright ("for 9 to 11 October", "set for 15 October",
/// "on 2026-10-09"), read as the one nearest the day it was `written`.
pub(crate) fn in_note(note: &str, written: NaiveDate) -> Option<NaiveDate> {
    let words = words(note);
    for at in 0..words.len() {
        // "9 to 11 October": the first day of a range.
        if let Some(day) = day_of_month(&words[at])
            && matches!(
                words.get(at + 1).map(String::as_str),
                Some("to" | "and" | "or")
            )
            && let Some(month) = words.get(at + 3).and_then(|word| month(word))
            && words
                .get(at + 2)
                .and_then(|word| day_of_month(word))
                .is_some()
        {
            return nearest(month, day, written);
        }
        if let Some((year, month, day, _)) = explicit_date(&words, at) {
            return match year {
                Some(year) => NaiveDate::from_ymd_opt(year, month, day),
                None => nearest(month, day, written),
            };
        }
    }
    None
}

#[cfg(test)]
#[path = "dates_tests.rs"]
mod tests;
