//! What the Telegram channel adds to an answer: a message handed to the bot by the Bot API
//! (the in-tree fake, long polling), the model (the fake provider, answering at once),
//! and the answer's first message back. Two figures:
//! - from the provider's first byte to the first `sendMessage` arriving at the Bot API:
//!   what the channel adds over the provider's own first-token time (goal < 50 ms);
//! - from the update handed out by `getUpdates` to that `sendMessage`: the whole way
//!   through LocalGPT (recall, the session, the request, the answer).
//!
//! `cargo bench --bench channel`.

#[path = "../tests/common/fake_provider.rs"]
mod fake_provider;
#[path = "../tests/common/fake_telegram.rs"]
mod fake_telegram;
#[path = "../tests/common/loopback.rs"]
mod loopback;
#[path = "../tests/common/strict.rs"]
mod strict;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fake_provider::{FakeProvider, Reply};
use fake_telegram::{FakeTelegram, TOKEN};

const OWNER: i64 = 111;

struct Running {
    provider: FakeProvider,
    telegram: FakeTelegram,
    bot: Child,
    _home: tempfile::TempDir,
}

fn start() -> Running {
    let provider = FakeProvider::start();
    let telegram = FakeTelegram::start();
    let home = tempfile::tempdir().expect("a temporary home");
    let command = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_localgpt"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("LOCALGPT_HOME", home.path().join("home"))
            .env("LOCALGPT_SECRETS_PASSPHRASE", "bench")
            .env("OPENAI_BASE_URL", format!("{}/v1", provider.url()))
            .env("OPENAI_API_KEY", "sk-bench-0123456789")
            .current_dir(home.path());
        command
    };
    let mut set = command(&["-q", "secrets", "set", "telegram"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("secrets set starts");
    std::io::Write::write_all(&mut set.stdin.take().expect("stdin"), TOKEN.as_bytes())
        .expect("the token is written");
    assert!(set.wait().expect("secrets set ends").success());
    std::fs::write(
        home.path().join("home/config.toml"),
        format!(
            "[agent]\nmodel = \"gpt-4o\"\n[heartbeat]\nenabled = false\n\
             [channels.telegram]\ntoken = \"secret:telegram\"\napi_url = \"{}\"\nallow = [{OWNER}]\n",
            telegram.url()
        ),
    )
    .expect("the config is written");
    let bot = command(&["channels", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("channels run starts");
    telegram.wait("the bot's first poll", |_, polls| !polls.is_empty());
    Running {
        provider,
        telegram,
        bot,
        _home: home,
    }
}

/// One message through: (provider's first byte → first sendMessage, update handed out →
/// first sendMessage).
fn one(running: &Running, n: usize) -> (Duration, Duration) {
    let sent = running.telegram.calls("sendMessage").len();
    running.provider.push(Reply::text(&["pong"]));
    running.telegram.message_from(OWNER, &format!("ping {n}"));
    running.telegram.wait("the answer", |calls, _| {
        calls.iter().filter(|(m, _)| m == "sendMessage").count() > sent
    });
    let first_byte = running
        .provider
        .take_first_frame_at()
        .expect("the provider answered");
    let (handed_out, sent_at) = running.telegram.handed_out_and_sent();
    let sent_at = sent_at.expect("a message was sent");
    (
        sent_at.saturating_duration_since(first_byte),
        sent_at.saturating_duration_since(handed_out.unwrap_or(sent_at)),
    )
}

fn bench(c: &mut Criterion) {
    let mut running = start();
    let mut n = 0;
    let mut group = c.benchmark_group("telegram channel");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("added after the provider's first byte", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    n += 1;
                    one(&running, n).0
                })
                .sum()
        })
    });
    group.bench_function("update handed out to first message", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    n += 1;
                    one(&running, n).1
                })
                .sum()
        })
    });
    group.finish();
    let _ = running.bot.kill();
    let _ = running.bot.wait();
}

criterion_group!(benches, bench);
criterion_main!(benches);
