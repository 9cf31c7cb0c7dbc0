//! Facts that change. A question's words find the note that first stated a fact ("My
//! sister Ana lives in Porto, in Cedofeita") but often not the later one that changed it
//! ("Ana moved to Braga; the Cedofeita flat is gone"), which says the same subject in
//! other words. So each of the best answers is followed: the latest later note that
//! names the answer's subject (its rarest words) and says that something changed goes
//! right above it, with its score. The older note stays below it, so the person and the
//! model see both, newest first.

use std::collections::HashMap;

use rusqlite::Connection;
use rust_stemmers::{Algorithm, Stemmer};

use super::weights::Rarity;
use super::{Candidate, is_superseded, keyword_ids, load};
use crate::memory::query;

/// How many of the best answers are followed.
const FOLLOWED: usize = 5;

/// An answer scoring below this answers nothing, so nothing updates it either.
const FOLLOWED_FROM: f64 = 0.25;

/// How many of an answer's rarest words name its subject.
const SUBJECT_WORDS: usize = 4;

/// How many notes holding those words are looked at, by BM25.
const LOOKED_AT: usize = 30;

/// A shared word names the subject when it is at least this share as rare as the
/// answer's rarest ("kg" of "weighed myself: 82 kg", not "today").
const SUBJECT_RARITY: f64 = 0.75;

/// A word names a subject only when few notes hold it: at least this share of the
/// rarity of a word one note holds (with 550 notes, one in at most 13 of them). "green"
/// of "smoke tests green" is in more, and names nothing "green tea only" could change.
const SUBJECT_AT_LEAST: f64 = 0.62;

/// Cosine similarity an update has with the note it updates, at the least: the two are
/// about one thing ("down to 77 kg on the scale" and "weighed myself: 82 kg", 0.77).
const SAME_THING: f64 = 0.3;

/// Words that say something changed. A later note on the same subject without one is
/// more of the same ("climbing session"), not a change.
const CHANGE_WORDS: [&str; 44] = [
    "now",
    "new",
    "moved",
    "moves",
    "moving",
    "switched",
    "switches",
    "changed",
    "changes",
    "left",
    "leaves",
    "gone",
    "sold",
    "bought",
    "quit",
    "stopped",
    "started",
    "starts",
    "joined",
    "raised",
    "lowered",
    "increased",
    "decreased",
    "slipped",
    "postponed",
    "delayed",
    "rescheduled",
    "replaced",
    "instead",
    "anymore",
    "closed",
    "cancelled",
    "canceled",
    "ended",
    "became",
    "becomes",
    "updated",
    "renamed",
    "upgraded",
    "downgraded",
    "nowadays",
    "currently",
    "longer",
    "since",
];

/// Two-word changes ("goes up to 980", "gave up coffee", "split up").
const CHANGE_PHRASES: [&str; 9] = [
    "up to",
    "down to",
    "gave up",
    "give up",
    "split up",
    "broke up",
    "put on",
    "went up",
    "went down",
];

/// Puts, above each of the best answers in `candidates`, the latest later note that
/// changed what it says. `similarity` gives two chunks' cosine, where both have vectors.
pub(super) fn follow(
    conn: &Connection,
    candidates: &mut Vec<Candidate>,
    similarity: &dyn Fn(i64, i64) -> rusqlite::Result<Option<f64>>,
) -> rusqlite::Result<()> {
    let mut rarity = Rarity::new(conn)?;
    let mut at = 0;
    let mut followed = 0;
    while at < candidates.len() && followed < FOLLOWED {
        if candidates[at].score < FOLLOWED_FROM {
            at += 1;
            continue;
        }
        followed += 1;
        let above: Vec<i64> = candidates[..at].iter().map(|c| c.id).collect();
        let Some(mut update) = latest_change(conn, &mut rarity, &candidates[at], similarity)?
        else {
            at += 1;
            continue;
        };
        if above.contains(&update.id) {
            at += 1;
            continue;
        }
        if let Some(ranked) = candidates.iter().position(|c| c.id == update.id) {
            update = candidates.remove(ranked);
        }
        update.score = update.score.max(candidates[at].score);
        candidates.insert(at, update);
        // The answer it updates is now at `at + 1`; the next answer after it.
        at += 2;
    }
    Ok(())
}

