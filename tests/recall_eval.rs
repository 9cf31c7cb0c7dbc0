//! The recall evaluation: one person's MEMORY.md and four months of daily logs
//! (`benches/recall-set/`, written by its `make.py`), 155 questions in LongMemEval's
//! shape — paraphrased facts, keyword facts, facts that changed, time questions,
//! questions that need two days' notes, questions memory cannot answer.
//!
//! `LOCALGPT_TEST_WHEELS=target/model-wheels cargo test --test integration recall_eval -- --nocapture`
//! prints recall@1 and recall@5 per type and mode, newer-over-stale, abstention, and
//! whether automatic recall carried the evidence into the request; the test holds the
//! default search to the targets. `LOCALGPT_RECALL_SET=DIR` evaluates another set of the
//! same shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use localgpt::memory::embed::Embedder;
use localgpt::memory::semantic::Mode;
use localgpt::memory::{Freshness, Memory, Options, SearchHit, Sources, Store};
use serde::Deserialize;

#[derive(Deserialize)]
struct Question {
    id: usize,
    #[serde(rename = "type")]
    kind: String,
    question: String,
    asked: String,
    evidence: Vec<Place>,
    stale: Option<Place>,
}

#[derive(Deserialize, Clone)]
struct Place {
    path: String,
    /// The start of the evidence line; `None`: anywhere in the file.
    text: Option<String>,
}

