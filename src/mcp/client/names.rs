//! The names MCP tools have for the model: `SERVER__TOOL`, made to fit every provider's
//! rules for tool names (OpenAI and Anthropic: letters, digits, `_` and `-`, at most 64).
//! A name that does not fit is cleaned and, if that made it longer than the limit or the
//! same as another, shortened with a hash of the original so it stays unique and stable.

use std::collections::HashSet;

/// The longest tool name every provider accepts.
pub(crate) const MAX_LEN: usize = 64;

const SEPARATOR: &str = "__";

/// The model's name for `tool` of `server`, unique among `taken` (which it joins).
pub(crate) fn qualified(server: &str, tool: &str, taken: &mut HashSet<String>) -> String {
    let plain = format!("{server}{SEPARATOR}{tool}");
    let cleaned: String = plain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if cleaned.len() <= MAX_LEN && !taken.contains(&cleaned) {
        cleaned
    } else {
        // The cleaned name is ASCII, so cutting by bytes cuts on characters.
        let hash = format!("{:08x}", fnv1a(&plain));
        let keep = MAX_LEN - hash.len() - 1;
        let head: String = cleaned.chars().take(keep).collect();
        format!("{head}_{hash}")
    };
    taken.insert(name.clone());
    name
}

/// A small, stable hash (the name must be the same in every run for the model's
/// "always" approvals and the transcripts to keep meaning the same tool).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_every_provider_and_stay_unique() {
        let mut taken = HashSet::new();
        assert_eq!(qualified("git", "status", &mut taken), "git__status");
        assert_eq!(qualified("fs", "read.file", &mut taken), "fs__read_file");
        let twin = qualified("fs", "read_file", &mut taken);
        assert_ne!(twin, "fs__read_file");
        assert!(twin.starts_with("fs__read_file_"));
        let long = qualified("server", &"x".repeat(100), &mut taken);
        assert_eq!(long.len(), MAX_LEN);
        let unicode = qualified("docs", "поиск", &mut taken);
        assert!(
            unicode
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        // Stable: the same tool gets the same name in a new run.
        assert_eq!(
            qualified("server", &"x".repeat(100), &mut HashSet::new()),
            long
        );
    }
}
