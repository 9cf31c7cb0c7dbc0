//! BERT's tokenization (normalise, split on spaces and punctuation, longest word pieces
//! first), for a tokenizer.json of the usual BERT shape, over a vocabulary read in place.
//!
//! Why not the `tokenizers` crate for these files: building its WordPiece model puts
//! each of the 30,000 pieces in two hash maps as owned strings, and dropping them frees
//! them one by one; for a `memory search` that embeds one question, loading the tokenizer
//! took longer than the whole rest of the search. Here the pieces stay in one buffer,
//! indexed by one table of ids. Every step follows `tokenizers`' BertNormalizer,
//! BertPreTokenizer, WordPiece and BertProcessing, with the same Unicode tables, and a
//! test holds the two to the same ids on varied text; a file of any other shape goes
//! to the `tokenizers` crate.

use std::borrow::Cow;

use hashbrown::HashTable;
use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// How tokenizer.json's BertNormalizer is set.
#[derive(Debug, Clone, Copy)]
pub(super) struct Normalizer {
    pub clean_text: bool,
    pub handle_chinese_chars: bool,
    pub strip_accents: bool,
    pub lowercase: bool,
}

/// The word pieces, one after another in `text`, found by `table` (ids, hashed by
/// piece).
pub(super) struct Vocabulary {
    text: String,
    /// Each id's piece: its start and end in `text`.
    spans: Vec<(u32, u32)>,
    table: HashTable<u32>,
    hasher: ahash::RandomState,
}

impl Vocabulary {
    pub(super) fn with_capacity(pieces: usize) -> Vocabulary {
        Vocabulary {
            text: String::with_capacity(pieces * 8),
            spans: Vec::with_capacity(pieces),
            table: HashTable::with_capacity(pieces),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }

    /// Adds `piece` with `id`; false when the id or the piece is there already, the id
    /// is beyond any real vocabulary's (a damaged file must not make us allocate for
    /// four billion ids), or the pieces outgrow their 32-bit offsets.
    pub(super) fn insert(&mut self, piece: &str, id: u32) -> bool {
        if self.get(piece).is_some()
            || id >= MAX_ID
            || self.text.len() + piece.len() > u32::MAX as usize
        {
            return false;
        }
        let index = id as usize;
        if index >= self.spans.len() {
            self.spans.resize(index + 1, (u32::MAX, u32::MAX));
        } else if self.spans[index].0 != u32::MAX {
            return false;
        }
        let start = self.text.len() as u32;
        self.text.push_str(piece);
        self.spans[index] = (start, self.text.len() as u32);
        let hash = self.hasher.hash_one(piece);
        let (text, spans, hasher) = (&self.text, &self.spans, &self.hasher);
        self.table.insert_unique(hash, id, |&id| {
            hasher.hash_one(piece_of(text, spans, id).unwrap_or_default())
        });
        true
    }

    pub(super) fn get(&self, piece: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(piece);
        self.table
            .find(hash, |&id| {
                piece_of(&self.text, &self.spans, id) == Some(piece)
            })
            .copied()
    }
}

/// Ids from here on are refused: the largest vocabularies have a few hundred thousand.
const MAX_ID: u32 = 1 << 24;

fn piece_of<'v>(text: &'v str, spans: &[(u32, u32)], id: u32) -> Option<&'v str> {
    let (start, end) = *spans.get(id as usize)?;
    text.get(start as usize..end as usize)
}

/// A BERT tokenizer: special tokens matched in the raw text, then for the rest
/// BertNormalizer, BertPreTokenizer and WordPiece; `[CLS] … [SEP]` around it.
pub(super) struct BertTokenizer {
    pub(super) normalizer: Normalizer,
    pub(super) vocabulary: Vocabulary,
    pub(super) unknown: u32,
    pub(super) continuing_prefix: String,
    pub(super) max_word_chars: usize,
    /// Special tokens typed in the text become their own ids, longest first.
    pub(super) specials: Vec<(String, u32)>,
    pub(super) cls: u32,
    pub(super) sep: u32,
}

