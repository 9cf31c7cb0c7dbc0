//! Ranking that understands notes. Every search — keyword, semantic, hybrid, and recall
//! before a turn — ends here, and every score means the same thing: how much of the
//! question a note answers, from 0 to 1, so one threshold can say "nothing in memory".
//!
//! - Candidates come from BM25 (any of the question's words), from the vectors nearest
//!   the question, and from the days a question names ("in August", "the day after the
//!   half marathon": see [`super::dates`]).
//! - A note's words score by coverage: the share of the question's content words it
//!   holds, each weighed by its rarity in memory (a word no note has weighs most, so a
//!   question about a brother is not answered by a note about a sister).
//! - Meaning scores by cosine similarity, rescaled to 0-1 from where unrelated sentences
//!   sit. Hybrid takes the mean of both.
//! - Time: a daily log's date belongs to each of its chunks. Among notes about the same
//!   subject, the newer one ranks first; a later note that says an answer changed goes
//!   above it ([`updates`]); a line marked superseded loses.
//! - Places: one file's neighbouring entries do not crowd out a second file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, params};

mod updates;
mod weights;

use weights::{Rarity, Weights};

use super::dates::{self, Span, When};
use super::query::{self, FtsQuery};
use super::search::SearchHit;
use super::semantic::Mode;

/// How far down each ranking the candidates come from.
const CANDIDATES: usize = 50;

/// Cosine similarity of sentences that share nothing (MiniLM puts them at 0.0-0.2): a
/// meaning score of 0. And where a paraphrase of the same fact sits: a score of 1.
const COSINE_NOTHING: f64 = 0.2;
const COSINE_SAME: f64 = 0.75;

/// Two notes' scores closer than this are about as good an answer: the newer one wins.
const NEWER_WINS_WITHIN: f64 = 0.2;

/// Below this score a note is no answer, newer or not.
const NEWER_WINS_FROM: f64 = 0.3;

/// The score a note on a named day gets for being on it, before its words count.
const ON_THE_DAY: f64 = 0.5;

/// What a search asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub text: &'a str,
    pub mode: Mode,
    pub limit: usize,
    /// Hits scoring below this are left out.
    pub min_score: f64,
    /// The day of asking, for "yesterday" and "last Tuesday".
    pub today: NaiveDate,
}

/// Turns text into a unit vector (the embedding model), when the mode wants meaning.
pub(crate) type Embed<'e> = dyn Fn(&str) -> Result<Vec<f32>, super::MemoryError> + 'e;

/// A chunk under consideration.
struct Candidate {
    id: i64,
    file: PathBuf,
    path: String,
    stamp: (u64, i64),
    start_line: usize,
    end_line: usize,
    heading: String,
    text: String,
    day: Option<NaiveDate>,
    bm25_rank: Option<usize>,
    cosine: Option<f64>,
    /// How unlike the routine the note is (0-1): the mean rarity of its words. Orders
    /// the notes of a day when a question names nothing but the day.
    salience: f64,
    score: f64,
}

/// The ranked hits for `ask`, scores 0-1, best first.
pub fn rank(
    conn: &Connection,
    ask: &Ask<'_>,
    embed: Option<&Embed<'_>>,
    model: Option<&str>,
) -> Result<Vec<SearchHit>, super::MemoryError> {
    let timed = dates::in_question(ask.text, ask.today);
    let (text, span) = match &timed {
        None => (ask.text.to_string(), None),
        Some(timed) => {
            let span = match &timed.when {
                When::Span(span) => Some(*span),
                When::Around { event, relation } => {
                    event_day(conn, ask, event, embed, model)?.map(|day| relation.around(day))
                }
            };
            // A date the search could not place is still words to look for.
            match span {
                Some(span) => (timed.rest.clone(), Some(span)),
                None => (ask.text.to_string(), None),
            }
        }
    };
    // A question about a time asks what was so then, not what changed since.
    let follow_changes = span.is_none();
    let (candidates, _) = ranked(conn, &text, ask.mode, span, embed, model, follow_changes)?;
    let hits = candidates
        .into_iter()
        .filter(|candidate| candidate.score >= ask.min_score && candidate.score > 0.0)
        .take(ask.limit)
        .map(|candidate| to_hit(conn, candidate, &text))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(hits)
}

