//! When a task runs: standard crontab lines with crontab's own meaning, parsed by
//! `croner`, which follows POSIX/Vixie cron — 5 fields (or 6, seconds first), weekdays
//! 0-7 from Sunday, and day-of-month ORed with day-of-week when both are restricted. (The
//! `cron` crate uses Quartz rules instead: 7 fields, 1 = Sunday, AND; its expressions would
//! mean something else than the user wrote.) Also `@hourly`, `@daily`, `@weekly`,
//! `@monthly`, `@yearly` and `@reboot`.
//!
//! Across daylight-saving changes a time that does not exist that day is skipped, and a
//! time that happens twice runs once (at its first occurrence); croner itself would run a
//! skipped fixed time right after the gap and an interval job twice, so those instants are
//! filtered here.

use chrono::{DateTime, Local, LocalResult, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

const FIELDS: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day of month",
    "month",
    "day of week",
];

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron {
        expression: String,
        cron: Box<Cron>,
    },
    /// Once, when the daemon starts.
    Reboot,
}

/// The time zone schedules are read in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Zone {
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    /// How a time is shown to the person: in the machine's local time, or — when
    /// `heartbeat.timezone` names a zone — in that zone, saying which.
    pub fn show(&self, at: DateTime<Utc>) -> String {
        match self {
            Zone::Local => at
                .with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            Zone::Named(zone) => format!(
                "{} ({zone})",
                at.with_timezone(zone).format("%Y-%m-%d %H:%M:%S %Z")
            ),
        }
    }

    /// `""` is the machine's local time; otherwise an IANA name such as `Europe/Berlin`.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        name.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("unknown time zone \"{name}\": use an IANA name such as \"Europe/Berlin\" or \"UTC\"")
        })
    }
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expression = match text.to_ascii_lowercase().as_str() {
            "@reboot" => return Ok(Schedule::Reboot),
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@hourly" => "0 * * * *".to_string(),
            other if other.starts_with('@') => {
                return Err(format!(
                    "unknown schedule `{text}`: use @hourly, @daily, @weekly, @monthly, @yearly, @reboot or a crontab line"
                ));
            }
            _ => text.to_string(),
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if !(fields.len() == 5 || fields.len() == 6) {
            return Err(format!(
                "`{text}` has {} fields; a schedule has 5 (minute hour day-of-month month \
                 day-of-week, e.g. `*/15 * * * *`) or 6 with seconds first",
                fields.len()
            ));
        }
        match parser().parse(&expression) {
            Ok(cron) => Ok(Schedule::Cron {
                expression: text.to_string(),
                cron: Box::new(cron),
            }),
            Err(err) => Err(blame_field(&fields).unwrap_or_else(|| format!("`{text}`: {err}"))),
        }
    }

    /// The next run strictly after `after`, in `zone`; `None` for `@reboot` or a pattern
    /// that never matches again.
    pub(crate) fn next_after(&self, after: DateTime<Utc>, zone: Zone) -> Option<DateTime<Utc>> {
        let Schedule::Cron { cron, .. } = self else {
            return None;
        };
        match zone {
            Zone::Local => next_in(cron, after.with_timezone(&chrono::Local)),
            Zone::Named(tz) => next_in(cron, after.with_timezone(&tz)),
        }
    }

    /// In words, e.g. "At 09:00, Monday through Friday".
    pub fn describe(&self) -> String {
        match self {
            Schedule::Reboot => "once, when the daemon starts".to_string(),
            Schedule::Cron { cron, .. } => cron.describe(),
        }
    }

    pub fn expression(&self) -> &str {
        match self {
            Schedule::Reboot => "@reboot",
            Schedule::Cron { expression, .. } => expression,
        }
    }
}

fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Optional).build()
}

