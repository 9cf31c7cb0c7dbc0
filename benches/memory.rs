//! Memory index and search on a synthetic corpus: 10,000 Markdown files, 50 MB, generated
//! deterministically (same seed, same files) so numbers compare across runs.
//!
//! Words follow a Zipf distribution (as in real text) over a 20,000-word vocabulary whose
//! top ranks are common English words; topic words sit at ranks from 150 to 15,000.
//!
//! Goals on the 2-core machine: full index under 20 s; a reindex with nothing changed
//! under 300 ms; search median under 5 ms and 99th percentile under 20 ms over a mixed
//! set of queries. `cargo bench --bench memory` prints the percentiles and the index size
//! relative to the corpus after criterion's own report.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::memory::{Freshness, Memory, Sources, Store};

const FILES: usize = 10_000;
const TOTAL_BYTES: usize = 50 * 1024 * 1024;
const FOLDERS: usize = 100;

/// A small, deterministic generator (SplitMix64); the corpus must not change between runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word rank drawn from a Zipf (s = 1) distribution over `n` ranks, as word
    /// frequencies in real text are: rank r is drawn with probability ∝ 1 / (r + 1).
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let rank = ((n as f64 + 1.0).ln() * u).exp() - 1.0;
        (rank as usize).min(n - 1)
    }
}

/// The most common English words, the top of any real vocabulary.
const COMMON: &str = "the of and to a in is it that we for on was with he as you at be this \
    have from or one had by but not what all were when your can said there use an each which \
    she do how their if will up other about out many then them these so some her would make \
    like him into time has look two more write go see number no way could people my than first \
    been call who its now find long down day did get come made may part over new after also";

/// Topic words people search for, placed at realistic ranks: common, middling and rare.
const TOPICS: [(&str, usize); 15] = [
    ("meeting", 150),
    ("release", 300),
    ("deploy", 500),
    ("budget", 800),
    ("database", 1_200),
    ("kubernetes", 2_000),
    ("migration", 2_500),
    ("invoice", 3_000),
    ("garden", 4_000),
    ("recipe", 5_000),
    ("travel", 6_000),
    ("doctor", 8_000),
    ("password", 10_000),
    ("backup", 12_000),
    ("roadmap", 15_000),
];

fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ren", "sto", "val", "dor", "pe", "qui", "tan", "bri", "el", "mon",
        "sar", "ti", "vu", "gra", "hel", "io", "nex", "or", "pla", "ser", "zu",
    ];
    let mut words: Vec<String> = COMMON.split_whitespace().map(String::from).collect();
    while words.len() < 20_000 {
        let parts = 2 + rng.below(3);
        let word: String = (0..parts)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        words.push(word);
    }
    for (topic, rank) in TOPICS {
        words[rank] = topic.to_string();
    }
    words
}

fn sentence(rng: &mut Rng, words: &[String], out: &mut String) {
    let length = 6 + rng.below(14);
    for index in 0..length {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&words[rng.zipf(words.len())]);
    }
    out.push_str(". ");
}

fn generate(workspace: &Path) {
    let mut rng = Rng(0x10CA_16B7);
    let words = vocabulary(&mut rng);
    let per_file = TOTAL_BYTES / FILES;
    for folder in 0..FOLDERS {
        std::fs::create_dir_all(workspace.join(format!("memory/{folder:03}"))).unwrap();
    }
    for file in 0..FILES {
        let mut text = format!("# Notes {file}\n\n");
        let mut section = 0;
        while text.len() < per_file {
            if rng.below(4) == 0 {
                section += 1;
                let topic = &words[100 + rng.zipf(words.len() - 100)];
                let _ = write!(text, "\n## {topic} {section}\n\n");
            }
            if rng.below(12) == 0 {
                text.push_str("```sh\n");
                for _ in 0..(2 + rng.below(6)) {
                    let _ = writeln!(text, "run --{} {}", words[rng.below(500)], rng.below(1000));
                }
                text.push_str("```\n\n");
                continue;
            }
            for _ in 0..(2 + rng.below(5)) {
                sentence(&mut rng, &words, &mut text);
            }
            text.push_str("\n\n");
        }
        let path = workspace.join(format!("memory/{:03}/note-{file:05}.md", file % FOLDERS));
        std::fs::write(path, text).unwrap();
    }
}