fn set_dir() -> PathBuf {
    match std::env::var_os("LOCALGPT_RECALL_SET") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/recall-set"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.path().extension().is_some_and(|ext| ext == "md") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The line (1-based) where `place` is, or `None` for a whole file.
fn line_of(workspace: &Path, place: &Place) -> Option<usize> {
    let needle = place.text.as_ref()?;
    let text = std::fs::read_to_string(workspace.join(&place.path)).unwrap();
    let line = text.lines().position(|line| line.contains(needle.as_str()));
    Some(line.unwrap_or_else(|| panic!("{} has no line with {needle:?}", place.path)) + 1)
}

fn holds(hit: &SearchHit, place: &Place, line: Option<usize>) -> bool {
    hit.path == place.path && line.is_none_or(|line| hit.start_line <= line && line <= hit.end_line)
}

/// Where in `hits` the evidence is (first position), if at all.
fn position(hits: &[SearchHit], place: &Place, line: Option<usize>) -> Option<usize> {
    hits.iter().position(|hit| holds(hit, place, line))
}

#[derive(Default, Clone, Copy)]
struct Tally {
    questions: usize,
    at1: usize,
    at5: usize,
}

struct Evaluation {
    per_type: BTreeMap<(String, &'static str), Tally>,
    newer_first: (usize, usize),
    abstained: (usize, usize),
    answered: (usize, usize),
    recalled: (usize, usize),
    /// The best hybrid score of each question, and whether memory can answer it.
    best: Vec<(f64, bool)>,
}

const MODES: [(Mode, &str); 3] = [
    (Mode::Keyword, "keyword"),
    (Mode::Semantic, "semantic"),
    (Mode::Hybrid, "hybrid"),
];

fn evaluate(embedder: &Embedder) -> Evaluation {
    let set = set_dir();
    let questions: Vec<Question> =
        serde_json::from_str(&std::fs::read_to_string(set.join("questions.json")).unwrap())
            .unwrap();
    let home = tempfile::tempdir().unwrap();
    let workspace = home.path().join("workspace");
    copy_dir(&set, &workspace);
    let paths = ["MEMORY.md".to_string(), "memory/**/*.md".to_string()];
    let sources = Sources::new(&workspace, &paths, &[], Vec::new(), 4 << 20).unwrap();
    let (store, _) = Store::open(&home.path().join("index.sqlite")).unwrap();
    let mut memory = Memory::with_store(store, sources);
    memory.reindex(true, &mut |_, _| {}).unwrap();
    memory
        .embed_pending(embedder, usize::MAX, &mut |_| {})
        .unwrap();
    let mut evaluation = Evaluation {
        per_type: BTreeMap::new(),
        newer_first: (0, 0),
        abstained: (0, 0),
        answered: (0, 0),
        recalled: (0, 0),
        best: Vec::new(),
    };
    let verbose = std::env::var_os("LOCALGPT_RECALL_VERBOSE").is_some();
    for question in &questions {
        memory.set_today(NaiveDate::parse_from_str(&question.asked, "%Y-%m-%d").unwrap());
        let lines: Vec<Option<usize>> = question
            .evidence
            .iter()
            .map(|place| line_of(&workspace, place))
            .collect();
        let answerable = !question.evidence.is_empty();
        for (mode, name) in MODES {
            let hits = memory
                .find(
                    &question.question,
                    Options::new(5, mode),
                    Freshness::Quick,
                    Some(embedder),
                )
                .unwrap();
            let tally = evaluation
                .per_type
                .entry((question.kind.clone(), name))
                .or_default();
            tally.questions += 1;
            if mode == Mode::Hybrid {
                evaluation
                    .best
                    .push((hits.first().map_or(0.0, |hit| hit.score), answerable));
            }
            if !answerable {
                continue;
            }
            let positions: Vec<Option<usize>> = question
                .evidence
                .iter()
                .zip(&lines)
                .map(|(place, line)| position(&hits, place, *line))
                .collect();
            if positions.contains(&Some(0)) {
                tally.at1 += 1;
            }
            if positions.iter().all(Option::is_some) {
                tally.at5 += 1;
            }
            if mode == Mode::Hybrid && verbose && positions.iter().any(Option::is_none) {
                eprintln!(
                    "MISS {} [{}] {}",
                    question.id, question.kind, question.question
                );
                for hit in &hits {
                    eprintln!(
                        "     {:.3} {}:{} {}",
                        hit.score,
                        hit.path,
                        hit.start_line,
                        hit.snippet_marked("", "").replace('\n', " ")
                    );
                }
            }
            if mode == Mode::Hybrid
                && let Some(stale) = &question.stale
            {
                let newer = positions[0];
                let old = position(&hits, stale, line_of(&workspace, stale));
                evaluation.newer_first.1 += 1;
                if newer.is_some_and(|newer| old.is_none_or(|old| newer < old)) {
                    evaluation.newer_first.0 += 1;
                } else if verbose {
                    eprintln!("STALE {} {}", question.id, question.question);
                }
            }
        }
        // The default search with the default cut-off: does it say "nothing"?
        let relevant = memory
            .find(
                &question.question,
                Options {
                    limit: 5,
                    mode: Mode::Hybrid,
                    min_score: localgpt::memory::RELEVANT,
                },
                Freshness::Quick,
                Some(embedder),
            )
            .unwrap();
        if answerable {
            evaluation.answered.1 += 1;
            if !relevant.is_empty() {
                evaluation.answered.0 += 1;
            } else if verbose {
                eprintln!("SILENT {} {}", question.id, question.question);
            }
        } else {
            evaluation.abstained.1 += 1;
            if relevant.is_empty() {
                evaluation.abstained.0 += 1;
            } else if verbose {
                eprintln!(
                    "SPOKE {} {} -> {:.3} {}",
                    question.id,
                    question.question,
                    relevant[0].score,
                    relevant[0].snippet_marked("", "")
                );
            }
        }
        // What automatic recall puts in the request before the question.
        if answerable {
            let notes = localgpt::memory::recall::recall(
                &mut memory,
                Some(embedder),
                &question.question,
                3,
                300,
            )
            .unwrap();
            evaluation.recalled.1 += 1;
            let carried = question.evidence.iter().zip(&lines).any(|(place, line)| {
                notes.iter().any(|note| {
                    note.path == place.path
                        && line.is_none_or(|line| note.line <= line && line <= note.end_line)
                })
            });
            if carried {
                evaluation.recalled.0 += 1;
            }
        }
    }
    evaluation
}

fn share((hit, of): (usize, usize)) -> f64 {
    if of == 0 { 1.0 } else { hit as f64 / of as f64 }
}

fn print(evaluation: &Evaluation) {
    eprintln!("\n| type | questions | keyword @1 / @5 | semantic @1 / @5 | hybrid @1 / @5 |");
    eprintln!("|---|---|---|---|---|");
    let mut kinds: Vec<&String> = evaluation.per_type.keys().map(|(kind, _)| kind).collect();
    kinds.dedup();
    let mut totals: BTreeMap<&str, Tally> = BTreeMap::new();
    for kind in kinds.iter().filter(|kind| kind.as_str() != "unanswerable") {
        let mut row = format!("| {kind} |");
        for (index, (_, name)) in MODES.iter().enumerate() {
            let tally = evaluation.per_type[&((*kind).clone(), *name)];
            if index == 0 {
                row.push_str(&format!(" {} |", tally.questions));
            }
            row.push_str(&format!(
                " {:.2} / {:.2} |",
                share((tally.at1, tally.questions)),
                share((tally.at5, tally.questions))
            ));
            let total = totals.entry(name).or_default();
            total.questions += tally.questions;
            total.at1 += tally.at1;
            total.at5 += tally.at5;
        }
        eprintln!("{row}");
    }
    let mut row = format!("| **all answerable** | {} |", totals["hybrid"].questions);
    for (_, name) in MODES {
        let total = totals[name];
        row.push_str(&format!(
            " {:.2} / {:.2} |",
            share((total.at1, total.questions)),
            share((total.at5, total.questions))
        ));
    }
    eprintln!("{row}\n");
    eprintln!(
        "newer over stale (hybrid): {:.2} ({}/{})",
        share(evaluation.newer_first),
        evaluation.newer_first.0,
        evaluation.newer_first.1
    );
    eprintln!(
        "unanswerable with nothing above the cut-off ({}): {:.2} ({}/{}); answerable with something: {:.2} ({}/{})",
        localgpt::memory::RELEVANT,
        share(evaluation.abstained),
        evaluation.abstained.0,
        evaluation.abstained.1,
        share(evaluation.answered),
        evaluation.answered.0,
        evaluation.answered.1
    );
    let mut sweep = String::from("cut-off → unanswerable silent / answerable answered:");
    for step in 4..=14 {
        let cut = f64::from(step) * 0.05;
        let silent = evaluation
            .best
            .iter()
            .filter(|(best, can)| !can && *best < cut)
            .count();
        let spoke = evaluation
            .best
            .iter()
            .filter(|(best, can)| *can && *best >= cut)
            .count();
        let (cannot, can) =
            evaluation.best.iter().fold(
                (0, 0),
                |(no, yes), (_, can)| {
                    if *can { (no, yes + 1) } else { (no + 1, yes) }
                },
            );
        sweep.push_str(&format!(
            " {cut:.2}→{:.2}/{:.2}",
            share((silent, cannot)),
            share((spoke, can))
        ));
    }
    eprintln!("{sweep}");
    eprintln!(
        "automatic recall carried the evidence into the request: {:.2} ({}/{})",
        share(evaluation.recalled),
        evaluation.recalled.0,
        evaluation.recalled.1
    );
}

/// The targets (recall@5 ≥ 0.95 overall, ≥ 0.9 per type, newer-over-stale ≥ 0.9)
/// are not met yet; this holds the ranking to what it reaches today, so a change that makes
/// it worse fails, and fusion to never falling below its better half.
#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn the_default_search_holds_its_recall() {
    let embedder = Embedder::load(&localgpt::models::embedding::test_model_dir()).unwrap();
    let evaluation = evaluate(&embedder);
    print(&evaluation);
    let mut per_mode: BTreeMap<&str, Tally> = BTreeMap::new();
    for ((kind, mode), tally) in &evaluation.per_type {
        if kind == "unanswerable" {
            continue;
        }
        let total = per_mode.entry(mode).or_default();
        total.questions += tally.questions;
        total.at5 += tally.at5;
    }
    let recall = |mode: &str| share((per_mode[mode].at5, per_mode[mode].questions));
    assert!(
        recall("hybrid") >= 0.88,
        "hybrid recall@5 {}",
        recall("hybrid")
    );
    assert!(recall("hybrid") >= recall("keyword").max(recall("semantic")));
    assert!(
        share(evaluation.newer_first) >= 0.75,
        "newer over stale {}",
        share(evaluation.newer_first)
    );
    assert!(share(evaluation.abstained) >= 0.7);
    assert!(share(evaluation.answered) >= 0.75);
    assert!(share(evaluation.recalled) >= 0.6);
}