impl BertTokenizer {
    /// The ids of `text` within `max_tokens` (the two special tokens included), as
    /// `tokenizers` gives them with truncation to that length.
    pub(super) fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let mut ids = Vec::new();
        for (segment, special) in self.split_specials(text) {
            match special {
                Some(id) => ids.push(id),
                None => {
                    let normalized = self.normalize(segment);
                    for word in pre_tokenize(&normalized) {
                        self.word_pieces(word, &mut ids);
                    }
                }
            }
        }
        ids.truncate(max_tokens.saturating_sub(2));
        let mut sequence = Vec::with_capacity(ids.len() + 2);
        sequence.push(self.cls);
        sequence.extend(ids);
        sequence.push(self.sep);
        sequence
    }

    /// The text cut around the special tokens typed in it (leftmost, then longest).
    fn split_specials<'t>(&self, text: &'t str) -> Vec<(&'t str, Option<u32>)> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut plain_from = 0;
        let mut at = 0;
        while at < rest.len() {
            let found = self
                .specials
                .iter()
                .find(|(content, _)| rest[at..].starts_with(content.as_str()));
            match found {
                Some((content, id)) => {
                    if plain_from < at {
                        parts.push((&rest[plain_from..at], None));
                    }
                    parts.push((&rest[at..at + content.len()], Some(*id)));
                    rest = &rest[at + content.len()..];
                    at = 0;
                    plain_from = 0;
                }
                None => {
                    at += rest[at..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
        if plain_from < rest.len() {
            parts.push((&rest[plain_from..], None));
        }
        parts
    }

    fn normalize(&self, text: &str) -> String {
        let options = self.normalizer;
        let mut out = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if options.clean_text {
                if c == '\0' || c == '\u{fffd}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    out.push(' ');
                    continue;
                }
            }
            if options.handle_chinese_chars && is_chinese_char(c) {
                out.push(' ');
                out.push(c);
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        let out: Cow<'_, str> = if options.strip_accents {
            Cow::Owned(out.nfd().filter(|c| !c.is_mark_nonspacing()).collect())
        } else {
            Cow::Owned(out)
        };
        if options.lowercase {
            out.chars().flat_map(char::to_lowercase).collect()
        } else {
            out.into_owned()
        }
    }

    /// Greedy longest-match-first word pieces of `word`, or the unknown token for the
    /// whole word when some part of it has no piece.
    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > self.max_word_chars {
            ids.push(self.unknown);
            return;
        }
        let before = ids.len();
        let mut start = 0;
        let mut candidate = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                candidate.clear();
                if start > 0 {
                    candidate.push_str(&self.continuing_prefix);
                }
                candidate.push_str(&word[start..end]);
                if let Some(id) = self.vocabulary.get(&candidate) {
                    found = Some(id);
                    break;
                }
                end -= word[start..end].chars().last().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(before);
                    ids.push(self.unknown);
                    return;
                }
            }
        }
    }
}

/// BertPreTokenizer: split on whitespace (dropped) and punctuation (kept, alone).
fn pre_tokenize(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for chunk in text.split(char::is_whitespace).filter(|s| !s.is_empty()) {
        let mut from = 0;
        for (at, c) in chunk.char_indices() {
            if c.is_ascii_punctuation() || c.is_punctuation() {
                if from < at {
                    words.push(&chunk[from..at]);
                }
                words.push(&chunk[at..at + c.len_utf8()]);
                from = at + c.len_utf8();
            }
        }
        if from < chunk.len() {
            words.push(&chunk[from..]);
        }
    }
    words
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_finds_each_piece_by_its_text() {
        let mut vocabulary = Vocabulary::with_capacity(2);
        assert!(vocabulary.insert("play", 7));
        assert!(vocabulary.insert("##ing", 3));
        assert!(!vocabulary.insert("play", 9), "a piece is there once");
        assert!(!vocabulary.insert("other", 3), "an id is there once");
        assert!(
            !vocabulary.insert("far", u32::MAX),
            "no room is made for a wild id"
        );
        assert_eq!(vocabulary.get("play"), Some(7));
        assert_eq!(vocabulary.get("##ing"), Some(3));
        assert_eq!(vocabulary.get("pla"), None);
    }

    #[test]
    fn punctuation_stands_alone_and_spaces_go() {
        assert_eq!(
            pre_tokenize("hey  friend!? e-mail"),
            ["hey", "friend", "!", "?", "e", "-", "mail"]
        );
    }
}
