//! `localgpt ask` against the fake provider: each wire format's text and tool round trip,
//! retries, timeouts, cut streams, the path policy, approvals and `--json`.

use std::time::{Duration, Instant};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use predicates::prelude::*;
use serde_json::{Value, json};

fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    // Quick retries keep fault tests short; the policy itself is unit-tested.
    t.write("config.toml", "[agent]\nmax_retries = 2\n");
    (fake, t)
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    text(&assert.get_output().stdout)
}

#[test]
fn openai_streams_text_with_the_real_wire_format() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["Hello", ", ", "world"]));
    let out = t
        .run(["ask", "--model", "gpt-4o", "say", "hello"])
        .success();
    assert_eq!(stdout_of(&out), "Hello, world\n");
    let request = &fake.received()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-test-openai-0123456789")
    );
    assert_eq!(request.body["model"], "gpt-4o");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(
        request.body["messages"][1],
        json!({"role": "user", "content": "say hello"})
    );
    assert!(
        request.body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "bash")
    );
}

#[test]
fn openai_tool_arguments_are_assembled_from_fragments() {
    let (fake, t) = setup();
    t.write("workspace/notes.md", "the answer is 42\n");
    fake.push(Reply::tool(
        "read_file",
        json!({"path": t.path("workspace/notes.md").to_str().unwrap()}),
    ));
    fake.push(Reply::text(&["It says 42."]));
    let out = t
        .run(["ask", "--model", "gpt-4o", "what does notes.md say?"])
        .success();
    assert_eq!(stdout_of(&out), "It says 42.\n");
    let second = &fake.received()[1].body["messages"];
    let messages = second.as_array().unwrap();
    let assistant = &messages[messages.len() - 2];
    assert_eq!(assistant["tool_calls"][0]["id"], "call_fake_1");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "read_file");
    let tool = &messages[messages.len() - 1];
    assert_eq!(tool["role"], "tool");
    assert_eq!(tool["tool_call_id"], "call_fake_1");
    assert!(
        tool["content"]
            .as_str()
            .unwrap()
            .contains("the answer is 42")
    );
}

