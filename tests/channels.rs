//! `localgpt channels`: a Telegram bot against an in-tree Bot API server that follows the
//! documentation, and the fake model provider. The bot's token comes from the secrets
//! store, as the docs tell a person to keep it.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::fake_telegram::{FakeTelegram, TOKEN};
use crate::common::{Test, text};

const OWNER: i64 = 111;
const STRANGER: i64 = 666;

/// A home whose Telegram bot talks to `telegram`, allows [`OWNER`], and whose model is
/// the fake's gpt-4o; the token kept in the secrets store.
fn setup(provider: &FakeProvider, telegram: &FakeTelegram) -> Test {
    let t = Test::new()
        .with_fake(provider)
        .env("LOCALGPT_SECRETS_PASSPHRASE", "channel tests");
    t.command()
        .args(["secrets", "set", "telegram"])
        .write_stdin(TOKEN)
        .assert()
        .success();
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\n\n[channels.telegram]\ntoken = \"secret:telegram\"\n\
             api_url = \"{}\"\nallow = [{OWNER}]\napproval_timeout_secs = 60\n",
            telegram.url()
        ),
    );
    t
}

/// The two fakes and a home whose bot talks to them.
fn fakes() -> (FakeProvider, FakeTelegram, Test) {
    let provider = FakeProvider::start();
    let telegram = FakeTelegram::start();
    let t = setup(&provider, &telegram);
    (provider, telegram, t)
}

