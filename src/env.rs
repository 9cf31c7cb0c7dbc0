//! The process environment as an injectable source, so that configuration overrides and
//! home-folder resolution can be tested without mutating the real environment (which is
//! process-global and racy under a multi-threaded test runner).

use std::collections::HashMap;

/// Where environment variables come from.
pub trait EnvSource {
    /// The variable's value, or `None` when it is unset, empty or not valid UTF-8.
    ///
    /// An empty variable counts as unset: `OPENAI_API_KEY= localgpt …` is how people
    /// switch a variable off for one command, and an empty key is never useful.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|value| !value.is_empty()).cloned()
    }
}

/// A fixed list of variables, for tests: `&[("OPENAI_API_KEY", "sk-…")]`.
impl EnvSource for &[(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| (*value).to_string())
    }
}

impl<const N: usize> EnvSource for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        (&self[..]).var(name)
    }
}

/// True when stdin is a pipe or a file, not a terminal or /dev/null: only then is there
/// something to read, and reading never waits for a person.
pub(crate) fn stdin_is_data() -> bool {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata("/dev/stdin")
            .map(|meta| meta.file_type().is_fifo() || meta.file_type().is_file())
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        true
    }
}
