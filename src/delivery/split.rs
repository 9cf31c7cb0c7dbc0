//! An answer longer than a service's message limit, cut into messages: at a paragraph
//! break where there is one in the second half of the room, else a line break, else a
//! space, else anywhere — on a character boundary, counted as the service counts.

/// `text` in pieces of at most `limit` units each, `units` giving a character's size
/// (Telegram counts UTF-16 code units).
pub fn split(text: &str, limit: usize, units: fn(char) -> usize) -> Vec<String> {
    let limit = limit.max(2);
    let mut pieces = Vec::new();
    let mut rest = text.trim_end();
    while !rest.is_empty() {
        let mut size = 0;
        let mut end = rest.len();
        for (at, c) in rest.char_indices() {
            if size + units(c) > limit {
                end = at;
                break;
            }
            size += units(c);
        }
        if end == rest.len() {
            pieces.push(rest.to_string());
            break;
        }
        // `end` comes from `char_indices` and `cut` is `end` or where an ASCII mark starts:
        // both lie on character boundaries.
        let room = &rest[..end];
        let half = room.len() / 2;
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|mark| room.rfind(mark).filter(|&at| at >= half && at > 0))
            .unwrap_or(end);
        let piece = rest[..cut].trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_string());
        }
        rest = rest[cut..].trim_start_matches(['\n', ' ']);
    }
    pieces
}

/// A character's size in UTF-16 code units, as Telegram counts a message's length.
pub fn utf16(c: char) -> usize {
    c.len_utf16()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_the_limit_break_at_paragraphs_and_lose_nothing() {
        let paragraph = "word ".repeat(300);
        let text = format!("{paragraph}\n\n{paragraph}\n\n{}", "😀".repeat(3000));
        let pieces = split(&text, 4096, utf16);
        assert!(pieces.iter().all(|p| p.encode_utf16().count() <= 4096));
        assert!(pieces[0].ends_with("word"), "cut at the paragraph");
        let joined: String = pieces.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
        // Emoji are two UTF-16 units: 3000 of them take two messages.
        assert_eq!(pieces.iter().filter(|p| p.starts_with('😀')).count(), 2);
        assert_eq!(split("short", 4096, utf16), ["short"]);
        assert!(split("", 4096, utf16).is_empty());
        let unbroken = "x".repeat(10_000);
        assert_eq!(split(&unbroken, 4096, utf16).concat(), unbroken);
    }
}
