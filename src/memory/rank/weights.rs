//! The question's words and what each weighs: rarer words more, a word no note has most,
//! neighbouring words again when a note has them side by side.

use std::collections::HashSet;

use rusqlite::Connection;
use rust_stemmers::{Algorithm, Stemmer};

use super::Mode;
use crate::memory::query;

/// Words that ask for the current state of things ("where does Ana live now?"): they
/// name no subject; the newer-first rule already answers them.
const LATEST: [&str; 9] = [
    "now",
    "currently",
    "nowadays",
    "usually",
    "still",
    "anymore",
    "lately",
    "latest",
    "current",
];

/// How much two neighbouring question words count again when a note has them side by
/// side, as a share of the rarer one's weight.
const PAIR_WEIGHT: f64 = 0.5;

/// The question's content words, each weighed by its rarity in memory.
pub(super) struct Weights {
    words: Vec<(String, f64)>,
    /// Words typed with a trailing `*` (`deplo*`): they match any word they begin.
    prefixes: HashSet<String>,
    /// Neighbouring words of the question ("Lisbon trip"), which count again when a note
    /// has them side by side too: "booked the Lisbon trip" over "trip to IKEA in Lisbon".
    pairs: Vec<(usize, usize, f64)>,
    stemmer: Stemmer,
}

