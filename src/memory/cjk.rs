//! Chinese, Japanese and Korean in the keyword index. These languages write words without
//! spaces, and FTS5's `unicode61` tokenizer takes a run of such characters as one token:
//! a note holding `日本語のテキスト` was one token, and a search for `日本語` found nothing.
//!
//! The index keeps, beside each chunk's text, a column where every CJK character stands
//! alone (`日 本 語 の テ キ ス ト`); a query's CJK run becomes its overlapping pairs as
//! phrases (`"日 本" "本 語"`), the bigram matching search engines use for these
//! languages, with no dictionary. Chunks without CJK leave the column empty.

/// Whether `c` is written without spaces between words: Han ideographs, kana, Hangul.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{31F0}'..='\u{31FF}' // Katakana extensions
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{1100}'..='\u{11FF}' // Hangul jamo
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}' // Half-width katakana
        | '\u{20000}'..='\u{2FA1F}' // CJK extensions B–F, compatibility supplement
    )
}

/// The text for the index's CJK column: each CJK character set apart by spaces, the rest
/// as it is; empty when `text` has no CJK at all.
pub(crate) fn spaced(text: &str) -> String {
    if !text.chars().any(is_cjk) {
        return String::new();
    }
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// A query term with CJK in it as the phrases to look for: each run of CJK characters
/// becomes its overlapping pairs (a single character stays alone), each other run one
/// phrase of its own. `None` when the term has no CJK.
pub(crate) fn query_phrases(term: &str) -> Option<Vec<String>> {
    if !term.chars().any(is_cjk) {
        return None;
    }
    let mut phrases = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut other = String::new();
    let flush_run = |run: &mut Vec<char>, phrases: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => phrases.push(run[0].to_string()),
            _ => phrases.extend(
                run.windows(2)
                    .map(|pair| format!("{} {}", pair[0], pair[1])),
            ),
        }
        run.clear();
    };
    for c in term.chars() {
        if is_cjk(c) {
            if other.chars().any(char::is_alphanumeric) {
                phrases.push(std::mem::take(&mut other));
            }
            other.clear();
            run.push(c);
        } else {
            flush_run(&mut run, &mut phrases);
            other.push(c);
        }
    }
    flush_run(&mut run, &mut phrases);
    if other.chars().any(char::is_alphanumeric) {
        phrases.push(other);
    }
    Some(phrases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_is_set_apart_and_queried_in_pairs() {
        assert_eq!(spaced("plain English"), "");
        assert_eq!(spaced("東京2026"), " 東  京 2026");
        assert_eq!(query_phrases("word"), None);
        assert_eq!(query_phrases("日本語").unwrap(), ["日 本", "本 語"]);
        assert_eq!(query_phrases("猫").unwrap(), ["猫"]);
        assert_eq!(
            query_phrases("東京2026年").unwrap(),
            ["東 京", "2026", "年"]
        );
        assert_eq!(query_phrases("한국어").unwrap(), ["한 국", "국 어"]);
    }
}