/// Which field makes the expression invalid: each is tried alone among wildcards.
fn blame_field(fields: &[&str]) -> Option<String> {
    let offset = if fields.len() == 6 { 0 } else { 1 };
    for (index, field) in fields.iter().enumerate() {
        let mut probe = vec!["*"; fields.len()];
        probe[index] = field;
        if let Err(err) = parser().parse(&probe.join(" ")) {
            let name = FIELDS.get(index + offset).copied().unwrap_or("field");
            let detail = match err {
                croner::errors::CronError::ComponentError(message)
                | croner::errors::CronError::InvalidPattern(message) => message,
                other => other.to_string(),
            };
            return Some(format!("the {name} field `{field}` is not valid: {detail}"));
        }
    }
    None
}

/// The croner occurrence after `after`, with the daylight-saving rules above.
fn next_in<Z: TimeZone>(cron: &Cron, after: DateTime<Z>) -> Option<DateTime<Utc>>
where
    DateTime<Z>: croner::CronDateTime,
{
    let zone = after.timezone();
    let mut cursor = after;
    // Each skip moves past one instant; a few hundred covers any real transition.
    for _ in 0..500 {
        let next = cron.find_next_occurrence(&cursor, false).ok()?;
        let wall = next.naive_local();
        let shifted_past_a_gap = !cron.is_time_matching(&next).unwrap_or(false);
        let second_of_a_repeat = matches!(
            zone.from_local_datetime(&wall),
            LocalResult::Ambiguous(first, _) if first != next
        );
        if !shifted_past_a_gap && !second_of_a_repeat {
            return Some(next.with_timezone(&Utc));
        }
        cursor = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next_three(expression: &str, from: &str, zone: Zone) -> Vec<String> {
        let schedule = Schedule::parse(expression).unwrap();
        let mut at = utc(from);
        let mut times = Vec::new();
        for _ in 0..3 {
            at = schedule.next_after(at, zone).unwrap();
            times.push(match zone {
                Zone::Named(tz) => at.with_timezone(&tz).format("%a %F %T %Z").to_string(),
                Zone::Local => at.to_rfc3339(),
            });
        }
        times
    }

    /// Real crontab lines and what crontab does with them, from Friday 2026-03-06 10:17:30.
    #[test]
    fn crontab_lines_mean_what_crontab_means() {
        let utc_zone = Zone::parse("UTC").unwrap();
        let from = "2026-03-06T10:17:30Z";
        let table: [(&str, [&str; 3]); 12] = [
            (
                "*/15 * * * *",
                [
                    "Fri 2026-03-06 10:30:00 UTC",
                    "Fri 2026-03-06 10:45:00 UTC",
                    "Fri 2026-03-06 11:00:00 UTC",
                ],
            ),
            // 1-5 is Monday to Friday (Quartz would read Sunday to Thursday).
            (
                "0 9 * * 1-5",
                [
                    "Mon 2026-03-09 09:00:00 UTC",
                    "Tue 2026-03-10 09:00:00 UTC",
                    "Wed 2026-03-11 09:00:00 UTC",
                ],
            ),
            // Day of month OR day of week: the 1st and 15th, and every Friday.
            (
                "0 0 1,15 * 5",
                [
                    "Fri 2026-03-13 00:00:00 UTC",
                    "Sun 2026-03-15 00:00:00 UTC",
                    "Fri 2026-03-20 00:00:00 UTC",
                ],
            ),
            // 0 and 7 are both Sunday.
            (
                "30 2 * * 0",
                [
                    "Sun 2026-03-08 02:30:00 UTC",
                    "Sun 2026-03-15 02:30:00 UTC",
                    "Sun 2026-03-22 02:30:00 UTC",
                ],
            ),
            (
                "30 2 * * 7",
                [
                    "Sun 2026-03-08 02:30:00 UTC",
                    "Sun 2026-03-15 02:30:00 UTC",
                    "Sun 2026-03-22 02:30:00 UTC",
                ],
            ),
            (
                "5 4 * * sun",
                [
                    "Sun 2026-03-08 04:05:00 UTC",
                    "Sun 2026-03-15 04:05:00 UTC",
                    "Sun 2026-03-22 04:05:00 UTC",
                ],
            ),
            (
                "0 0 29 2 *",
                [
                    "Tue 2028-02-29 00:00:00 UTC",
                    "Sun 2032-02-29 00:00:00 UTC",
                    "Fri 2036-02-29 00:00:00 UTC",
                ],
            ),
            (
                "0 8-10/2 * jan,mar *",
                [
                    "Sat 2026-03-07 08:00:00 UTC",
                    "Sat 2026-03-07 10:00:00 UTC",
                    "Sun 2026-03-08 08:00:00 UTC",
                ],
            ),
            (
                "*/1 * * * * *",
                [
                    "Fri 2026-03-06 10:17:31 UTC",
                    "Fri 2026-03-06 10:17:32 UTC",
                    "Fri 2026-03-06 10:17:33 UTC",
                ],
            ),
            (
                "@hourly",
                [
                    "Fri 2026-03-06 11:00:00 UTC",
                    "Fri 2026-03-06 12:00:00 UTC",
                    "Fri 2026-03-06 13:00:00 UTC",
                ],
            ),
            (
                "@daily",
                [
                    "Sat 2026-03-07 00:00:00 UTC",
                    "Sun 2026-03-08 00:00:00 UTC",
                    "Mon 2026-03-09 00:00:00 UTC",
                ],
            ),
            (
                "@weekly",
                [
                    "Sun 2026-03-08 00:00:00 UTC",
                    "Sun 2026-03-15 00:00:00 UTC",
                    "Sun 2026-03-22 00:00:00 UTC",
                ],
            ),
        ];
        for (expression, expected) in table {
            assert_eq!(
                next_three(expression, from, utc_zone),
                expected,
                "{expression}"
            );
        }
    }

    #[test]
    fn invalid_expressions_name_the_field() {
        for (expression, needle) in [
            ("61 * * * *", "minute field `61`"),
            ("* 25 * * *", "hour field `25`"),
            ("* * 32 * *", "day of month field `32`"),
            ("* * * 13 *", "month field `13`"),
            ("* * * * 8", "day of week field `8`"),
            ("99 * * * * *", "second field `99`"),
            ("* * * *", "has 4 fields"),
            ("@sometimes", "unknown schedule"),
            ("", "has 0 fields"),
        ] {
            let err = Schedule::parse(expression).unwrap_err();
            assert!(err.contains(needle), "{expression}: {err}");
        }
    }

    #[test]
    fn a_skipped_local_time_is_skipped_and_a_repeated_one_runs_once() {
        let new_york = Zone::parse("America/New_York").unwrap();
        // 2026-03-08: 02:00 jumps to 03:00, so there is no 02:30 that day.
        assert_eq!(
            next_three("30 2 * * *", "2026-03-07T17:00:00Z", new_york),
            [
                "Mon 2026-03-09 02:30:00 EDT",
                "Tue 2026-03-10 02:30:00 EDT",
                "Wed 2026-03-11 02:30:00 EDT"
            ]
        );
        // 2026-11-01: 01:00-02:00 happens twice; 01:30 runs once, and */30 does not
        // repeat the hour.
        assert_eq!(
            next_three("30 1 * * *", "2026-10-31T16:00:00Z", new_york),
            [
                "Sun 2026-11-01 01:30:00 EDT",
                "Mon 2026-11-02 01:30:00 EST",
                "Tue 2026-11-03 01:30:00 EST"
            ]
        );
        assert_eq!(
            next_three("*/30 * * * *", "2026-11-01T04:50:00Z", new_york),
            [
                "Sun 2026-11-01 01:00:00 EDT",
                "Sun 2026-11-01 01:30:00 EDT",
                "Sun 2026-11-01 02:00:00 EST"
            ]
        );
    }

    #[test]
    fn reboot_has_no_next_time_and_zones_parse() {
        let reboot = Schedule::parse("@reboot").unwrap();
        assert!(reboot.next_after(Utc::now(), Zone::Local).is_none());
        assert_eq!(reboot.expression(), "@reboot");
        assert_eq!(Zone::parse("").unwrap(), Zone::Local);
        assert!(
            Zone::parse("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
        assert!(
            Schedule::parse("0 9 * * 1-5")
                .unwrap()
                .describe()
                .contains("09:00")
        );
    }
}