#[test]
fn anthropic_tool_round_trip_keeps_the_required_order() {
    let (fake, t) = setup();
    fake.push(Reply::Tool {
        text: "Let me check.".into(),
        name: "bash".into(),
        arguments: json!({"command": "echo from-the-shell"}),
    });
    fake.push(Reply::text(&["Done."]));
    let out = t
        .run(["ask", "--yes", "--model", "claude-sonnet-4-5", "run echo"])
        .success();
    assert_eq!(stdout_of(&out), "Let me check.\nDone.\n");
    let received = fake.received();
    assert_eq!(received[0].path, "/v1/messages");
    assert_eq!(
        received[0].header("x-api-key"),
        Some("sk-ant-test-0123456789")
    );
    assert_eq!(received[0].header("anthropic-version"), Some("2023-06-01"));
    assert!(
        received[0].body["system"]
            .as_str()
            .unwrap()
            .contains("LocalGPT")
    );
    let messages = received[1].body["messages"].as_array().unwrap().clone();
    let assistant = &messages[1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(
        assistant["content"][0],
        json!({"type": "text", "text": "Let me check."})
    );
    assert_eq!(assistant["content"][1]["type"], "tool_use");
    assert_eq!(
        assistant["content"][1]["input"],
        json!({"command": "echo from-the-shell"})
    );
    let result = &messages[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_fake_1");
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .contains("from-the-shell")
    );
}

#[test]
fn ollama_round_trip_with_a_host_given_as_host_and_port() {
    let (fake, t) = setup();
    fake.push(Reply::tool("list_dir", json!({"path": "."})));
    fake.push(Reply::text(&["Listed."]));
    std::fs::write(t.scratch().join("visible.txt"), "x").unwrap();
    let out = t
        .run(["ask", "--model", "llama3.2", "list files"])
        .success();
    assert_eq!(stdout_of(&out), "Listed.\n");
    let received = fake.received();
    assert_eq!(received[0].path, "/api/chat");
    assert_eq!(received[0].body["model"], "llama3.2");
    // Ollama is told the window LocalGPT keeps to (llama3's 128k: the model takes more),
    // asked of /api/show once for the whole turn.
    assert_eq!(received[0].body["options"]["num_ctx"], 128_000);
    assert_eq!(received[1].body["options"]["num_ctx"], 128_000);
    assert_eq!(fake.shown(), ["llama3.2"]);
    let messages = received[1].body["messages"].as_array().unwrap().clone();
    let tool = messages.last().unwrap();
    assert_eq!(tool["role"], "tool");
    assert!(tool["content"].as_str().unwrap().contains("visible.txt"));
}

/// A fake `claude` that records how it was called: the system prompt file's text (read
/// while it exists), the arguments, stdin; `body` prints its answer.
fn fake_claude(t: &Test, body: &str) -> std::path::PathBuf {
    let script = t.scratch().join("fake-claude");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             cat > \"$0.stdin\"\n\
             echo \"$@\" > \"$0.args\"\n\
             while [ $# -gt 0 ]; do\n\
               if [ \"$1\" = --append-system-prompt-file ]; then cat \"$2\" > \"$0.system\"; fi\n\
               shift\n\
             done\n\
             {body}"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    t.run([
        "config",
        "set",
        "providers.claude-cli.command",
        script.to_str().unwrap(),
    ])
    .success();
    script
}

const CLAUDE_ANSWERS: &str = "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"fine\",\"usage\":{}}'\n";

#[test]
fn claude_cli_is_run_as_a_child_process() {
    let t = Test::new();
    let script = fake_claude(
        &t,
        "echo '{\"type\":\"system\",\"subtype\":\"init\"}'\n\
         echo '{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi from \"}}}'\n\
         echo '{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Claude\"}}}'\n\
         echo '{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Hi from Claude\"}]}}'\n\
         echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Hi from Claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}'\n",
    );
    let out = t
        .run(["ask", "--model", "claude-cli/opus", "hello", "there"])
        .success();
    assert_eq!(stdout_of(&out), "Hi from Claude\n");
    let args = std::fs::read_to_string(format!("{}.args", script.display())).unwrap();
    assert!(args.contains("-p --output-format stream-json"), "{args}");
    assert!(args.contains("--model opus"), "{args}");
    assert!(!args.contains("dangerously"), "{args}");
    assert_eq!(
        std::fs::read_to_string(format!("{}.stdin", script.display())).unwrap(),
        "hello there"
    );
}

#[test]
fn claude_cli_gets_a_long_system_prompt_in_a_file_and_no_tools_it_lacks() {
    let t = Test::new();
    let script = fake_claude(&t, CLAUDE_ANSWERS);
    // Tens of KB of non-Latin text in memory: far over what one argument may hold.
    t.run(["memory", "reindex"]).success();
    std::fs::write(
        t.path("workspace/MEMORY.md"),
        format!("# Заметки\n{}", "Москва — столица России. ".repeat(8_000)),
    )
    .unwrap();
    let out = t.run(["ask", "--model", "claude-cli/opus", "hi"]).success();
    assert_eq!(stdout_of(&out), "fine\n");
    let args = std::fs::read_to_string(format!("{}.args", script.display())).unwrap();
    assert!(args.contains("--append-system-prompt-file"), "{args}");
    assert!(args.len() < 1000, "the prompt is not on the command line");
    let system = std::fs::read_to_string(format!("{}.system", script.display())).unwrap();
    assert!(system.contains("Москва — столица России."));
    assert!(
        !system.contains("memory_search"),
        "Claude Code has no such tool"
    );
}

#[test]
fn claude_cli_too_old_for_the_file_flag_gets_the_prompt_on_stdin() {
    let t = Test::new();
    let script = fake_claude(
        &t,
        &format!(
            "case \"$(cat \"$0.args\")\" in *--append-system-prompt-file*) \
             echo \"error: unknown option '--append-system-prompt-file'\" >&2; exit 1;; esac\n{CLAUDE_ANSWERS}"
        ),
    );
    std::fs::write(t.path("workspace/MEMORY.md"), "I prefer tea.").ok();
    t.run(["ask", "--model", "claude-cli/opus", "hi"])
        .success()
        .stdout("fine\n");
    let stdin = std::fs::read_to_string(format!("{}.stdin", script.display())).unwrap();
    assert!(stdin.starts_with("<instructions>"), "{stdin}");
    assert!(stdin.ends_with("hi"), "{stdin}");
}

#[test]
fn claude_cli_not_logged_in_is_an_error_not_an_answer() {
    let t = Test::new();
    fake_claude(
        &t,
        "echo '{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Not logged in · Please run /login\"}]}}'\n\
         echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Not logged in · Please run /login\"}'\n",
    );
    let out = t.run(["ask", "--model", "claude-cli/opus", "hi"]).code(1);
    let err = text(&out.get_output().stderr);
    assert!(err.contains("is not logged in"), "{err}");
    assert!(err.contains("/login"), "{err}");
}

#[test]
fn a_missing_claude_command_says_what_to_install() {
    let t = Test::new();
    t.run([
        "config",
        "set",
        "providers.claude-cli.command",
        "/nonexistent/claude",
    ])
    .success();
    t.run(["ask", "--model", "claude-cli/opus", "hi"])
        .code(1)
        .stderr(predicate::str::contains("was not found"))
        .stderr(predicate::str::contains("providers.claude-cli.command"));
}

#[test]
fn rate_limits_are_retried_after_the_time_the_server_asks() {
    let (fake, t) = setup();
    fake.push(Reply::Status {
        code: 429,
        retry_after: Some(1),
    });
    fake.push(Reply::text(&["finally"]));
    let started = Instant::now();
    t.run(["ask", "--model", "gpt-4o", "hi"])
        .success()
        .stdout("finally\n");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(fake.received().len(), 2);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let (fake, t) = setup();
    fake.push(Reply::Status {
        code: 500,
        retry_after: Some(0),
    });
    fake.push(Reply::text(&["recovered"]));
    t.run(["ask", "--model", "claude-sonnet-4-5", "hi"])
        .success()
        .stdout("recovered\n");

    for _ in 0..3 {
        fake.push(Reply::Status {
            code: 503,
            retry_after: Some(0),
        });
    }
    t.run(["ask", "--model", "gpt-4o", "hi"])
        .code(1)
        .stderr(predicate::str::contains("answered 503"))
        .stderr(predicate::str::contains("scripted status 503"));
    assert_eq!(fake.received().len(), 2 + 3, "one try and two retries");
}

#[test]
fn client_errors_are_not_retried() {
    let (fake, t) = setup();
    fake.push(Reply::Status {
        code: 401,
        retry_after: None,
    });
    t.run(["ask", "--model", "gpt-4o", "hi"])
        .code(1)
        .stderr(predicate::str::contains("401"));
    assert_eq!(fake.received().len(), 1);
}

#[test]
fn a_cut_stream_keeps_the_partial_answer_and_fails() {
    let (fake, t) = setup();
    fake.push(Reply::Cut(vec!["The first ".into(), "half".into()]));
    let out = t.run(["ask", "--model", "gpt-4o", "tell me"]).code(1);
    assert_eq!(stdout_of(&out), "The first half\n");
    assert!(text(&out.get_output().stderr).contains("cut off"));
    let session = std::fs::read_dir(t.path("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let transcript = std::fs::read_to_string(session).unwrap();
    assert!(
        transcript.contains("\"partial\":\"The first half\""),
        "{transcript}"
    );
}

#[test]
fn a_silent_provider_times_out() {
    let (fake, t) = setup();
    t.write(
        "config.toml",
        "[agent]\nmax_retries = 0\nidle_timeout_secs = 1\n",
    );
    fake.push(Reply::Slow(vec!["late".into()], Duration::from_secs(3)));
    t.run(["ask", "--model", "llama3.2", "hi"])
        .code(1)
        .stderr(predicate::str::contains("sent nothing for 1 s"));
}

#[test]
fn slow_tokens_within_the_timeout_stream_through() {
    let (fake, t) = setup();
    fake.push(Reply::Slow(
        vec!["a".into(), "b".into(), "c".into()],
        Duration::from_millis(50),
    ));
    t.run(["ask", "--model", "claude-sonnet-4-5", "hi"])
        .success()
        .stdout("abc\n");
}

#[test]
fn malformed_json_is_a_clear_error() {
    let (fake, t) = setup();
    fake.push(Reply::Malformed);
    t.run(["ask", "--model", "gpt-4o", "hi"])
        .code(1)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn a_missing_key_says_what_to_set() {
    let t = Test::new();
    t.run(["ask", "--model", "gpt-4o", "hi"])
        .code(2)
        .stderr(predicate::str::contains("OPENAI_API_KEY is not set"));
    t.run(["ask", "--model", "claude-sonnet-4-5", "hi"])
        .code(2)
        .stderr(predicate::str::contains("ANTHROPIC_API_KEY is not set"));
}

#[test]
fn an_unreachable_ollama_says_how_to_start_it() {
    let t = Test::new().env("OLLAMA_HOST", "127.0.0.1:9");
    t.run(["ask", "--model", "llama3.2", "hi"])
        .code(1)
        .stderr(predicate::str::contains(
            "cannot reach Ollama at http://127.0.0.1:9",
        ))
        .stderr(predicate::str::contains("ollama serve"));
}

#[test]
fn paths_outside_the_allowed_folders_are_refused() {
    let (fake, t) = setup();
    let outside = t.scratch().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "top secret").unwrap();
    // The command runs in a project folder; `outside` is next to it, not inside.
    let project = t.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, project.join("sneaky")).unwrap();
    let absolute = outside.join("secret.txt");
    for path in [
        "../outside/secret.txt",
        absolute.to_str().unwrap(),
        "/etc/passwd",
        "sneaky/secret.txt",
    ] {
        fake.push(Reply::tool("read_file", json!({"path": path})));
        fake.push(Reply::text(&["ok"]));
        t.command()
            .current_dir(&project)
            .args(["ask", "--model", "gpt-4o", "read it"])
            .assert()
            .success();
        let result = fake.last_tool_result();
        assert!(result.contains("outside the folders"), "{path}: {result}");
        assert!(!result.contains("top secret"), "{path}");
    }
}

fn touch(marker: &std::path::Path) -> Value {
    json!({"command": format!("touch {}", marker.display())})
}

#[test]
fn with_nobody_to_ask_commands_are_refused_and_the_model_is_told() {
    let (fake, t) = setup();
    let marker = t.scratch().join("ran");
    fake.push(Reply::tool("bash", touch(&marker)));
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--model", "gpt-4o", "go"])
        .success()
        .stderr(predicate::str::contains("no terminal to ask"));
    assert!(!marker.exists());
    assert!(fake.last_tool_result().contains("--yes"));
}

#[test]
fn yes_approves_commands_for_the_run() {
    let (fake, t) = setup();
    let marker = t.scratch().join("ran");
    fake.push(Reply::tool("bash", touch(&marker)));
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--yes", "--model", "gpt-4o", "go"]).success();
    assert!(marker.exists());
}

#[test]
fn deny_is_not_overridden_by_yes() {
    let (fake, t) = setup();
    t.write("config.toml", "[tools]\napproval = \"deny\"\n");
    let marker = t.scratch().join("ran");
    fake.push(Reply::tool(
        "write_file",
        json!({"path": marker.to_str().unwrap(), "content": "x"}),
    ));
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--yes", "--model", "gpt-4o", "go"]).success();
    assert!(!marker.exists());
    assert!(fake.last_tool_result().contains("deny"));
}

#[test]
fn invalid_tool_arguments_go_back_to_the_model() {
    let (fake, t) = setup();
    fake.push(Reply::tool("read_file", json!({"file": "x"})));
    fake.push(Reply::text(&["sorry"]));
    t.run(["ask", "--model", "gpt-4o", "go"])
        .success()
        .stdout("sorry\n");
    let result = fake.last_tool_result();
    assert!(result.contains("`path` is required"), "{result}");
}

#[test]
fn json_output_has_answer_tools_usage_and_session() {
    let (fake, t) = setup();
    fake.push(Reply::tool(
        "memory_save",
        json!({"text": "likes green tea"}),
    ));
    fake.push(Reply::text(&["Noted."]));
    let out = t
        .run(["ask", "--json", "--model", "gpt-4o", "remember: green tea"])
        .success();
    let value: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(value["answer"], "Noted.");
    assert_eq!(value["model"], "gpt-4o");
    assert_eq!(value["tool_calls"][0]["name"], "memory_save");
    assert_eq!(value["tool_calls"][0]["is_error"], false);
    assert_eq!(value["usage"]["output_tokens"], 14);
    assert_eq!(value["rounds"], 2);
    assert!(value["error"].is_null());
    let session = value["session"].as_str().unwrap();
    assert!(t.path(&format!("sessions/{session}.jsonl")).exists());
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(
        t.read(&format!("workspace/memory/{today}.md"))
            .contains("likes green tea")
    );
}

#[test]
fn the_prompt_can_come_from_stdin() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["a"]));
    fake.push(Reply::text(&["b"]));
    t.command()
        .args(["ask", "--model", "gpt-4o"])
        .write_stdin("from a pipe\n")
        .assert()
        .success();
    t.command()
        .args(["ask", "--model", "gpt-4o", "review", "this"])
        .write_stdin("diff --git a b\n")
        .assert()
        .success();
    let received = fake.received();
    assert_eq!(received[0].body["messages"][1]["content"], "from a pipe\n");
    assert_eq!(
        received[1].body["messages"][1]["content"],
        "review this\n\ndiff --git a b"
    );
    t.run(["ask", "--model", "gpt-4o"])
        .code(2)
        .stderr(predicate::str::contains("no question"));
}

