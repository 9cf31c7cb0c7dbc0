//! The saved sessions as a whole: listing (newest first, reading only the files shown),
//! finding one by any unique prefix of its id, removing and pruning.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::reader::{Loaded, load};
use crate::home::Home;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no saved session has an id starting with `{0}` (`localgpt sessions list` shows them)")]
    NotFound(String),
    #[error("`{prefix}` matches several sessions: {matches}; type more of the id")]
    Ambiguous { prefix: String, matches: String },
    #[error("there are no saved sessions yet")]
    None,
    #[error("cannot read the sessions folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A session as listed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub path: PathBuf,
    pub modified: SystemTime,
}

pub struct Sessions {
    dir: PathBuf,
}

impl Sessions {
    pub fn new(home: &Home) -> Sessions {
        Sessions {
            dir: home.sessions_dir(),
        }
    }

    /// Every session, newest activity first. Only file names and times are read.
    pub fn entries(&self) -> Result<Vec<Entry>, SessionError> {
        let read = std::fs::read_dir(&self.dir);
        let read = match read {
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SessionError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut entries: Vec<Entry> = read
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "jsonl") {
                    return None;
                }
                let modified = entry.metadata().ok()?.modified().ok()?;
                let id = path.file_stem()?.to_string_lossy().into_owned();
                Some(Entry { id, path, modified })
            })
            .collect();
        entries.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.id.cmp(&a.id)));
        Ok(entries)
    }

    /// The newest `limit` sessions, each read for its title, model and turns.
    pub fn list(&self, limit: usize) -> Result<Vec<(Entry, Loaded)>, SessionError> {
        Ok(self
            .entries()?
            .into_iter()
            .take(limit)
            .filter_map(|entry| load(&entry.path).ok().map(|loaded| (entry, loaded)))
            .collect())
    }

    /// The session an id, a unique prefix of one, or `last` names.
    pub fn find(&self, prefix: &str) -> Result<Entry, SessionError> {
        let entries = self.entries()?;
        if prefix == "last" {
            return entries.into_iter().next().ok_or(SessionError::None);
        }
        let mut matches: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.id.starts_with(prefix))
            .collect();
        if let Some(exact) = matches.iter().position(|e| e.id == prefix) {
            return Ok(matches.swap_remove(exact));
        }
        match matches.len() {
            0 => Err(SessionError::NotFound(prefix.to_string())),
            1 => Ok(matches.remove(0)),
            _ => Err(SessionError::Ambiguous {
                prefix: prefix.to_string(),
                matches: matches
                    .iter()
                    .take(5)
                    .map(|e| e.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Removes sessions last active before `now - age`; returns how many.
    pub fn prune(&self, age: Duration, now: SystemTime) -> Result<usize, SessionError> {
        let cutoff = now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for entry in self.entries()? {
            if entry.modified < cutoff && std::fs::remove_file(&entry.path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// `30d`, `12h`, `2w`, `45m` → a duration.
pub(crate) fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: u64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number.checked_mul(seconds)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("2w"), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_age("12h"), Some(Duration::from_secs(12 * 3600)));
        for bad in ["", "d", "30", "30x", "-1d", "99999999999999999999d"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }
}
