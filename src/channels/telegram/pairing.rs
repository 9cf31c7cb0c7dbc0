//! Pairing: `localgpt channels pair telegram` writes a one-time code
//! (`channels/telegram.pair`, readable by its owner alone, valid ten minutes); the first
//! person not yet allowed who sends it to the bot is added to `channels.telegram.allow`
//! and answered from then on. The code is used once, compared in constant time, and each
//! stranger gets five tries.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a code may wait to be sent.
pub const VALID_FOR: Duration = Duration::from_secs(600);
/// Wrong codes a stranger may send before the bot stops reading theirs.
pub const TRIES: u32 = 5;
const FILE: &str = "telegram.pair";

#[derive(Serialize, Deserialize)]
struct Pairing {
    code: String,
    /// Seconds since the Unix epoch.
    expires: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A new code for `dir`'s bot, replacing any earlier one.
pub fn new_code(dir: &Path) -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let number = u64::from_le_bytes(bytes) % 100_000_000;
    let code = format!("{:04}-{:04}", number / 10_000, number % 10_000);
    let pairing = Pairing {
        code: code.clone(),
        expires: now() + VALID_FOR.as_secs(),
    };
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string(&pairing).map_err(std::io::Error::other)?;
    crate::home::write_atomic_with_mode(&dir.join(FILE), text.as_bytes(), Some(0o600))?;
    Ok(code)
}

/// Whether `text` is `dir`'s open code; a match uses the code up.
pub fn take(dir: &Path, text: &str) -> bool {
    let path = dir.join(FILE);
    let Ok(stored) = std::fs::read_to_string(&path) else {
        return false;
    };
    let Ok(pairing) = serde_json::from_str::<Pairing>(&stored) else {
        return false;
    };
    if pairing.expires < now() {
        let _ = std::fs::remove_file(&path);
        return false;
    }
    let offered = text.trim();
    let matches: bool = offered.as_bytes().ct_eq(pairing.code.as_bytes()).into();
    matches && std::fs::remove_file(&path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_taken_once_and_not_after_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take(dir.path(), "1234-5678"));
        let code = new_code(dir.path()).unwrap();
        assert_eq!(code.len(), 9);
        assert!(!take(dir.path(), "0000-000"));
        assert!(take(dir.path(), &format!(" {code}\n")));
        assert!(!take(dir.path(), &code), "used once");
        let old = Pairing {
            code: "1111-2222".into(),
            expires: now() - 1,
        };
        std::fs::write(dir.path().join(FILE), serde_json::to_string(&old).unwrap()).unwrap();
        assert!(!take(dir.path(), "1111-2222"));
    }
}
