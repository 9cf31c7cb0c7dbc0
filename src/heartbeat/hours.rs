//! `heartbeat.active_hours`: a daily window such as `08:00-22:00`, which may wrap past
//! midnight (`22:00-06:00`).

use chrono::NaiveTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ActiveHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl ActiveHours {
    /// `None` for an empty setting: any time is active.
    pub fn parse(text: &str) -> Result<Option<ActiveHours>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let problem = || format!("\"{text}\" is not a time window: write it as \"08:00-22:00\"");
        let (start, end) = text.split_once('-').ok_or_else(problem)?;
        let time = |part: &str| {
            let part = part.trim();
            if part == "24:00" {
                return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(problem);
            }
            NaiveTime::parse_from_str(part, "%H:%M").map_err(|_| problem())
        };
        let hours = ActiveHours {
            start: time(start)?,
            end: time(end)?,
        };
        if hours.start == hours.end {
            return Err(format!(
                "\"{text}\" starts and ends at the same time; leave it empty for any time"
            ));
        }
        Ok(Some(hours))
    }

    pub fn contains(&self, at: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= at && at < self.end
        } else {
            at >= self.start || at < self.end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    #[test]
    fn windows_by_day_and_across_midnight() {
        let day = ActiveHours::parse("08:00-22:00").unwrap().unwrap();
        assert!(day.contains(at("08:00")) && day.contains(at("21:59")));
        assert!(!day.contains(at("22:00")) && !day.contains(at("07:59")));
        let night = ActiveHours::parse("22:00-06:00").unwrap().unwrap();
        assert!(night.contains(at("23:30")) && night.contains(at("05:00")));
        assert!(!night.contains(at("12:00")));
        assert_eq!(ActiveHours::parse(" ").unwrap(), None);
        for bad in ["8-22", "08:00", "25:00-26:00", "09:00-09:00"] {
            assert!(ActiveHours::parse(bad).is_err(), "{bad}");
        }
    }
}