#[test]
fn every_ask_is_recorded_as_a_session() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["answer"]));
    t.run(["ask", "--model", "gpt-4o", "question"]).success();
    let sessions: Vec<_> = std::fs::read_dir(t.path("sessions")).unwrap().collect();
    assert_eq!(sessions.len(), 1);
    let path = sessions.into_iter().next().unwrap().unwrap().path();
    let records: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["meta", "message", "usage", "message"]);
    assert_eq!(records[1]["content"], "question");
    assert_eq!(records[3]["content"], "answer");
}

#[test]
fn edit_file_replaces_exactly_one_match() {
    let (fake, t) = setup();
    let file = t.scratch().join("main.rs");
    std::fs::write(&file, "let a = 1;\nlet b = 1;\n").unwrap();
    let path = file.to_str().unwrap();
    fake.push(Reply::tool(
        "edit_file",
        json!({"path": path, "old_string": "= 1", "new_string": "= 2"}),
    ));
    fake.push(Reply::text(&["ambiguous"]));
    t.run(["ask", "--yes", "--model", "gpt-4o", "edit"])
        .success();
    assert!(fake.last_tool_result().contains("appears 2 times"));
    fake.push(Reply::tool(
        "edit_file",
        json!({"path": path, "old_string": "let b = 1", "new_string": "let b = 2"}),
    ));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "--yes", "--model", "gpt-4o", "edit"])
        .success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "let a = 1;\nlet b = 2;\n"
    );
    fake.push(Reply::tool(
        "edit_file",
        json!({"path": path, "old_string": "absent", "new_string": "x"}),
    ));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "--yes", "--model", "gpt-4o", "edit"])
        .success();
    assert!(fake.last_tool_result().contains("not found"));
}

