//! Start-up cost of the binary, end to end: process spawn, argument parsing, home folder
//! checks, config parsing and output. Goal (release build, this 2-core machine): under
//! 5 ms each for `localgpt --version` and `localgpt config show`.
//!
//! `cargo bench --bench startup`. Peak memory is measured outside criterion; see the
//! README's "Benchmarks" section.

use std::process::{Command, Stdio};

use criterion::{Criterion, criterion_group, criterion_main};

fn run(home: &std::path::Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_localgpt"))
        .args(args)
        .env("LOCALGPT_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the localgpt binary runs");
    assert!(status.success(), "localgpt {args:?} failed");
}

fn startup(c: &mut Criterion) {
    let home = tempfile::tempdir().expect("temporary home");
    // The first run creates the home folder; measure the steady state.
    run(home.path(), &["config", "show"]);
    c.bench_function("localgpt --version", |b| {
        b.iter(|| run(home.path(), &["--version"]))
    });
    c.bench_function("localgpt config show", |b| {
        b.iter(|| run(home.path(), &["config", "show"]))
    });
}

criterion_group!(benches, startup);
criterion_main!(benches);
