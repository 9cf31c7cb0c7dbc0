//! What LocalGPT's stack adds to a streamed answer: the fake provider streams 2,000 tokens
//! with no delay, and we time, from the moment its first byte goes out,
//! - the first byte on `localgpt ask`'s stdout, and its last;
//! - the same for `curl -N` reading the raw stream (the floor: no parsing at all).
//!
//! Goals: under 1 ms added to the first token, under 5% added to the whole stream.
//! `cargo bench --bench ask` (needs curl).

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;
#[path = "../tests/common/loopback.rs"]
mod loopback;
#[path = "../tests/common/strict.rs"]
mod strict;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fake_provider::{FakeProvider, Reply};

const TOKENS: usize = 2_000;

/// Runs `command`, returning (first stdout byte, end of stdout) as durations since the
/// provider's first byte.
fn measure(fake: &FakeProvider, mut command: Command) -> (Duration, Duration) {
    fake.push(Reply::Text(
        (0..TOKENS).map(|i| format!("tok{i} ")).collect(),
    ));
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buffer = [0u8; 65536];
    let mut first = None;
    loop {
        let read = stdout.read(&mut buffer).expect("read");
        if read == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
    }
    let end = Instant::now();
    assert!(child.wait().expect("wait").success(), "the command failed");
    let wire = fake.take_first_frame_at().expect("the provider streamed");
    let first = first.expect("some output");
    (
        first.saturating_duration_since(wire),
        end.saturating_duration_since(wire),
    )
}

fn localgpt(fake: &FakeProvider, home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_localgpt"));
    command
        .args([
            "-q",
            "ask",
            "--no-tools",
            "--model",
            "gpt-4o",
            "stream please",
        ])
        .env("LOCALGPT_HOME", home)
        .env("OPENAI_API_KEY", "sk-bench")
        .env("OPENAI_BASE_URL", format!("{}/v1", fake.url()));
    command
}

fn curl(fake: &FakeProvider) -> Command {
    let mut command = Command::new("curl");
    command.args([
        "-sN",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"stream please"}],"stream":true}"#,
        &format!("{}/v1/chat/completions", fake.url()),
    ]);
    command
}

fn bench(c: &mut Criterion) {
    let fake = FakeProvider::start();
    let home = tempfile::tempdir().expect("home");
    measure(&fake, localgpt(&fake, home.path())); // first run creates the home folder

    let mut group = c.benchmark_group("ask stack overhead");
    group.sample_size(30);
    for (name, which) in [("curl", 0), ("localgpt ask", 1)] {
        let make = |fake: &FakeProvider| {
            if which == 0 {
                curl(fake)
            } else {
                localgpt(fake, home.path())
            }
        };
        group.bench_function(format!("first byte after the provider's: {name}"), |b| {
            b.iter_custom(|iterations| (0..iterations).map(|_| measure(&fake, make(&fake)).0).sum())
        });
        group.bench_function(format!("whole stream of {TOKENS} tokens: {name}"), |b| {
            b.iter_custom(|iterations| (0..iterations).map(|_| measure(&fake, make(&fake)).1).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
