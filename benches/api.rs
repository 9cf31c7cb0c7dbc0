//! What the HTTP API adds to the first token of a streamed chat: the fake provider
//! streams an answer with no delay, and we time, from the moment its first byte goes out,
//! the first `delta` event reaching a client of `POST /api/chat/stream` — and, as the
//! floor, the first byte reaching a client that reads the provider directly.
//! Goal: under 1 ms added. `cargo bench --bench api`.

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;
#[path = "../tests/common/loopback.rs"]
mod loopback;
#[path = "../tests/common/strict.rs"]
mod strict;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fake_provider::{FakeProvider, Reply};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(fake: &FakeProvider, home: &std::path::Path) -> (Server, u16, String) {
    let command = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_localgpt"));
        command
            .args(args)
            .env("LOCALGPT_HOME", home)
            .env("LOCALGPT_MODEL", "gpt-4o")
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENAI_BASE_URL", format!("{}/v1", fake.url()));
        command
    };
    let token = command(&["serve", "--print-token"])
        .output()
        .expect("print-token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let mut child = command(&["serve", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let port = loop {
        let line = lines.next().expect("address").expect("line");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Server(child), port, token)
}

/// Sends `request` and returns when `marker` has arrived, as a duration after the
/// provider's first byte.
fn first(fake: &FakeProvider, port: u16, request: &str, marker: &[u8]) -> Duration {
    fake.push(Reply::Text((0..50).map(|i| format!("tok{i} ")).collect()));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(request.as_bytes()).expect("write");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 16384];
    let arrived = loop {
        let read = stream.read(&mut buffer).expect("read");
        assert!(
            read > 0,
            "the stream ended first: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
        if seen.windows(marker.len()).any(|w| w == marker) {
            break Instant::now();
        }
    };
    // Read to the end so the next request starts clean.
    while stream.read(&mut buffer).map(|n| n > 0).unwrap_or(false) {}
    let wire = fake.take_first_frame_at().expect("the provider streamed");
    arrived.saturating_duration_since(wire)
}

fn bench(c: &mut Criterion) {
    let fake = FakeProvider::start();
    let home = tempfile::tempdir().expect("home");
    let (_server, port, token) = start(&fake, home.path());
    let body = r#"{"message": "stream please"}"#;
    let api = format!(
        "POST /api/chat/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let direct_body =
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}"#;
    let direct = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{direct_body}",
        direct_body.len()
    );
    first(&fake, port, &api, b"event: delta"); // warm up: the first turn opens things
    let mut group = c.benchmark_group("api first token");
    group.sample_size(50);
    group.bench_function("provider read directly (the floor)", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| first(&fake, fake.port, &direct, b"data: "))
                .sum()
        })
    });
    group.bench_function("POST /api/chat/stream, first delta event", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| first(&fake, port, &api, b"event: delta"))
                .sum()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
