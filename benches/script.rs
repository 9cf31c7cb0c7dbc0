//! Rhai costs: the per-call overhead of a native binding (goal: under 1 µs), measured as
//! a loop calling `script_dir()` — which looks up the run context every binding needs —
//! minus the same loop empty; and growing data under the size limits every run has: the
//! cost of a `push` or a map insert and remove must not grow with the container (a count
//! and twice that, so a quadratic cost would show as 4× instead of 2×). Process
//! start-up of `localgpt run` is measured with hyperfine (see docs/development.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::config::Config;
use localgpt::home::Home;
use localgpt::policy::Policy;
use localgpt::script::{RunContext, Script, ScriptHost};

const CALLS: u64 = 100_000;

fn run_once(host: &ScriptHost, run: &Arc<RunContext>, code: &str) -> Duration {
    let script = Script {
        name: "bench".into(),
        text: code.into(),
        args: vec![],
    };
    let started = Instant::now();
    host.run(run, &script).expect("the script runs");
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::at(dir.path());
    home.ensure("").expect("home");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config::default();
    let run = Arc::new(RunContext::new(
        home.clone(),
        config.clone(),
        Policy::new(&home, dir.path(), &config.tools),
        runtime.handle().clone(),
    ));
    let host = ScriptHost::new();
    let calls = format!("for i in 0..{CALLS} {{ script_dir(); }}");
    let empty = format!("for i in 0..{CALLS} {{ }}");
    c.bench_function("rhai: one native binding call (script_dir)", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations.div_ceil(CALLS) {
                let with_calls = run_once(&host, &run, &calls);
                let without = run_once(&host, &run, &empty);
                total += with_calls.saturating_sub(without);
            }
            // Per call, scaled back up to the number of iterations criterion asked for.
            total.mul_f64(iterations as f64 / (iterations.div_ceil(CALLS) * CALLS) as f64)
        })
    });
    c.bench_function("rhai: engine for one run + trivial script", |b| {
        b.iter(|| run_once(&host, &run, "1 + 1"))
    });
    let mut group = c.benchmark_group("rhai: growing data under the size limits");
    group.sample_size(10);
    for n in [100_000, 200_000] {
        let push = format!("let a = []; for i in 0..{n} {{ a.push(i); }} a.len()");
        group.bench_function(format!("{n} pushes"), |b| {
            b.iter(|| run_once(&host, &run, &push))
        });
        // Half as many keys: `script.max_map_len` is 100,000.
        let keys = n / 2;
        let map = format!(
            "let m = #{{}}; for i in 0..{keys} {{ m[`k${{i}}`] = i; }} \
             for i in 0..{keys} {{ m.remove(`k${{i}}`); }} m.len()"
        );
        group.bench_function(format!("{keys} map inserts and removes"), |b| {
            b.iter(|| run_once(&host, &run, &map))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
