//! Memory index and search on the synthetic corpus (`corpus/`): 10,000 Markdown files,
//! 50 MB.
//!
//! Goals on the 2-core machine: full index under 20 s; a reindex with nothing changed
//! under 300 ms; search median under 5 ms and 99th percentile under 20 ms over a mixed
//! set of queries. `cargo bench --bench memory` prints the percentiles and the index size
//! relative to the corpus after criterion's own report.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::memory::{Freshness, Memory, Sources, Store};

mod corpus;

use corpus::{FILES, Rng, TOPICS, generate, vocabulary};

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