/// The candidates for `text`, scored and in order, and the question's word weights;
/// `follow_changes`: with the later notes that changed the best answers above them.
fn ranked(
    conn: &Connection,
    text: &str,
    mode: Mode,
    span: Option<Span>,
    embed: Option<&Embed<'_>>,
    model: Option<&str>,
    follow_changes: bool,
) -> Result<(Vec<Candidate>, Weights), super::MemoryError> {
    let mut candidates = candidates(conn, text, mode, span, embed, model)?;
    let weights = Weights::of(conn, text, mode)?;
    if let Some(span) = span.filter(|_| weights.is_empty()) {
        salience(conn, &mut candidates, span)?;
    }
    for candidate in &mut candidates {
        candidate.score = score(candidate, &weights, mode, span);
    }
    order(&mut candidates, &weights);
    if follow_changes {
        updates::follow(conn, &mut candidates, &|first, second| {
            super::semantic::similarity(conn, first, second)
        })?;
    }
    Ok((candidates, weights))
}

/// The day of the event a question is dated by ("the Lisbon trip"): the note that best
/// answers the event's name, and the date that note gives it ("for 9 to 11 October"), or
/// the day it was written.
fn event_day(
    conn: &Connection,
    ask: &Ask<'_>,
    event: &str,
    embed: Option<&Embed<'_>>,
    model: Option<&str>,
) -> Result<Option<NaiveDate>, super::MemoryError> {
    // The event's own note dates it, not what happened to it later.
    let (candidates, weights) = ranked(conn, event, ask.mode, None, embed, model, false)?;
    let answers: Vec<Candidate> = candidates.into_iter().filter(|c| c.score > 0.0).collect();
    // "my birthday" is not Mum's: a note naming someone else's is the last choice.
    let owner_elsewhere = |candidate: &Candidate| {
        mine(event).is_some_and(|thing| someone_elses(&candidate.text, &thing))
    };
    let chosen = answers
        .iter()
        .position(|c| !owner_elsewhere(c))
        .unwrap_or(0);
    let Some(best) = answers.into_iter().nth(chosen) else {
        return Ok(None);
    };
    let line = best_line(&best.text, &weights);
    let written = best.day.unwrap_or(ask.today);
    let day = dates::in_note(line, written).or(best.day);
    tracing::debug!(
        "{event:?} is dated {day:?} by {}:{} {line:?}",
        best.path,
        best.start_line
    );
    Ok(day)
}

/// The thing an event phrase says is the person's own: "birthday" of "my birthday".
fn mine(event: &str) -> Option<String> {
    let lowered = event.to_lowercase();
    let mut words = lowered.split_whitespace();
    words.find(|word| *word == "my")?;
    words
        .next()
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        })
        .filter(|word| !word.is_empty())
}

/// Whether `text` speaks of someone else's `thing` ("Mum's birthday", "Rui's flat").
fn someone_elses(text: &str, thing: &str) -> bool {
    let lowered = text.to_lowercase().replace('’', "'");
    let words: Vec<&str> = lowered.split_whitespace().collect();
    words.windows(2).any(|pair| {
        pair[1].trim_matches(|c: char| !c.is_alphanumeric()) == thing
            && pair[0].ends_with("'s")
            && pair[0] != "one's"
    })
}

/// The line of `text` that holds most of the question's words.
fn best_line<'t>(text: &'t str, weights: &Weights) -> &'t str {
    text.lines()
        .max_by(|a, b| weights.coverage(a).total_cmp(&weights.coverage(b)))
        .unwrap_or(text)
}

