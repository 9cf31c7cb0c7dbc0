//! Turning anything a person (or a model) types into a safe FTS5 query.
//!
//! FTS5 has its own query language (`AND`, `NEAR(…)`, `col:`, `^`, `*`, quotes) in which
//! most punctuation is a syntax error. Here every term becomes a quoted FTS5 string, so no
//! input can produce a syntax error or reach a column filter, and two things are kept on
//! purpose: `"quoted phrases"` and a trailing `*` for prefix search (`deplo*`).
//!
//! Common English words ("what", "the", "did") are left out of a query that has other
//! words, as search engines do: they match nearly every chunk, so they add nothing to the
//! ranking and make questions written in full sentences slow and noisy.

/// At most this many terms are used; the rest of a pasted essay is ignored.
const MAX_TERMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FtsQuery {
    /// Every term must match.
    pub all: String,
    /// Any term may match, for when `all` finds nothing (natural-language questions).
    /// `None` when there is only one term.
    pub any: Option<String>,
}

/// Words too common to help a search, unless the query has nothing else.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
    "he", "her", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no",
    "not", "of", "on", "or", "our", "she", "so", "some", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "up", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    text: String,
    prefix: bool,
    /// Came from a "quoted phrase": kept as written, stop words and all.
    quoted: bool,
}

impl Term {
    fn is_stop_word(&self) -> bool {
        !self.quoted
            && !self.prefix
            && STOP_WORDS.contains(
                // "what's" and "I'm" are their first word.
                &self
                    .text
                    .to_lowercase()
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .split(['\'', '’'])
                    .next()
                    .unwrap_or_default(),
            )
    }
}

impl Term {
    fn to_fts_string(&self) -> String {
        // Chinese, Japanese, Korean: the pairs of characters, all of them (see cjk.rs).
        if let Some(phrases) = super::cjk::query_phrases(&self.text) {
            let quoted: Vec<String> = phrases
                .iter()
                .map(|phrase| format!("\"{}\"", phrase.replace('"', "\"\"")))
                .collect();
            return format!("({})", quoted.join(" AND "));
        }
        let quoted = format!("\"{}\"", self.text.replace('"', "\"\""));
        if self.prefix {
            format!("{quoted}*")
        } else {
            quoted
        }
    }
}

/// The FTS5 expressions for `input`, or `None` when it holds nothing searchable (only
/// punctuation, emoji or spaces).
pub(crate) fn to_fts(input: &str) -> Option<FtsQuery> {
    let mut terms = terms(input);
    if terms.iter().any(|term| !term.is_stop_word()) {
        terms.retain(|term| !term.is_stop_word());
    }
    if terms.is_empty() {
        return None;
    }
    let parts: Vec<String> = terms.iter().map(Term::to_fts_string).collect();
    Some(FtsQuery {
        all: parts.join(" "),
        any: (parts.len() > 1).then(|| parts.join(" OR ")),
    })
}

/// The words of `input` that carry its meaning: lowercased, without common words and
/// without contractions' endings ("what's" is "what", "sister's" is "sister").
pub(crate) fn content_words(input: &str) -> Vec<String> {
    let mut words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .filter_map(|word| {
            let base = word.split(['\'', '’']).next()?.to_lowercase();
            (!base.is_empty() && !STOP_WORDS.contains(&base.as_str())).then_some(base)
        })
        .collect();
    words.dedup();
    words
}

fn terms(input: &str) -> Vec<Term> {
    // SQLite reads the query as a C string: a NUL would cut it inside a quoted term.
    let cleaned: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut terms = Vec::new();
    let mut rest = cleaned.as_str();
    while !rest.is_empty() && terms.len() < MAX_TERMS {
        rest = rest.trim_start();
        if let Some(after_quote) = rest.strip_prefix('"')
            && let Some(end) = after_quote.find('"')
        {
            let (phrase, tail) = after_quote.split_at(end);
            push_term(&mut terms, phrase, false, true);
            rest = tail.strip_prefix('"').unwrap_or(tail);
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        let prefix = word.ends_with('*');
        push_term(
            &mut terms,
            word.trim_matches(|c| c == '*' || c == '"'),
            prefix,
            false,
        );
        rest = tail;
    }
    terms
}

fn push_term(terms: &mut Vec<Term>, text: &str, prefix: bool, quoted: bool) {
    // The tokenizer drops everything that is not a letter or digit; a term made only of
    // such characters would become an empty phrase.
    if !text.chars().any(char::is_alphanumeric) {
        return;
    }
    terms.push(Term {
        text: text.to_string(),
        prefix,
        quoted,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str) -> Option<String> {
        to_fts(input).map(|q| q.all)
    }

    #[test]
    fn words_are_quoted_and_joined() {
        let query = to_fts("deploy friday").unwrap();
        assert_eq!(query.all, "\"deploy\" \"friday\"");
        assert_eq!(query.any.as_deref(), Some("\"deploy\" OR \"friday\""));
        assert_eq!(to_fts("one").unwrap().any, None);
    }

    #[test]
    fn phrases_and_prefixes_are_kept() {
        assert_eq!(
            all("\"release plan\" deplo*").unwrap(),
            "\"release plan\" \"deplo\"*"
        );
    }

    #[test]
    fn common_words_are_dropped_unless_nothing_else_is_left() {
        assert_eq!(
            all("What did we decide about the database backup?").unwrap(),
            "\"decide\" \"database\" \"backup?\""
        );
        assert_eq!(all("the").unwrap(), "\"the\"");
        assert_eq!(all("the cat").unwrap(), "\"cat\"");
        assert_eq!(all("to be or not to be").unwrap().matches('"').count(), 12);
        assert_eq!(all("\"the who\" live").unwrap(), "\"the who\" \"live\"");
    }

    #[test]
    fn operators_and_syntax_become_plain_words() {
        assert_eq!(all("x NEAR y").unwrap(), "\"x\" \"NEAR\" \"y\"");
        assert_eq!(all("x AND y").unwrap(), "\"x\" \"y\"");
        assert_eq!(all("heading:foo").unwrap(), "\"heading:foo\"");
        assert_eq!(all("say \"hi").unwrap(), "\"say\" \"hi\"");
        assert_eq!(all("it's").unwrap(), "\"it's\"");
        assert_eq!(
            all("What's Ana's address?").unwrap(),
            "\"Ana's\" \"address?\""
        );
        assert_eq!(all("a\"b").unwrap(), "\"a\"\"b\"");
    }

    #[test]
    fn nothing_searchable_gives_none() {
        for input in ["", "   ", "*", "\"\"", "🙂🚀", "-- ++ ::", "\"   \""] {
            assert_eq!(to_fts(input), None, "{input:?}");
        }
    }

    #[test]
    fn control_characters_separate_words() {
        assert_eq!(all("c\0d").unwrap(), "\"c\" \"d\"");
        assert_eq!(all("\u{7}").as_deref(), None);
    }

    #[test]
    fn very_long_input_is_bounded() {
        let input = "word ".repeat(1000);
        let query = to_fts(&input).unwrap();
        assert_eq!(query.all.matches("\"word\"").count(), MAX_TERMS);
    }
}