/// `localgpt channels run`, in the background until [`stop`].
fn start(t: &Test) -> Child {
    t.std_command()
        .args(["channels", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Ctrl-C, as a person stops it: the bot finishes what it was writing down and exits.
fn stop(mut child: Child) {
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "channels run ended with {status}");
}

/// Killed outright, as a crash or a power cut would end it.
fn crash(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn sent_to(telegram: &FakeTelegram, chat: i64) -> Vec<String> {
    telegram
        .calls("sendMessage")
        .iter()
        .filter(|body| body["chat_id"] == json!(chat) && body.get("reply_markup").is_none())
        .map(|body| body["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// What the chat shows from the bot, question messages aside: each answer message with
/// its last edit.
fn shown_to(telegram: &FakeTelegram, chat: i64) -> Vec<String> {
    let edits = telegram.calls("editMessageText");
    telegram
        .calls("sendMessage")
        .iter()
        .filter(|body| body["chat_id"] == json!(chat) && body.get("reply_markup").is_none())
        .map(|body| {
            let id = &body["_message_id"];
            edits
                .iter()
                .rev()
                .find(|edit| &edit["message_id"] == id)
                .unwrap_or(body)["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn count(calls: &[(String, Value)], method: &str) -> usize {
    calls.iter().filter(|(m, _)| m == method).count()
}

#[test]
fn the_owner_is_answered_in_pieces_a_stranger_never_reaches_the_model_and_a_restart_answers_nothing_twice()
 {
    let (provider, telegram, t) = fakes();
    let long = format!(
        "{}\n\n{}",
        "first part ".repeat(300),
        "second part ".repeat(200)
    );
    provider.push(Reply::text(&[&long]));
    telegram.message_from(STRANGER, "stranger asks for the memory");
    telegram.message_from(OWNER, "hello bot");
    let child = start(&t);
    telegram.wait("the refusal and the answer's two pieces", |calls, _| {
        count(calls, "sendMessage") >= 3
    });
    stop(child);
    let refusal = sent_to(&telegram, STRANGER);
    assert_eq!(refusal.len(), 1, "{refusal:?}");
    assert!(
        refusal[0].contains("only the people its owner allows"),
        "{refusal:?}"
    );
    let pieces = shown_to(&telegram, OWNER);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert!(pieces.iter().all(|p| p.encode_utf16().count() <= 4096));
    assert_eq!(
        pieces.join(" ").split_whitespace().collect::<Vec<_>>(),
        long.split_whitespace().collect::<Vec<_>>()
    );
    let requests = provider.received();
    assert_eq!(
        requests.len(),
        1,
        "only the owner's message reached the model"
    );
    assert!(!requests[0].body.to_string().contains("stranger"));
    assert!(requests[0].body.to_string().contains("hello bot"));

    // Started again: nothing is answered twice, and the chat's conversation goes on.
    let sent_before = telegram.calls("sendMessage").len();
    let polls_before = telegram.polls().len();
    let child = start(&t);
    telegram.wait("the restarted bot to poll", |_, polls| {
        polls.len() > polls_before
    });
    assert_eq!(telegram.calls("sendMessage").len(), sent_before);
    assert!(
        telegram.polls()[polls_before..]
            .iter()
            .all(|&offset| offset > 1002)
    );
    provider.push(Reply::text(&["Second answer"]));
    telegram.message_from(OWNER, "and again");
    telegram.wait("the second answer", |calls, _| {
        count(calls, "sendMessage") > sent_before
    });
    stop(child);
    assert_eq!(shown_to(&telegram, OWNER).last().unwrap(), "Second answer");
    let second = provider.received()[1].body.to_string();
    assert!(
        second.contains("hello bot") && second.contains("and again"),
        "{second}"
    );
}

#[test]
fn a_tool_is_approved_and_refused_with_buttons_and_a_strangers_press_counts_for_nothing() {
    let (provider, telegram, t) = fakes();
    provider.push(Reply::tool("bash", json!({"command": "echo approved-run"})));
    provider.push(Reply::text(&["ran it"]));
    telegram.message_from(OWNER, "run the thing");
    let child = start(&t);
    let question = |n: usize| {
        telegram.wait("a question with buttons", |calls, _| {
            calls
                .iter()
                .filter(|(m, body)| m == "sendMessage" && body.get("reply_markup").is_some())
                .count()
                >= n
        });
        let asked: Vec<Value> = telegram
            .calls("sendMessage")
            .into_iter()
            .filter(|body| body.get("reply_markup").is_some())
            .collect();
        let body = asked[n - 1].clone();
        let data = |row: usize, column: usize| {
            body["reply_markup"]["inline_keyboard"][row][column]["callback_data"]
                .as_str()
                .unwrap()
                .to_string()
        };
        (
            body["_message_id"].as_i64().unwrap(),
            data(0, 0),
            data(1, 0),
        )
    };
    let (message, approve, _) = question(1);
    assert!(approve.len() <= 64);
    // A stranger's press is answered and ignored; the owner's is taken.
    telegram.press(STRANGER, message, &approve);
    telegram.press(OWNER, message, &approve);
    telegram.wait("the answer after the tool", |calls, _| {
        calls
            .iter()
            .any(|(m, body)| m == "sendMessage" && body["text"] == "ran it")
    });
    assert!(provider.last_tool_result().contains("approved-run"));
    let answered: Vec<String> = telegram
        .calls("answerCallbackQuery")
        .iter()
        .map(|body| body["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        answered.contains(&"This question is no longer open".to_string()),
        "{answered:?}"
    );
    let edits = telegram.calls("editMessageText");
    assert!(edits[0]["text"].as_str().unwrap().contains("approved once"));

    provider.push(Reply::tool("bash", json!({"command": "echo refused-run"})));
    provider.push(Reply::text(&["did not run it"]));
    telegram.message_from(OWNER, "run the other thing");
    let (message, _, refuse) = question(2);
    telegram.press(OWNER, message, &refuse);
    telegram.wait("the answer after the refusal", |calls, _| {
        calls
            .iter()
            .any(|(m, body)| m == "sendMessage" && body["text"] == "did not run it")
    });
    stop(child);
    let result = provider.last_tool_result();
    assert!(
        !result.contains("refused-run\n") && result.to_lowercase().contains("refused"),
        "{result}"
    );
}

#[test]
fn a_rate_limit_is_waited_out_as_retry_after_says() {
    let (provider, telegram, t) = fakes();
    provider.push(Reply::text(&["after the wait"]));
    telegram.rate_limit_next_sends(1);
    telegram.message_from(OWNER, "hi");
    let child = start(&t);
    telegram.wait("the answer", |calls, _| count(calls, "sendMessage") >= 1);
    stop(child);
    assert_eq!(telegram.calls("429").len(), 1);
    assert_eq!(sent_to(&telegram, OWNER), ["after the wait"]);
}

#[test]
fn test_send_and_status_and_a_bad_token_is_named_without_being_shown() {
    let (_provider, telegram, t) = fakes();
    let out = t.run(["channels", "test", "telegram"]).success();
    let said = text(&out.get_output().stdout);
    assert!(
        said.contains("@test_bot") && !said.contains(TOKEN),
        "{said}"
    );
    t.run(["channels", "send", "telegram:111", "the task is done"])
        .success();
    assert_eq!(sent_to(&telegram, OWNER), ["the task is done"]);
    let status = t.run(["channels", "status"]).success();
    let status = text(&status.get_output().stdout);
    assert!(
        status.contains("secret:telegram") && status.contains("1 user(s)"),
        "{status}"
    );
    t.run(["channels", "send", "matrix:1", "x"]).failure();

    t.command()
        .args(["secrets", "set", "telegram"])
        .write_stdin("999:wrong-token-0123456789")
        .assert()
        .success();
    let out = t.run(["channels", "test", "telegram"]).failure();
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("401") && !stderr.contains("wrong-token"),
        "{stderr}"
    );
}

#[test]
fn a_message_cut_short_by_a_crash_is_answered_after_the_restart_and_only_once() {
    let (provider, telegram, t) = fakes();
    // The model is slow: the bot dies while it waits.
    provider.push(Reply::text(&["never sent"]).after(Duration::from_secs(60)));
    telegram.message_from(OWNER, "what is on today?");
    let child = start(&t);
    let deadline = Instant::now() + Duration::from_secs(30);
    while provider.received().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the message never reached the model"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    crash(child);
    assert!(sent_to(&telegram, OWNER).is_empty());
    provider.push(Reply::text(&["answered after the restart"]));
    let child = start(&t);
    telegram.wait("the answer", |calls, _| count(calls, "sendMessage") >= 1);
    stop(child);
    assert_eq!(sent_to(&telegram, OWNER), ["answered after the restart"]);
    let asked = provider.received()[1].body.to_string();
    assert!(asked.contains("what is on today?"), "{asked}");
}

#[test]
fn a_heartbeat_message_and_a_scripts_send_reach_the_chat() {
    let (provider, telegram, t) = fakes();
    let config = t.read("config.toml");
    t.write(
        "config.toml",
        &format!("{config}\n[heartbeat]\nactive_hours = \"\"\ndeliver = [\"telegram:{OWNER}\"]\n"),
    );
    t.write(
        "workspace/HEARTBEAT.md",
        "# Heartbeat\n- [ ] tell me when the certificate is due\n",
    );
    provider.push(Reply::text(&["The certificate expires on Friday."]));
    t.run(["heartbeat", "check"]).success();
    assert_eq!(
        sent_to(&telegram, OWNER),
        ["The certificate expires on Friday."]
    );

    t.run(["run", "-e", "send(\"telegram:111\", \"from a script\")"])
        .success();
    assert_eq!(sent_to(&telegram, OWNER).last().unwrap(), "from a script");
    let out = t
        .run(["run", "-e", "send(\"telegram:not-a-chat\", \"x\")"])
        .failure();
    assert!(text(&out.get_output().stderr).contains("SERVICE:CHAT"));

    // A chat the bot cannot reach: the check says so, and the message stays in the log.
    let config = t
        .read("config.toml")
        .replace("deliver = [\"telegram:111\"]", "deliver = [\"matrix:1\"]");
    t.write("config.toml", &config);
    let out = t.run(["heartbeat", "check"]).failure();
    assert!(
        text(&out.get_output().stderr).contains("heartbeat.deliver"),
        "bad targets are refused at load"
    );
}

#[test]
fn the_daemon_answers_the_bot_and_a_second_runner_is_refused() {
    let (provider, telegram, t) = fakes();
    let config = t.read("config.toml");
    t.write(
        "config.toml",
        &format!("{config}\n[heartbeat]\nenabled = false\n"),
    );
    provider.push(Reply::text(&["answered by the daemon"]));
    telegram.message_from(OWNER, "are you there?");
    let mut daemon = crate::heartbeat::spawn_daemon(&t);
    telegram.wait("the daemon's answer", |calls, _| {
        count(calls, "sendMessage") >= 1
    });
    assert_eq!(sent_to(&telegram, OWNER), ["answered by the daemon"]);
    let out = t.run(["channels", "run"]).failure();
    assert!(text(&out.get_output().stderr).contains("already answering this bot"));
    let status = crate::heartbeat::terminate(&mut daemon);
    assert!(status.success(), "{status}");
}

#[test]
fn an_answer_shows_as_it_is_written_by_editing_its_message() {
    let (provider, telegram, t) = fakes();
    // Each piece comes 1.5 s after the one before: the first is shown before the rest.
    provider.push(
        Reply::text(&["The first words", ", then the rest."]).after(Duration::from_millis(1500)),
    );
    telegram.message_from(OWNER, "tell me slowly");
    let child = start(&t);
    telegram.wait("the finished answer", |calls, _| {
        calls.iter().any(|(m, body)| {
            m == "editMessageText" && body["text"] == "The first words, then the rest."
        })
    });
    stop(child);
    let sent = telegram.calls("sendMessage");
    assert_eq!(sent.len(), 1, "one message, edited: {sent:?}");
    // Still "typing…" while the first words were 1.5 s away? Once at the start; the
    // second, four seconds on, is for slower turns.
    assert!(!telegram.calls("sendChatAction").is_empty());
    assert_eq!(sent[0]["text"], "The first words");
    assert_eq!(
        shown_to(&telegram, OWNER),
        ["The first words, then the rest."]
    );
}

#[test]
fn markdown_answers_are_sent_as_telegrams_html_escaped() {
    let (provider, telegram, t) = fakes();
    provider.push(Reply::text(&["**Done**: `x < y` & <b>not a tag</b>"]));
    telegram.message_from(OWNER, "format something");
    let child = start(&t);
    telegram.wait("the answer", |calls, _| count(calls, "sendMessage") >= 1);
    stop(child);
    let sent = telegram.calls("sendMessage");
    assert_eq!(sent[0]["parse_mode"], "HTML");
    assert_eq!(
        shown_to(&telegram, OWNER),
        ["<b>Done</b>: <code>x &lt; y</code> &amp; &lt;b&gt;not a tag&lt;/b&gt;"]
    );
}

#[test]
fn a_pairing_code_lets_one_stranger_in_once_and_is_saved_in_the_allow_list() {
    let (provider, telegram, t) = fakes();
    let child = start(&t);
    let out = t.run(["channels", "pair", "telegram"]).success();
    let said = text(&out.get_output().stdout);
    let code = said
        .split_whitespace()
        .find(|word| word.len() == 9 && word.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no code in {said}"))
        .to_string();
    assert!(said.contains("@test_bot"), "{said}");
    telegram.message_from(STRANGER, "0000-0000");
    telegram.message_from(STRANGER, &code);
    // Another stranger with the same code, after it was used: refused.
    telegram.message_from(777, &code);
    provider.push(Reply::text(&["hello, new friend"]));
    telegram.message_from(STRANGER, "hello");
    telegram.wait("the paired stranger's answer", |calls, _| {
        calls
            .iter()
            .any(|(m, body)| m == "sendMessage" && body["text"] == "hello, new friend")
    });
    stop(child);
    let to_stranger = sent_to(&telegram, STRANGER);
    assert!(
        to_stranger[0].contains("only the people its owner allows"),
        "{to_stranger:?}"
    );
    assert!(to_stranger[1].starts_with("Paired"), "{to_stranger:?}");
    assert_eq!(to_stranger.len(), 3, "{to_stranger:?}");
    assert!(sent_to(&telegram, 777)[0].contains("only the people"));
    let requests = provider.received();
    assert_eq!(
        requests.len(),
        1,
        "neither the codes nor the refused reached the model"
    );
    assert!(!requests[0].body.to_string().contains(&code));
    assert!(
        t.read("config.toml")
            .contains(&format!("allow = [{OWNER}, {STRANGER}]"))
    );
}

#[test]
fn a_text_file_reaches_the_model_and_other_files_are_declined() {
    let (provider, telegram, t) = fakes();
    provider.push(Reply::text(&["read it"]));
    telegram.document_from(
        OWNER,
        "notes.md",
        "text/markdown",
        b"# Trip\nLisbon in May",
        "summarise this",
    );
    telegram.document_from(OWNER, "photo.jpg", "image/jpeg", &[0xff, 0xd8, 0xff], "");
    let child = start(&t);
    telegram.wait("the answer and the refusal", |calls, _| {
        count(calls, "sendMessage") >= 2
    });
    stop(child);
    let asked = provider.received()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        asked.starts_with("summarise this")
            && asked.contains("[file notes.md]")
            && asked.contains("Lisbon in May"),
        "{asked}"
    );
    let said = sent_to(&telegram, OWNER);
    assert!(
        said.iter().any(|s| s.contains("photo.jpg is not one")),
        "{said:?}"
    );
    assert_eq!(provider.received().len(), 1);
}

#[test]
fn a_slow_turn_keeps_showing_typing_until_it_writes() {
    let (provider, telegram, t) = fakes();
    provider.push(Reply::text(&["at last"]).after(Duration::from_millis(4_500)));
    telegram.message_from(OWNER, "think hard");
    let child = start(&t);
    telegram.wait("the answer", |calls, _| count(calls, "sendMessage") >= 1);
    stop(child);
    assert!(telegram.calls("sendChatAction").len() >= 2);
    assert_eq!(shown_to(&telegram, OWNER), ["at last"]);
}

#[test]
fn the_token_stays_out_of_the_most_verbose_log() {
    let (_provider, telegram, t) = fakes();
    for filter in ["trace", "debug"] {
        let out = t
            .command()
            .env("RUST_LOG", filter)
            .args(["channels", "send", "telegram:111", "hello"])
            .assert()
            .success();
        let stderr = text(&out.get_output().stderr);
        assert!(!stderr.is_empty(), "{filter} logs something");
        assert!(
            !stderr.contains(TOKEN) && !stderr.contains("TEST-token"),
            "{filter}: {stderr}"
        );
    }
    let logs = std::fs::read_dir(t.home().join("logs"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(!logs.contains("TEST-token"));
    assert_eq!(sent_to(&telegram, OWNER).len(), 2);
}
