//! A string that must never be printed whole: API keys.
//!
//! `Debug`, `Display` and `Serialize` all show a masked form, so a key cannot reach a log
//! line, `config show` or an error message by accident. Code that needs the real value
//! (an HTTP header) asks for it by name with [`Secret::expose`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// ```
/// use localgpt::config::Secret;
///
/// let key = Secret::new("sk-proj-0123456789abcdef");
/// assert_eq!(format!("{key} {key:?}"), "****cdef Secret(****cdef)");
/// assert_eq!(key.expose(), "sk-proj-0123456789abcdef");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Shows enough to tell two keys apart (the last four characters of a long key) and
    /// nothing that would help anyone use it.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() >= 16 {
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("****{tail}")
        } else {
            "****".to_string()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_key() {
        let key = Secret::new("sk-proj-abcdefghijklmnop1234");
        assert_eq!(key.to_string(), "****1234");
        assert_eq!(format!("{key:?}"), "Secret(****1234)");
        assert_eq!(Secret::new("short").to_string(), "****");
        assert_eq!(Secret::new("ключ-ключ-ключ-ключ").masked(), "****ключ");
    }
}