fn candidates(
    conn: &Connection,
    text: &str,
    mode: Mode,
    span: Option<Span>,
    embed: Option<&Embed<'_>>,
    model: Option<&str>,
) -> Result<Vec<Candidate>, super::MemoryError> {
    let mut ids: Vec<i64> = Vec::new();
    let mut bm25_rank: HashMap<i64, usize> = HashMap::new();
    let fts = query::to_fts(text);
    if let Some(fts) = fts.as_ref().filter(|_| mode != Mode::Semantic) {
        for (rank, id) in keyword_ids(conn, fts, CANDIDATES)?.into_iter().enumerate() {
            bm25_rank.insert(id, rank);
            ids.push(id);
        }
    }
    if let Some(span) = span {
        ids.extend(ids_in_span(conn, span)?);
    }
    let mut cosines: HashMap<i64, f64> = HashMap::new();
    if mode != Mode::Keyword
        && let (Some(embed), Some(model)) = (embed, model)
        && super::semantic::stored_model(conn)?.as_deref() == Some(model)
        && !text.trim().is_empty()
    {
        let vector = embed(text)?;
        let wanted: HashSet<i64> = ids.iter().copied().collect();
        let (nearest, known) = super::semantic::nearest_and(conn, &vector, CANDIDATES, &wanted)?;
        for (id, cosine) in nearest.iter().chain(&known) {
            cosines.insert(*id, *cosine);
        }
        ids.extend(nearest.iter().map(|(id, _)| *id));
    }
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(*id));
    Ok(load(conn, ids, &bm25_rank, &cosines)?)
}

/// The chunks `ids`, as candidates not scored yet.
fn load(
    conn: &Connection,
    ids: Vec<i64>,
    bm25_rank: &HashMap<i64, usize>,
    cosines: &HashMap<i64, f64>,
) -> rusqlite::Result<Vec<Candidate>> {
    let mut loaded = Vec::with_capacity(ids.len());
    let mut statement = conn.prepare_cached(
        "SELECT f.path, f.display, f.size, f.mtime_ns, c.start_line, c.end_line, c.heading, c.text
         FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = ?1",
    )?;
    for id in ids {
        let mut rows = statement.query(params![id])?;
        let Some(row) = rows.next()? else { continue };
        let path: String = row.get(1)?;
        let heading: String = row.get(6)?;
        let text: String = row.get(7)?;
        let day = day_of_path(&path).or_else(|| dated_line(&heading, &text));
        loaded.push(Candidate {
            id,
            file: PathBuf::from(row.get::<_, String>(0)?),
            path,
            stamp: (row.get::<_, i64>(2)?.max(0).unsigned_abs(), row.get(3)?),
            start_line: usize::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
            end_line: usize::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
            heading,
            text,
            day,
            bm25_rank: bm25_rank.get(&id).copied(),
            cosine: cosines.get(&id).copied(),
            salience: 0.0,
            score: 0.0,
        });
    }
    Ok(loaded)
}

fn keyword_ids(conn: &Connection, query: &FtsQuery, limit: usize) -> rusqlite::Result<Vec<i64>> {
    // Any of the words, ranked: coverage decides, BM25 only gathers.
    let expression = query.any.as_ref().unwrap_or(&query.all);
    let mut statement = conn.prepare_cached(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?2",
    )?;
    let rows = statement.query_map(params![expression, limit as i64], |row| row.get(0))?;
    rows.collect()
}

/// The chunks of the daily logs written on the days of `span`.
fn ids_in_span(conn: &Connection, span: Span) -> rusqlite::Result<Vec<i64>> {
    let mut files = conn.prepare_cached("SELECT id, display FROM files")?;
    let in_span: Vec<i64> = files
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .filter_map(Result::ok)
        .filter(|(_, path)| day_of_path(path).is_some_and(|day| span.contains(day)))
        .map(|(id, _)| id)
        .collect();
    let mut chunks = conn.prepare_cached("SELECT id FROM chunks WHERE file_id = ?1")?;
    let mut ids = Vec::new();
    for file in in_span {
        for id in chunks.query_map([file], |row| row.get(0))? {
            ids.push(id?);
        }
    }
    Ok(ids)
}