#[test]
fn web_fetch_refuses_local_addresses_unless_allowed() {
    let (fake, t) = setup();
    let url = format!("{}/some/page", fake.url());
    fake.push(Reply::tool("web_fetch", json!({"url": url})));
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--model", "gpt-4o", "fetch"]).success();
    assert!(fake.last_tool_result().contains("web_allow_local"));

    t.write(
        "config.toml",
        "[agent]\nmax_retries = 2\n[tools]\nweb_allow_local = true\n",
    );
    fake.push(Reply::tool("web_fetch", json!({"url": url})));
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--model", "gpt-4o", "fetch"]).success();
    let result = fake.last_tool_result();
    assert!(
        result.contains("404") && result.contains("no such route"),
        "{result}"
    );
}

#[test]
fn an_ollama_model_without_tools_answers_without_them_and_gets_its_own_window() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["Plain answer."]));
    let out = t.run(["ask", "--model", "tinyllama", "hi"]).success();
    assert_eq!(stdout_of(&out), "Plain answer.\n");
    assert!(
        text(&out.get_output().stderr).contains("tinyllama cannot call tools"),
        "{}",
        text(&out.get_output().stderr)
    );
    let sent = &fake.received()[0].body;
    assert!(sent.get("tools").is_none(), "{sent}");
    assert_eq!(sent["options"]["num_ctx"], 2048);
}