impl Weights {
    pub(super) fn of(conn: &Connection, text: &str, mode: Mode) -> rusqlite::Result<Weights> {
        let prefixes: HashSet<String> = text
            .split_whitespace()
            .filter(|word| word.ends_with('*'))
            .map(|word| {
                word.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|word| !word.is_empty())
            .collect();
        let stemmer = Stemmer::create(Algorithm::English);
        let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks", [], |row| row.get(0))?;
        let chunks = chunks.max(1) as f64;
        let mut count =
            conn.prepare_cached("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1")?;
        let mut words = Vec::new();
        // A word no note holds weighs as much as a word one note holds: the question may
        // be about something memory does not know. By keywords alone, half that: only
        // the words memory knows can find a note said in other words.
        let rarest = ((chunks + 1.0) / 1.5).ln() * if mode == Mode::Keyword { 0.5 } else { 1.0 };
        for word in query::content_words(text) {
            if LATEST.contains(&word.as_str()) {
                continue;
            }
            let prefix = prefixes.contains(&word);
            let Some(fts) = query::to_fts(&if prefix {
                format!("{word}*")
            } else {
                word.clone()
            }) else {
                continue;
            };
            let holding: i64 = count.query_row([&fts.all], |row| row.get(0))?;
            let idf = if holding > 0 {
                ((chunks + 1.0) / (holding as f64 + 0.5)).ln()
            } else {
                rarest
            };
            let stem = if prefix || word.chars().any(crate::memory::cjk::is_cjk) {
                word.clone()
            } else {
                stemmer.stem(base_form(&word)).into_owned()
            };
            words.push((stem, idf.max(0.1)));
        }
        words.dedup_by(|a, b| a.0 == b.0);
        let pairs = (1..words.len())
            .map(|second| {
                (
                    second - 1,
                    second,
                    PAIR_WEIGHT * words[second - 1].1.min(words[second].1),
                )
            })
            .collect();
        Ok(Weights {
            words,
            prefixes,
            pairs,
            stemmer,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The stems of `text`'s words, in order.
    fn stems(&self, text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let lowered = word.to_lowercase();
                self.stemmer.stem(base_form(&lowered)).into_owned()
            })
            .collect()
    }

    /// Which of the question's words `text` holds.
    pub(super) fn held(&self, text: &str) -> Vec<bool> {
        self.held_in(&self.stems(text), text)
    }

    fn held_in(&self, stems: &[String], text: &str) -> Vec<bool> {
        let lowered = text.to_lowercase();
        self.words
            .iter()
            .map(|(word, _)| {
                stems.contains(word)
                    || (word.chars().any(crate::memory::cjk::is_cjk)
                        && lowered.contains(word.as_str()))
                    || (self.prefixes.contains(word)
                        && lowered
                            .split(|c: char| !c.is_alphanumeric())
                            .any(|candidate| candidate.starts_with(word.as_str())))
            })
            .collect()
    }

    /// The weighed share of the question's words `text` holds, 0-1.
    pub(super) fn coverage(&self, text: &str) -> f64 {
        let total: f64 = self.words.iter().map(|(_, weight)| weight).sum::<f64>()
            + self.pairs.iter().map(|(_, _, weight)| weight).sum::<f64>();
        if total <= 0.0 {
            return 0.0;
        }
        let stems = self.stems(text);
        let held = self.held_in(&stems, text);
        let words: f64 = self
            .words
            .iter()
            .zip(&held)
            .filter(|(_, held)| **held)
            .map(|((_, weight), _)| weight)
            .sum();
        let pairs: f64 = self
            .pairs
            .iter()
            .filter(|(first, second, _)| {
                held[*first]
                    && held[*second]
                    && stems.windows(2).any(|window| {
                        window[0] == self.words[*first].0 && window[1] == self.words[*second].0
                    })
            })
            .map(|(_, _, weight)| weight)
            .sum();
        (words + pairs) / total
    }

    /// Two notes speak of the same subject when they share a question word that weighs
    /// at least half as much as the rarest one either holds ("Pebble eats …" and "the vet
    /// put Pebble on …" for "what does Pebble eat?").
    pub(super) fn same_subject(&self, first: &[bool], second: &[bool]) -> bool {
        let heaviest = self
            .words
            .iter()
            .zip(first.iter().zip(second))
            .filter(|(_, (a, b))| **a || **b)
            .map(|((_, weight), _)| *weight)
            .fold(0.0, f64::max);
        self.words
            .iter()
            .zip(first.iter().zip(second))
            .any(|((_, weight), (a, b))| *a && *b && *weight >= heaviest / 2.0)
    }
}

/// English verbs whose past forms no stemmer brings back to their base ("ran" is not
/// "run" to Snowball): notes are written in the past, questions often in the present
/// ("which races did I run?" for "ran the Matosinhos 10K").
const IRREGULAR: [(&str, &str); 48] = [
    ("ran", "run"),
    ("went", "go"),
    ("gone", "go"),
    ("ate", "eat"),
    ("eaten", "eat"),
    ("bought", "buy"),
    ("met", "meet"),
    ("saw", "see"),
    ("seen", "see"),
    ("took", "take"),
    ("taken", "take"),
    ("gave", "give"),
    ("given", "give"),
    ("got", "get"),
    ("gotten", "get"),
    ("felt", "feel"),
    ("made", "make"),
    ("wrote", "write"),
    ("written", "write"),
    ("thought", "think"),
    ("told", "tell"),
    ("found", "find"),
    ("paid", "pay"),
    ("sent", "send"),
    ("spent", "spend"),
    ("won", "win"),
    ("lost", "lose"),
    ("sold", "sell"),
    ("swam", "swim"),
    ("drove", "drive"),
    ("driven", "drive"),
    ("flew", "fly"),
    ("flown", "fly"),
    ("rode", "ride"),
    ("brought", "bring"),
    ("caught", "catch"),
    ("taught", "teach"),
    ("began", "begin"),
    ("begun", "begin"),
    ("drank", "drink"),
    ("drunk", "drink"),
    ("sang", "sing"),
    ("slept", "sleep"),
    ("kept", "keep"),
    ("lent", "lend"),
    ("built", "build"),
    ("chose", "choose"),
    ("broke", "break"),
];

/// The base of an irregular past form, else the word itself.
fn base_form(word: &str) -> &str {
    IRREGULAR
        .iter()
        .find(|(past, _)| *past == word)
        .map_or(word, |(_, base)| base)
}

/// How rare words are in memory (inverse document frequency over the chunks), each
/// word counted once per search.
pub(super) struct Rarity {
    chunks: f64,
    known: std::collections::HashMap<String, f64>,
}

impl Rarity {
    pub(super) fn new(conn: &Connection) -> rusqlite::Result<Rarity> {
        let chunks: i64 = conn.query_row("SELECT count(*) FROM chunks", [], |row| row.get(0))?;
        Ok(Rarity {
            chunks: chunks.max(1) as f64,
            known: Default::default(),
        })
    }

    /// The rarity of a word no note holds (and of one only one note holds, nearly).
    pub(super) fn rarest(&self) -> f64 {
        ((self.chunks + 1.0) / 1.5).ln()
    }

    /// `ln((chunks + 1) / (holding + 0.5))`: 0 for a word in every note.
    pub(super) fn of(&mut self, conn: &Connection, word: &str) -> rusqlite::Result<f64> {
        if let Some(known) = self.known.get(word) {
            return Ok(*known);
        }
        let Some(fts) = query::to_fts(word) else {
            return Ok(0.0);
        };
        let mut count =
            conn.prepare_cached("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1")?;
        let holding: i64 = count.query_row([&fts.all], |row| row.get(0))?;
        let idf = ((self.chunks + 1.0) / (holding.max(1) as f64 + 0.5)).ln();
        self.known.insert(word.to_string(), idf);
        Ok(idf)
    }
}

#[cfg(test)]
mod tests {
    use super::base_form;

    #[test]
    fn past_forms_no_stemmer_knows_come_back_to_their_verb() {
        assert_eq!(base_form("ran"), "run");
        assert_eq!(base_form("bought"), "buy");
        assert_eq!(base_form("running"), "running", "the stemmer's to handle");
        assert_eq!(base_form("left"), "left", "a direction as often as a verb");
    }
}