/// The latest note written after `answer` that names its subject and says it changed.
fn latest_change(
    conn: &Connection,
    rarity: &mut Rarity,
    answer: &Candidate,
    similarity: &dyn Fn(i64, i64) -> rusqlite::Result<Option<f64>>,
) -> rusqlite::Result<Option<Candidate>> {
    let subject = subject_words(conn, rarity, &answer.text)?;
    let stemmer = Stemmer::create(Algorithm::English);
    let Some(rarest) = subject.first().map(|(_, rarity)| *rarity) else {
        return Ok(None);
    };
    // The words that can name the subject, by stem ("coffees" then "coffee").
    let naming: Vec<String> = subject
        .iter()
        .filter(|(_, weight)| {
            *weight >= rarest * SUBJECT_RARITY && *weight >= rarity.rarest() * SUBJECT_AT_LEAST
        })
        .map(|(word, _)| stemmer.stem(word).into_owned())
        .collect();
    if naming.is_empty() {
        return Ok(None);
    }
    let words: Vec<&str> = subject.iter().map(|(word, _)| word.as_str()).collect();
    let Some(fts) = query::to_fts(&words.join(" ")) else {
        return Ok(None);
    };
    let ids: Vec<i64> = keyword_ids(conn, &fts, LOOKED_AT)?
        .into_iter()
        .filter(|id| *id != answer.id)
        .collect();
    let mut latest: Option<Candidate> = None;
    for later in load(conn, ids, &HashMap::new(), &HashMap::new())? {
        let is_later = match (answer.day, later.day) {
            (Some(then), Some(day)) => day > then,
            // An undated line (MEMORY.md's) is older than any dated note about it.
            (None, Some(_)) => true,
            _ => false,
        };
        if !is_later
            || latest
                .as_ref()
                .is_some_and(|latest| latest.day >= later.day)
            || is_superseded(&later.text)
            || !says_it_changed(&later.text, &answer.text)
        {
            continue;
        }
        let names_subject = query::content_words(&later.text)
            .iter()
            .any(|word| naming.contains(&stemmer.stem(word).into_owned()));
        if !names_subject {
            continue;
        }
        if similarity(answer.id, later.id)?.is_some_and(|cosine| cosine < SAME_THING) {
            continue;
        }
        latest = Some(later);
    }
    Ok(latest)
}

/// The rarest words of `text` that can name a subject, rarest first: not numbers (the
/// values that change), not the words that say a change ("gave" of "gave up").
fn subject_words(
    conn: &Connection,
    rarity: &mut Rarity,
    text: &str,
) -> rusqlite::Result<Vec<(String, f64)>> {
    let mut words = Vec::new();
    for word in query::content_words(text) {
        if word.chars().any(|c| c.is_ascii_digit())
            || CHANGE_WORDS.contains(&word.as_str())
            || CHANGE_PHRASES
                .iter()
                .any(|phrase| phrase.split(' ').any(|part| part == word))
            || words.iter().any(|(known, _)| *known == word)
        {
            continue;
        }
        let weight = rarity.of(conn, &word)?;
        words.push((word, weight));
    }
    words.sort_by(|a, b| b.1.total_cmp(&a.1));
    words.truncate(SUBJECT_WORDS);
    Ok(words)
}

/// Whether `later` says something changed in words `answer` does not use: "talked about
/// their new job" after "talked about their new job" is the same routine again.
fn says_it_changed(later: &str, answer: &str) -> bool {
    let said = changes(answer);
    changes(later).iter().any(|change| !said.contains(change))
}

/// The words and word pairs of `text` that say a change.
fn changes(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let mut found: Vec<String> = words
        .iter()
        .filter(|word| CHANGE_WORDS.contains(word))
        .map(|word| word.to_string())
        .collect();
    for pair in words.windows(2) {
        let pair = format!("{} {}", pair[0], pair[1]);
        if CHANGE_PHRASES.contains(&pair.as_str()) {
            found.push(pair);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::says_it_changed;

    #[test]
    fn a_change_is_said_in_a_word_or_two() {
        for (later, answer) in [
            (
                "Ana moved to Braga for the new job.",
                "My sister Ana lives in Porto.",
            ),
            (
                "Rent goes up to 980 euros from October.",
                "Paid the rent, 920 euros.",
            ),
            (
                "Down to 77 kg on the scale this morning.",
                "Weighed myself: 82 kg.",
            ),
            ("Gave up coffee completely.", "I drink two coffees a day."),
            ("Marta and Luis split up.", "Marta is dating Luis."),
            ("Standup is at 10:15 now.", "Standup moved to 9:45."),
        ] {
            assert!(says_it_changed(later, answer), "{later}");
        }
        for (later, answer) in [
            (
                "Climbing session, sent two problems.",
                "Climbing at Bloc Lab.",
            ),
            ("Weighed myself: 82 kg.", "Weighed myself: 84 kg."),
            (
                "Coffee with Rui, talked about their new job.",
                "Coffee with Ana, talked about their new job.",
            ),
        ] {
            assert!(!says_it_changed(later, answer), "{later}");
        }
    }
}