/// Sets the salience of the notes written in `span`: the mean rarity of their words.
fn salience(conn: &Connection, candidates: &mut [Candidate], span: Span) -> rusqlite::Result<()> {
    let mut rarity = Rarity::new(conn)?;
    let most = rarity.rarest().max(1e-9);
    for candidate in candidates
        .iter_mut()
        .filter(|c| c.day.is_some_and(|day| span.contains(day)))
    {
        let words = query::content_words(&candidate.text);
        let mut sum = 0.0;
        for word in &words {
            sum += rarity.of(conn, word)? / most;
        }
        candidate.salience = if words.is_empty() {
            0.0
        } else {
            (sum / words.len() as f64).clamp(0.0, 1.0)
        };
    }
    Ok(())
}

fn meaning(cosine: Option<f64>) -> f64 {
    cosine.map_or(0.0, |cosine| {
        ((cosine - COSINE_NOTHING) / (COSINE_SAME - COSINE_NOTHING)).clamp(0.0, 1.0)
    })
}

fn score(candidate: &Candidate, weights: &Weights, mode: Mode, span: Option<Span>) -> f64 {
    // Between notes that hold the same words, BM25 (a heading match, a shorter note)
    // decides, by a little.
    let bm25 = candidate
        .bm25_rank
        .map_or(0.0, |rank| 1.0 / (1.0 + rank as f64));
    let words = weights.coverage(&format!("{}\n{}", candidate.heading, candidate.text))
        * (0.95 + 0.05 * bm25);
    let relevance = match mode {
        Mode::Keyword => words,
        Mode::Semantic => meaning(candidate.cosine),
        Mode::Hybrid => (words + meaning(candidate.cosine)) / 2.0,
    };
    let relevance = if is_superseded(&candidate.text) {
        relevance * 0.5
    } else {
        relevance
    };
    match span {
        None => relevance,
        Some(span) if candidate.day.is_some_and(|day| span.contains(day)) => {
            // On the day asked about: a question with no other words ("what did I do on
            // 4 October?") is answered by the day itself.
            if weights.is_empty() {
                ON_THE_DAY + 0.3 * candidate.salience
            } else {
                ON_THE_DAY + (1.0 - ON_THE_DAY) * relevance
            }
        }
        Some(_) => relevance * ON_THE_DAY,
    }
}

/// Best first; the newer of two notes on one subject first; distinct files first.
fn order(candidates: &mut Vec<Candidate>, weights: &Weights) {
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.day.cmp(&a.day))
            .then_with(|| {
                a.bm25_rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.bm25_rank.unwrap_or(usize::MAX))
            })
            .then_with(|| a.id.cmp(&b.id))
    });
    newer_first(candidates, weights);
    distinct_files_first(candidates);
}

/// A fact that changed: when a newer note about the same subject (the rarest question
/// word both hold) scores nearly as well, it goes above the older one.
fn newer_first(candidates: &mut Vec<Candidate>, weights: &Weights) {
    let top = candidates.len().min(CANDIDATES);
    let mut head: Vec<(Candidate, Vec<bool>)> = candidates
        .drain(..top)
        .map(|c| {
            let held = weights.held(&format!("{}\n{}", c.heading, c.text));
            (c, held)
        })
        .collect();
    let mut at = 0;
    while at < head.len() {
        let (old, old_held) = &head[at];
        let newer = (at + 1..head.len()).find(|&later| {
            let (new, new_held) = &head[later];
            new.score >= NEWER_WINS_FROM
                && new.score >= old.score * 0.75
                && old.score - new.score <= NEWER_WINS_WITHIN
                && weights.same_subject(old_held, new_held)
                && match (old.day, new.day) {
                    (Some(old), Some(new)) => new > old,
                    (None, Some(_)) => true,
                    _ => false,
                }
        });
        match newer {
            Some(later) => {
                let moved = head.remove(later);
                head.insert(at, moved);
            }
            None => at += 1,
        }
    }
    candidates.splice(0..0, head.into_iter().map(|(c, _)| c));
}

