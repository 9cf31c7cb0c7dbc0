//! Logging a browser in without pasting the token: `localgpt ui` asks the server (with
//! the token) for a one-time code and opens `/login?code=…`; the server trades the code,
//! once and within two minutes, for a session cookie (`HttpOnly`, `SameSite=Strict`), which
//! the page then sends instead of the token. Sessions live as long as the server does.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub(crate) const COOKIE: &str = "localgpt_session";

/// How long a code may wait to be used.
const CODE_LIFETIME: Duration = Duration::from_secs(120);

#[derive(Default)]
pub struct Logins {
    codes: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashSet<String>>,
}

impl Logins {
    /// A new one-time code.
    pub(crate) fn mint_code(&self) -> Result<String, String> {
        let code = random_hex()?;
        let mut codes = self
            .codes
            .lock()
            .map_err(|_| "the login table is unavailable".to_string())?;
        codes.retain(|_, made| made.elapsed() < CODE_LIFETIME);
        codes.insert(code.clone(), Instant::now());
        Ok(code)
    }

    /// Trades a code for a new session, once.
    pub(crate) fn redeem(&self, code: &str) -> Option<String> {
        let made = self.codes.lock().ok()?.remove(code)?;
        if made.elapsed() >= CODE_LIFETIME {
            return None;
        }
        let session = random_hex().ok()?;
        self.sessions.lock().ok()?.insert(session.clone());
        Some(session)
    }

    /// Whether the request's cookies hold a live session.
    pub(crate) fn knows(&self, cookie_header: &str) -> bool {
        let Ok(sessions) = self.sessions.lock() else {
            return false;
        };
        cookie_header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && sessions.contains(value))
    }

    /// The `Set-Cookie` value for `session`.
    pub fn cookie(session: &str) -> String {
        format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000")
    }
}

fn random_hex() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| format!("no randomness: {err}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_good_once_and_gives_a_session() {
        let logins = Logins::default();
        let code = logins.mint_code().unwrap();
        let session = logins.redeem(&code).unwrap();
        assert!(logins.redeem(&code).is_none(), "used twice");
        assert!(logins.redeem("made-up").is_none());
        assert!(logins.knows(&format!("theme=dark; {COOKIE}={session}")));
        assert!(!logins.knows(&format!("{COOKIE}=guess")));
        assert!(Logins::cookie(&session).contains("HttpOnly; SameSite=Strict"));
    }
}