fn open(home: &Path) -> Memory {
    let workspace = home.join("workspace");
    let paths = ["MEMORY.md".to_string(), "memory/**/*.md".to_string()];
    let hot = vec![
        workspace.join("MEMORY.md"),
        workspace.join("memory/2026-11-24.md"),
    ];
    let sources = Sources::new(&workspace, &paths, &[], hot, 4 << 20).unwrap();
    let (store, _) = Store::open(&home.join("index.sqlite")).unwrap();
    Memory::with_store(store, sources)
}

/// A mix of what people and models ask: topic words from common to rare, names, phrases,
/// prefixes, natural questions, and queries that match nothing.
fn queries(words: &[String]) -> Vec<String> {
    let mut queries: Vec<String> = TOPICS.iter().map(|(topic, _)| topic.to_string()).collect();
    queries.extend(
        [
            "kubernetes migration",
            "\"release meeting\"",
            "budg*",
            "what did we decide about the database backup?",
            "when is the doctor appointment",
            "garden recipe travel",
            "zzzznotaword",
            "the",
        ]
        .map(String::from),
    );
    for rank in [400, 1_000, 7_000, 19_000] {
        queries.push(words[rank].clone());
    }
    queries.push(format!("\"{} {}\"", words[150], words[300]));
    queries.push(format!(
        "{}*",
        words[900].chars().take(4).collect::<String>()
    ));
    queries
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn memory_benches(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    let workspace = home.path().join("workspace");
    let started = Instant::now();
    generate(&workspace);
    eprintln!(
        "corpus: {FILES} files generated in {:.1?}",
        started.elapsed()
    );

    let mut memory = open(home.path());
    let started = Instant::now();
    let report = memory.reindex(true, &mut |_, _| {}).unwrap();
    eprintln!(
        "first full index: {} files, {} chunks in {:.2?}",
        report.files,
        report.chunks_written,
        started.elapsed()
    );

    let mut group = c.benchmark_group("memory");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("full index (10k files, 50 MB)", |b| {
        b.iter(|| memory.reindex(true, &mut |_, _| {}).unwrap())
    });
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("reindex, nothing changed", |b| {
        b.iter(|| {
            let report = memory.reindex(false, &mut |_, _| {}).unwrap();
            assert!(!report.changed_anything());
        })
    });
    group.finish();

    let mut rng = Rng(0x10CA_16B7);
    let words = vocabulary(&mut rng);
    let queries = queries(&words);
    let mut next = 0;
    c.bench_function("memory/search (mixed queries, quick freshness)", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            memory.search(&queries[next], 10, Freshness::Quick).unwrap()
        })
    });

    let mut latencies = Vec::new();
    for _ in 0..20 {
        for query in &queries {
            let started = Instant::now();
            let hits = memory.search(query, 10, Freshness::Quick).unwrap();
            latencies.push(started.elapsed());
            std::hint::black_box(hits);
        }
    }
    latencies.sort();
    eprintln!(
        "search over {} queries × 20: median {:.2?}, p99 {:.2?}, max {:.2?}",
        queries.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    for query in &queries {
        let started = Instant::now();
        let hits = memory.search(query, 10, Freshness::Quick).unwrap();
        eprintln!(
            "  {:>8.2?}  {:>2} hits  {query}",
            started.elapsed(),
            hits.len()
        );
    }
    let stats = memory.stats().unwrap();
    eprintln!(
        "index size: {:.1} MB for {:.1} MB of text ({:.2}×)",
        stats.index_bytes as f64 / 1048576.0,
        stats.bytes as f64 / 1048576.0,
        stats.index_bytes as f64 / stats.bytes as f64
    );
}

criterion_group!(benches, memory_benches);
criterion_main!(benches);