#[test]
fn a_configured_window_wins_over_what_ollama_says() {
    let (fake, t) = setup();
    t.write(
        "config.toml",
        "[agent]\nmax_retries = 0\n\n[models.\"llama3.2\"]\ncontext_window = 16384\n",
    );
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "--model", "llama3.2", "hi"]).success();
    assert_eq!(fake.received()[0].body["options"]["num_ctx"], 16384);
}

#[test]
fn an_ollama_model_that_writes_its_tool_calls_as_text_still_calls_tools() {
    let (fake, t) = setup();
    fake.push(Reply::text(&[
        "<tool_call>\n{\"name\": \"list_dir\", ",
        "\"arguments\": {\"path\": \".\"}}\n</tool_call>",
    ]));
    fake.push(Reply::text(&["Listed."]));
    std::fs::write(t.scratch().join("visible.txt"), "x").unwrap();
    let out = t
        .run(["ask", "--model", "llama3.2", "list files"])
        .success();
    // The call's text never reached the screen; the call ran.
    assert_eq!(stdout_of(&out), "Listed.\n");
    let received = fake.received();
    let messages = received[1].body["messages"].as_array().unwrap().clone();
    let tool = messages.last().unwrap();
    assert_eq!(tool["role"], "tool");
    assert!(tool["content"].as_str().unwrap().contains("visible.txt"));
    // An answer that only shows JSON stays an answer.
    fake.push(Reply::text(&["{\"city\": ", "\"Lyon\"}"]));
    let out = t
        .run(["ask", "--model", "llama3.2", "json please"])
        .success();
    assert_eq!(stdout_of(&out), "{\"city\": \"Lyon\"}\n");
}
