//! Cutting text to a size, always on character boundaries: model output, tool output and
//! file contents are cut everywhere in LocalGPT, and a byte index inside a multi-byte
//! character would panic and end a person's session.

/// At most `max` characters; when cut, `marker` is appended.
pub(crate) fn cut_chars(text: &str, max: usize, marker: &str) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push_str(marker);
    cut
}

/// At most `max` characters, ending in `…` when cut.
pub(crate) fn ellipsize(text: &str, max: usize) -> String {
    cut_chars(text, max, "…")
}

/// About `max_bytes`, keeping the start and the end (where errors and summaries usually
/// are) and saying how much was left out.
pub(crate) fn head_and_tail(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let half = max_bytes / 2;
    let within = |budget: usize| {
        move |used: &mut usize, c: char| {
            *used += c.len_utf8();
            (*used <= budget).then_some(c)
        }
    };
    let head: String = text.chars().scan(0usize, within(half)).collect();
    let mut tail: Vec<char> = text.chars().rev().scan(0usize, within(half)).collect();
    tail.reverse();
    let tail: String = tail.into_iter().collect();
    let omitted = text.len() - head.len() - tail.len();
    format!("{head}\n[… {omitted} bytes omitted …]\n{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(ellipsize("héllo", 2), "hé…");
        assert_eq!(ellipsize("hé", 2), "hé");
        assert_eq!(cut_chars("🙂🙂🙂", 1, " [cut]"), "🙂 [cut]");
        let text = format!("START{}END", "é".repeat(10_000));
        let cut = head_and_tail(&text, 1000);
        assert!(cut.starts_with("START") && cut.ends_with("END"));
        assert!(cut.len() < 1100 && cut.contains("bytes omitted"));
        assert_eq!(head_and_tail("short", 1000), "short");
    }
}
