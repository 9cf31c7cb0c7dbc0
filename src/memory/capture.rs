//! Capture: every conversation leaves a trace. What the person says about themselves and
//! their world goes to today's daily log as they say it — with any model, the built-in
//! one included, which has no tools to save anything — and "Remember …" goes to MEMORY.md
//! word for word. Each entry names its time and session; a line already there is not
//! written again.
//!
//! Condensing is deliberately plain: the person's own sentences that state something
//! (not questions, not requests) and speak of them or theirs ("I", "my", "we", …). A
//! model-written summary can be layered on top; this floor needs no model.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Local};

use crate::config::schema::CaptureMode;
use crate::home::Home;

/// A captured sentence is cut to this many characters.
const MAX_SENTENCE_CHARS: usize = 400;

/// What a message left in memory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The text filed in MEMORY.md for a "Remember …", when it was new.
    pub remembered: Option<String>,
    /// The daily log the statements went to, and how many were new.
    pub logged: Option<(PathBuf, usize)>,
}

/// The fact in a request to remember something ("Remember that my sister lives in
/// Porto", "please remember: …", "don't forget …"), as the person wrote it.
pub(crate) fn remember_request(message: &str) -> Option<&str> {
    let trimmed = message.trim();
    if trimmed.ends_with('?') {
        return None;
    }
    let lower = trimmed.to_lowercase();
    const OPENINGS: [&str; 10] = [
        "please remember that ",
        "please remember: ",
        "please remember ",
        "remember that ",
        "remember: ",
        "remember ",
        "don't forget that ",
        "do not forget that ",
        "don't forget: ",
        "don't forget ",
    ];
    let opening = OPENINGS
        .iter()
        .find(|opening| lower.starts_with(*opening))?;
    // The openings are ASCII, so their length in the lowered text is their length here.
    let rest = trimmed.get(opening.len()..)?.trim();
    let rest = rest.trim_end_matches(['.', '!']).trim();
    (rest.split_whitespace().count() >= 2).then_some(rest)
}

/// Words that open a question or a request rather than a statement.
const NOT_STATEMENTS: [&str; 40] = [
    "what",
    "where",
    "when",
    "who",
    "whom",
    "whose",
    "why",
    "how",
    "which",
    "can",
    "could",
    "would",
    "will",
    "should",
    "shall",
    "may",
    "might",
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "tell",
    "show",
    "explain",
    "write",
    "give",
    "list",
    "summarize",
    "summarise",
    "translate",
    "find",
    "search",
    "help",
    "please",
    "make",
    "let's",
    "hi",
];

/// Words that make a sentence about the person or their world.
const PERSONAL: [&str; 14] = [
    "i", "i'm", "i've", "i'd", "i'll", "my", "me", "mine", "we", "we're", "we've", "our", "us",
    "ours",
];

/// The sentences of `message` that state something about the person or their world.
pub(crate) fn statements(message: &str) -> Vec<String> {
    let mut found = Vec::new();
    for sentence in sentences(message) {
        let words: Vec<String> = sentence
            .split_whitespace()
            .map(|word| {
                word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                    .to_lowercase()
                    .replace('’', "'")
            })
            .collect();
        let Some(first) = words.first() else {
            continue;
        };
        if sentence.ends_with('?')
            || words.len() < 4
            || NOT_STATEMENTS.contains(&first.as_str())
            || !words.iter().any(|word| PERSONAL.contains(&word.as_str()))
        {
            continue;
        }
        found.push(crate::truncate::ellipsize(&sentence, MAX_SENTENCE_CHARS));
    }
    found
}

/// `message` cut into sentences: at `.`, `!`, `?` followed by a space, and at line ends.
fn sentences(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in message.lines() {
        let mut current = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            current.push(c);
            let at_end = matches!(c, '.' | '!' | '?')
                && chars.peek().is_none_or(|next| next.is_whitespace());
            if at_end {
                push_sentence(&mut out, &mut current);
            }
        }
        push_sentence(&mut out, &mut current);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, current: &mut String) {
    let sentence = current.trim().trim_start_matches(['-', '*', '>']).trim();
    if !sentence.is_empty() {
        out.push(sentence.to_string());
    }
    current.clear();
}

/// Files what `message` (the person's, in session `session`) leaves in memory under
/// `mode`: a "Remember …" in MEMORY.md, word for word and dated; the statements (or, for
/// `Transcript`, the whole message) in today's daily log.
pub fn capture(
    home: &Home,
    now: DateTime<Local>,
    session: &str,
    message: &str,
    mode: CaptureMode,
) -> io::Result<Captured> {
    let mut captured = Captured::default();
    if let Some(fact) = remember_request(message) {
        let line = format!("- {fact} ({})", now.format("%Y-%m-%d"));
        if super::journal::append_to_memory_once(home, "Notes", &line, fact)? {
            captured.remembered = Some(fact.to_string());
        }
        return Ok(captured);
    }
    let lines: Vec<String> = match mode {
        CaptureMode::Off => Vec::new(),
        CaptureMode::Summary => statements(message),
        CaptureMode::Transcript => {
            let text = message.trim();
            if text.is_empty() {
                Vec::new()
            } else {
                vec![text.to_string()]
            }
        }
    };
    if lines.is_empty() {
        return Ok(captured);
    }
    let short: String = session.chars().take(8).collect();
    let (path, new) =
        super::journal::append_daily_once(home, now, &format!("session {short}"), &lines)?;
    if new > 0 {
        captured.logged = Some((path, new));
    }
    Ok(captured)
}

/// Files a conversation's summary `lines` in today's daily log under `label` (its
/// session), each line once.
pub(crate) fn append_trace(
    home: &Home,
    now: DateTime<Local>,
    label: &str,
    lines: &[String],
) -> io::Result<(PathBuf, usize)> {
    super::journal::append_daily_once(home, now, label, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_to_remember_are_found_in_their_usual_wordings() {
        for (message, fact) in [
            (
                "Remember that my sister Ana lives in Porto",
                "my sister Ana lives in Porto",
            ),
            (
                "please remember: the wifi password is on the fridge.",
                "the wifi password is on the fridge",
            ),
            (
                "Don't forget that the dentist is on Friday!",
                "the dentist is on Friday",
            ),
            ("remember I take my coffee black", "I take my coffee black"),
        ] {
            assert_eq!(remember_request(message), Some(fact), "{message}");
        }
        for not in [
            "Remember when we went to Lisbon?",
            "Do you remember my sister?",
            "remember",
            "What did I ask you to remember",
        ] {
            assert_eq!(remember_request(not), None, "{not}");
        }
    }

    #[test]
    fn statements_about_the_person_are_kept_and_questions_and_requests_are_not() {
        let message = "My sister Ana moved to Porto last year. What is the weather there? \
                       Write me a poem about it. We are visiting her in March!\nThanks";
        assert_eq!(
            statements(message),
            [
                "My sister Ana moved to Porto last year.",
                "We are visiting her in March!"
            ]
        );
        assert!(statements("The capital of France is Paris.").is_empty());
        assert!(statements("Can you remind me what my sister's name is").is_empty());
    }
}