/// One file's further chunks after every other file's best, keeping each group's order.
fn distinct_files_first(candidates: &mut Vec<Candidate>) {
    let mut seen = HashSet::new();
    let (firsts, rest): (Vec<Candidate>, Vec<Candidate>) = std::mem::take(candidates)
        .into_iter()
        .partition(|candidate| seen.insert(candidate.file.clone()));
    // A second chunk that scores well above the next file's best keeps its place.
    *candidates = firsts;
    for extra in rest {
        let at = candidates
            .iter()
            .position(|c| c.score < extra.score - 0.25)
            .unwrap_or(candidates.len());
        candidates.insert(at, extra);
    }
}

/// A line struck through (`~~…~~`) or marked superseded by consolidation.
fn is_superseded(text: &str) -> bool {
    let trimmed = text.trim().trim_start_matches("- ");
    (trimmed.starts_with("~~") && trimmed.matches("~~").count() >= 2)
        || text.to_lowercase().contains("(superseded")
}

/// `2026-12-06` for `memory/2026-12-06.md`.
pub(super) fn day_of_path(path: &str) -> Option<NaiveDate> {
    let stem = Path::new(path).file_stem()?.to_str()?;
    NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
}

/// A date a chunk carries itself: in its heading (`## 2026-11-10`) or as a line's
/// source (`(2026-11-10)`, consolidation's citations).
fn dated_line(heading: &str, text: &str) -> Option<NaiveDate> {
    [heading, text].iter().find_map(|part| {
        part.split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .filter_map(|word| NaiveDate::parse_from_str(word, "%Y-%m-%d").ok())
            .max()
    })
}

fn to_hit(conn: &Connection, candidate: Candidate, text: &str) -> rusqlite::Result<SearchHit> {
    let mut snippet = None;
    if let Some(fts) = query::to_fts(text) {
        let expression = fts.any.as_ref().unwrap_or(&fts.all);
        let mut excerpt = conn.prepare_cached(
            "SELECT snippet(chunks_fts, 1, char(2), char(3), '…', 24) FROM chunks_fts
             WHERE chunks_fts MATCH ?1 AND rowid = ?2",
        )?;
        let mut found = excerpt.query(params![expression, candidate.id])?;
        if let Some(found) = found.next()? {
            snippet = Some(found.get::<_, String>(0)?).filter(|s| !s.trim().is_empty());
        }
    }
    let snippet = snippet.unwrap_or_else(|| {
        let words: Vec<&str> = candidate.text.split_whitespace().take(24).collect();
        let opening = words.join(" ");
        if opening.is_empty() {
            candidate.heading.clone()
        } else if candidate.text.split_whitespace().count() > words.len() {
            format!("{opening} …")
        } else {
            opening
        }
    });
    Ok(SearchHit {
        file: candidate.file,
        path: candidate.path,
        indexed_stamp: candidate.stamp,
        start_line: candidate.start_line,
        end_line: candidate.end_line,
        heading: candidate.heading,
        score: (candidate.score * 1000.0).round() / 1000.0,
        snippet,
    })
}

#[cfg(test)]
mod tests {
    use super::{mine, someone_elses};

    #[test]
    fn my_birthday_is_not_mums() {
        assert_eq!(mine("my birthday").as_deref(), Some("birthday"));
        assert_eq!(mine("the Lisbon trip"), None);
        assert!(someone_elses(
            "Mum's birthday is on 2 December.",
            "birthday"
        ));
        assert!(someone_elses("Rui’s birthday party", "birthday"));
        assert!(!someone_elses("My birthday: dinner with Ana.", "birthday"));
        assert!(!someone_elses("Birthday cake for Mum's friend", "birthday"));
    }
}
