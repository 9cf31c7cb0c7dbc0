//! Sessions at scale: listing 10,000 saved sessions (goal under 200 ms) and loading a
//! 50 MB transcript to resume it (goal under 1 s).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::home::Home;
use localgpt::session::{Sessions, load};
use serde_json::json;

fn transcript(id: &str, turns: usize, text_len: usize) -> String {
    let mut lines = vec![
        json!({"type": "meta", "id": id, "model": "gpt-4o", "source": "repl",
        "started": "2026-11-24T09:00:00+00:00"})
        .to_string(),
    ];
    let body = "lorem ipsum dolor sit amet ".repeat(text_len / 27 + 1);
    for turn in 0..turns {
        lines.push(json!({"type": "message", "role": "user", "content": format!("question {turn} {body}")}).to_string());
        lines.push(
            json!({"type": "message", "role": "assistant", "content": body, "tool_calls": []})
                .to_string(),
        );
        lines.push(
            json!({"type": "usage", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 20})
                .to_string(),
        );
    }
    lines.join("\n") + "\n"
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::at(dir.path());
    home.ensure("").expect("home");
    for n in 0..10_000 {
        let id = format!("20261124-{:06}-{:04x}", n, n % 65536);
        let text = transcript(&id, 3, 200);
        std::fs::write(home.sessions_dir().join(format!("{id}.jsonl")), text).expect("write");
    }
    let sessions = Sessions::new(&home);
    let mut group = c.benchmark_group("sessions");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("list the newest 20 of 10,000", |b| {
        b.iter(|| assert_eq!(sessions.list(20).expect("list").len(), 20))
    });
    group.bench_function("list all 10,000 with titles and turns", |b| {
        b.iter(|| assert_eq!(sessions.list(10_000).expect("list").len(), 10_000))
    });
    let big = dir.path().join("big.jsonl");
    std::fs::write(&big, transcript("big", 12_000, 2_000)).expect("write");
    let size = std::fs::metadata(&big).expect("size").len();
    eprintln!("big transcript: {:.1} MB", size as f64 / 1048576.0);
    group.bench_function("load a 50 MB transcript", |b| {
        b.iter(|| assert_eq!(load(&big).expect("load").turns, 12_000))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
