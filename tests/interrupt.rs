//! A conversation stays one every provider accepts, whatever stops a turn: Ctrl-C while a
//! tool runs or at an approval question, a client that goes away in the middle of a tool
//! round, a transcript an older version left broken — and the session continues after
//! each, resumed. Every case runs for the OpenAI, Anthropic and Ollama wire formats
//! against the fake provider, which refuses what those APIs refuse (and fails the test if
//! it had to).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::{Value, json};

/// One model per wire format.
const OPENAI: &str = "gpt-4o";
const ANTHROPIC: &str = "claude-sonnet-4-5";
const OLLAMA: &str = "llama3.2";

fn setup(model: &str, config: &str) -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", model);
    t.write(
        "config.toml",
        &format!("[agent]\nmax_retries = 0\n{config}"),
    );
    (fake, t)
}

/// The tool results the request carried, in order.
fn results_in(format: &str, body: &Value) -> Vec<String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    match format {
        ANTHROPIC => messages
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter(|b| b["type"] == "tool_result")
            .map(|b| b["content"].as_str().unwrap_or_default().to_string())
            .collect(),
        _ => messages
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap_or_default().to_string())
            .collect(),
    }
}

/// Waits until `ready` holds for the newest transcript (the server writes it while the
/// test watches); the deadline only bounds a failure.
fn wait_for_transcript(t: &Test, what: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(newest) = t.transcripts().into_iter().next()
            && ready(&newest)
        {
            return newest;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
fn ctrl_c_while_a_tool_runs(model: &str) {
    let (fake, t) = setup(model, "[tools]\napproval = \"auto\"\n");
    fake.push(Reply::tool("bash", json!({"command": "sleep 30"})));
    fake.push(Reply::text(&["after the interruption"]));
    fake.push(Reply::text(&["resumed fine"]));
    let mut p = t.pty(&[], &[("NO_COLOR", "1")]);
    p.exp_string("chat ").unwrap();
    p.send_line("run the slow thing").unwrap();
    // The tool line shows once the command runs.
    p.exp_string("bash: sleep 30").unwrap();
    let pressed = Instant::now();
    p.send_control('c').unwrap();
    p.exp_string("[interrupted]").unwrap();
    assert!(pressed.elapsed() < Duration::from_secs(10));
    p.send_line("what happened?").unwrap();
    p.exp_string("after the interruption").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let second = &fake.received()[1].body;
    let results = results_in(model, second);
    assert_eq!(results.len(), 1, "{second:#}");
    assert!(results[0].starts_with("interrupted"), "{results:?}");
    // The transcript says exactly that, and the session continues after a resume.
    let transcript = &t.transcripts()[0];
    assert!(
        transcript.iter().any(|r| r["type"] == "tool_result"
            && r["content"].as_str().unwrap().starts_with("interrupted")),
        "{transcript:#?}"
    );
    let out = t
        .command()
        .args(["chat", "--resume", "last"])
        .write_stdin("and now?\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("resumed fine"));
    assert_eq!(results_in(model, &fake.received()[2].body).len(), 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_a_tool_runs_openai() {
    ctrl_c_while_a_tool_runs(OPENAI);
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_a_tool_runs_anthropic() {
    ctrl_c_while_a_tool_runs(ANTHROPIC);
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_a_tool_runs_ollama() {
    ctrl_c_while_a_tool_runs(OLLAMA);
}

/// Two calls in one answer, Ctrl-C at the first one's approval question: the turn stops
/// at once, neither runs, both are answered, and the next turn is accepted.
#[cfg(unix)]
fn ctrl_c_at_an_approval_question(model: &str) {
    let (fake, t) = setup(model, "");
    let file = t.scratch().join("keep.txt");
    std::fs::write(&file, "keep me").unwrap();
    let path = file.to_str().unwrap();
    fake.push(Reply::Tools(vec![
        (
            "write_file".into(),
            json!({"path": path, "content": "gone"}),
        ),
        ("bash".into(), json!({"command": format!("rm {path}")})),
    ]));
    fake.push(Reply::text(&["fine, nothing changed"]));
    let mut p = t.pty(&[], &[("NO_COLOR", "1")]);
    p.exp_string("chat ").unwrap();
    p.send_line("clean up").unwrap();
    p.exp_string("[a]lways").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("[interrupted]").unwrap();
    p.send_line("ok?").unwrap();
    p.exp_string("fine, nothing changed").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let results = results_in(model, &fake.received()[1].body);
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.contains("interrupted") || r.starts_with("not run"))
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_at_an_approval_question_openai() {
    ctrl_c_at_an_approval_question(OPENAI);
}

#[cfg(unix)]
#[test]
fn ctrl_c_at_an_approval_question_anthropic() {
    ctrl_c_at_an_approval_question(ANTHROPIC);
}

#[cfg(unix)]
#[test]
fn ctrl_c_at_an_approval_question_ollama() {
    ctrl_c_at_an_approval_question(OLLAMA);
}

/// Keys typed while the model was still thinking are not the answer; one key, no Enter, is.
#[cfg(unix)]
#[test]
fn typed_ahead_text_is_not_an_answer_and_one_key_is() {
    let (fake, t) = setup(OPENAI, "");
    let file = t.scratch().join("keep.txt");
    std::fs::write(&file, "keep me").unwrap();
    let arguments = json!({"path": file.to_str().unwrap(), "content": "changed"});
    fake.push(Reply::tool("write_file", arguments.clone()).after(Duration::from_millis(800)));
    fake.push(Reply::text(&["declined, as you said"]));
    fake.push(Reply::tool("write_file", arguments));
    fake.push(Reply::text(&["written"]));
    let mut p = t.pty(&[], &[("NO_COLOR", "1")]);
    p.exp_string("chat ").unwrap();
    p.send_line("change it").unwrap();
    // Typed while the model thinks: not an answer to a question not yet asked.
    p.send("y").unwrap();
    p.flush().unwrap();
    p.exp_string("[a]lways").unwrap();
    p.send("n").unwrap();
    p.flush().unwrap();
    p.exp_string("declined, as you said").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    p.send_line("change it now").unwrap();
    p.exp_string("[a]lways").unwrap();
    // One key, no Enter.
    p.send("y").unwrap();
    p.flush().unwrap();
    p.exp_string("written").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "changed");
}

/// A write the path policy refuses is refused without asking.
#[cfg(unix)]
#[test]
fn no_question_is_asked_for_what_the_policy_refuses() {
    let (fake, t) = setup(OPENAI, "");
    fake.push(Reply::tool(
        "write_file",
        json!({"path": "../escape.md", "content": "x"}),
    ));
    fake.push(Reply::text(&["that folder is off limits"]));
    let mut p = t.pty(&[], &[("NO_COLOR", "1")]);
    p.exp_string("chat ").unwrap();
    p.send_line("write outside").unwrap();
    p.exp_string("that folder is off limits").unwrap();
    p.send_control('d').unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("[a]lways"), "{rest}");
    let results = results_in(OPENAI, &fake.received()[1].body);
    assert!(results[0].contains("outside the folders"), "{results:?}");
    assert!(!t.scratch().parent().unwrap().join("escape.md").exists());
}

fn post(server: &crate::server::Server, path: &str, body: &Value) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.port,
        server.token,
        body.len()
    )
    .unwrap();
    stream
}

fn client_disconnects_mid_tool_round(model: &str) {
    let (fake, t) = setup(model, "[heartbeat]\nallow_bash = true\n");
    fake.push(Reply::tool("bash", json!({"command": "sleep 30"})));
    fake.push(Reply::text(&["continued after the disconnect"]));
    let server = crate::server::start(&t);
    let stream = post(&server, "/api/chat/stream", &json!({"message": "run it"}));
    let mut reader = BufReader::new(stream);
    let mut seen = String::new();
    while !seen.contains("event: tool_call") {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    let session = seen
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-session-id: ")
                .map(str::to_string)
        })
        .expect("the session id header");
    drop(reader);
    // The server notices, stops the command and closes the round in the transcript.
    let transcript = wait_for_transcript(&t, "the interrupted result", |records| {
        records.iter().any(|r| {
            r["type"] == "tool_result"
                && r["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("interrupted"))
        })
    });
    // The round closed: its result, then the note that the user's side stopped it.
    let tail: Vec<&str> = transcript
        .iter()
        .rev()
        .take(2)
        .map(|r| r["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tail, ["message", "tool_result"], "{transcript:#?}");
    // Continued by id: the provider accepts it.
    let mut stream = post(
        &server,
        "/api/chat",
        &json!({"message": "and now?", "session_id": session.trim()}),
    );
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("continued after the disconnect"),
        "{response}"
    );
    assert_eq!(results_in(model, &fake.received()[1].body).len(), 1);
}

#[test]
fn a_client_that_disconnects_mid_tool_round_leaves_a_session_that_continues_openai() {
    client_disconnects_mid_tool_round(OPENAI);
}

#[test]
fn a_client_that_disconnects_mid_tool_round_leaves_a_session_that_continues_anthropic() {
    client_disconnects_mid_tool_round(ANTHROPIC);
}

#[test]
fn a_client_that_disconnects_mid_tool_round_leaves_a_session_that_continues_ollama() {
    client_disconnects_mid_tool_round(OLLAMA);
}

/// What older versions left behind: a call without its result (the REPL dropped every
/// tool message after Ctrl-C), a result without its call, an empty answer, two user
/// messages in a row.
fn an_old_broken_transcript_loads_and_continues(model: &str) {
    let (fake, t) = setup(model, "");
    fake.push(Reply::text(&["picking up from there"]));
    let lines = [
        json!({"type": "meta", "id": "20250101-090000-0001", "model": model, "source": "repl", "started": "2025-01-01T09:00:00+00:00"}),
        json!({"type": "message", "role": "user", "content": "list the files"}),
        json!({"type": "message", "role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "name": "bash", "arguments": {"command": "ls"}}]}),
        json!({"type": "message", "role": "assistant", "content": "partial [interrupted]"}),
        json!({"type": "tool_result", "call_id": "call_zombie", "name": "bash", "content": "x"}),
        json!({"type": "message", "role": "assistant", "content": "  "}),
        json!({"type": "message", "role": "user", "content": "hello?"}),
        json!({"type": "message", "role": "user", "content": "anyone?"}),
    ];
    let text_lines: Vec<String> = lines.iter().map(Value::to_string).collect();
    t.write(
        "sessions/20250101-090000-0001.jsonl",
        &format!("{}\n", text_lines.join("\n")),
    );
    let out = t
        .command()
        .args(["chat", "--resume", "20250101"])
        .write_stdin("continue\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("picking up from there"));
    let sent = &fake.received()[0].body;
    let results = results_in(model, sent);
    assert_eq!(results.len(), 1, "{sent:#}");
    assert!(results[0].contains("interrupted"));
    // The log says what was repaired.
    let logs = std::fs::read_dir(t.path("logs")).unwrap();
    let log: String = logs
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    assert!(log.contains("conversation repaired"), "{log}");
}

#[test]
fn an_old_broken_transcript_loads_and_continues_openai() {
    an_old_broken_transcript_loads_and_continues(OPENAI);
}

#[test]
fn an_old_broken_transcript_loads_and_continues_anthropic() {
    an_old_broken_transcript_loads_and_continues(ANTHROPIC);
}

#[test]
fn an_old_broken_transcript_loads_and_continues_ollama() {
    an_old_broken_transcript_loads_and_continues(OLLAMA);
}

/// The strict fake itself: it refuses what the real APIs refuse.
#[test]
fn the_fake_refuses_an_unanswered_call_as_each_api_does() {
    let fake = FakeProvider::start();
    fake.expect_refusals();
    let client = |path: &str, body: Value, anthropic: bool| {
        let mut stream = TcpStream::connect(("127.0.0.1", fake.port)).unwrap();
        let body = body.to_string();
        let extra = if anthropic {
            "x-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
        } else {
            ""
        };
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        response
    };
    let openai = client(
        "/v1/chat/completions",
        json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "user", "content": "next"}]}),
        false,
    );
    assert!(openai.starts_with("HTTP/1.1 400"), "{openai}");
    assert!(
        openai.contains("must be followed by tool messages"),
        "{openai}"
    );
    let anthropic = client(
        "/v1/messages",
        json!({"model": "claude-x", "max_tokens": 10, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "bash", "input": {}}]},
            {"role": "user", "content": "next"}]}),
        true,
    );
    assert!(
        anthropic.contains("without `tool_result` blocks"),
        "{anthropic}"
    );
    let first = client(
        "/v1/messages",
        json!({"model": "claude-x", "max_tokens": 10, "messages": [
            {"role": "assistant", "content": "hello"}, {"role": "user", "content": "hi"}]}),
        true,
    );
    assert!(first.contains("first message must use the"), "{first}");
    let ollama = client(
        "/api/chat",
        json!({"model": "llama3.2", "messages": [{"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "bash", "arguments": "not json"}}]}]}),
        false,
    );
    assert!(ollama.contains("cannot unmarshal string"), "{ollama}");
    assert_eq!(fake.refusals().len(), 4);
}
