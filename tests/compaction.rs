//! Compaction against the fake provider with a tiny context window: the memory flush,
//! the summary replacing old turns, a second compaction, `/compact`, resume after a
//! compaction, and the fallback when the summary fails.

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::{Value, json};

fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    t.write(
        "config.toml",
        "[agent]\nmax_retries = 0\n[compaction]\nkeep_recent = 1\n[models.\"gpt-4o\"]\ncontext_window = 500\n",
    );
    (fake, t)
}

/// A user message of over 400 tokens (counted by tiktoken or estimated), so every turn
/// after the first passes 80% of a 500-token window.
fn long(label: &str) -> String {
    format!("{label} {}", "words ".repeat(420))
}

fn repl(t: &Test, input: &str) -> (String, String) {
    let output = t
        .command()
        .arg("-q")
        .write_stdin(input.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    (text(&output.stdout), text(&output.stderr))
}

fn contents(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_long_conversation_is_flushed_to_memory_then_summarised() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["answer one"]));
    // Turn two: flush (a memory_save, then done), the summary, then the real answer.
    fake.push(Reply::tool(
        "memory_save",
        json!({"text": "Ana prefers green tea"}),
    ));
    fake.push(Reply::text(&["done"]));
    fake.push(Reply::text(&["SUMMARY-ONE: Ana prefers green tea."]));
    fake.push(Reply::text(&["answer two"]));
    // Turn three compacts again, summary included.
    fake.push(Reply::text(&["done"]));
    fake.push(Reply::text(&["SUMMARY-TWO"]));
    fake.push(Reply::text(&["answer three"]));
    let input = format!("{}\n{}\n{}\n", long("first"), long("second"), long("third"));
    let (out, err) = repl(&t, &input);
    assert!(
        out.contains("answer one") && out.contains("answer two") && out.contains("answer three"),
        "{out}"
    );
    assert!(err.contains("compacted the conversation"), "{err}");

    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(
        t.read(&format!("workspace/memory/{today}.md"))
            .contains("Ana prefers green tea")
    );

    let received = fake.received();
    assert_eq!(received.len(), 8);
    assert!(
        contents(&received[1].body)
            .last()
            .unwrap()
            .starts_with("[Memory flush]")
    );
    assert!(
        contents(&received[3].body)[0].contains("first words"),
        "the summary covers turn one"
    );
    let after_first = contents(&received[4].body);
    assert!(after_first[0].starts_with("[Summary of the earlier conversation]"));
    assert!(after_first[0].contains("SUMMARY-ONE"));
    assert!(after_first[2].starts_with("second"));
    assert_eq!(after_first.len(), 3);
    // The second summary request sees the first summary, and replaces it.
    assert!(contents(&received[6].body)[0].contains("SUMMARY-ONE"));
    let after_second = contents(&received[7].body);
    assert!(after_second[0].contains("SUMMARY-TWO") && !after_second[0].contains("SUMMARY-ONE"));
    assert!(after_second[2].starts_with("third"));

    // The transcript keeps everything and marks both compactions; resume starts from the last.
    let session = std::fs::read_dir(t.path("sessions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let transcript = std::fs::read_to_string(&session).unwrap();
    assert_eq!(transcript.matches("\"type\":\"compaction\"").count(), 2);
    assert!(transcript.contains("first words"));
    // The resumed context is still near the limit, so it compacts once more first.
    fake.push(Reply::text(&["done"]));
    fake.push(Reply::text(&["SUMMARY-THREE"]));
    fake.push(Reply::text(&["resumed fine"]));
    let output = t
        .command()
        .args(["-q", "chat", "--resume", "last"])
        .write_stdin("and now?\n")
        .output()
        .unwrap();
    assert!(text(&output.stdout).contains("resumed fine"));
    let resumed = contents(&fake.received()[8].body);
    assert!(resumed[0].contains("SUMMARY-TWO"), "{resumed:?}");
    assert!(resumed[2].starts_with("third"));
    assert_eq!(resumed[3], "answer three");
}

#[test]
fn compact_on_request_and_a_failed_summary_drops_the_oldest_turns() {
    let (fake, t) = setup();
    t.write(
        "config.toml",
        "[agent]\nmax_retries = 0\n[compaction]\nkeep_recent = 1\n",
    );
    fake.push(Reply::text(&["a1"]));
    fake.push(Reply::text(&["a2"]));
    fake.push(Reply::text(&["done"]));
    fake.push(Reply::text(&["SHORT SUMMARY"]));
    let (out, _) = repl(&t, "q1\nq2\n/compact\n/status\n");
    assert!(
        out.contains("compacted: 2 earlier messages are now a summary"),
        "{out}"
    );
    assert!(out.contains("messages 4"), "{out}");

    fake.push(Reply::text(&["b1"]));
    fake.push(Reply::text(&["b2"]));
    fake.push(Reply::text(&["done"]));
    fake.push(Reply::Status {
        code: 400,
        retry_after: None,
    });
    fake.push(Reply::text(&["b3"]));
    let (out, _) = repl(&t, "q1\nq2\n/compact\nq3\n");
    assert!(out.contains("could not summarise"), "{out}");
    assert!(out.contains("dropped the 2 oldest messages"), "{out}");
    let received = fake.received();
    assert_eq!(contents(&received.last().unwrap().body), ["q2", "b2", "q3"]);
}

#[test]
fn a_huge_tool_result_is_cut_to_fit_with_a_note() {
    let (fake, t) = setup();
    let big = t.scratch().join("big.txt");
    std::fs::write(&big, "line of text\n".repeat(2000)).unwrap();
    fake.push(Reply::tool(
        "read_file",
        json!({"path": big.to_str().unwrap()}),
    ));
    fake.push(Reply::text(&["read it"]));
    repl(&t, "read big.txt\n");
    let result = contents(&fake.received()[1].body).last().unwrap().clone();
    assert!(
        result.contains("[cut to fit the model's context window]"),
        "{}",
        result.len()
    );
    assert!(result.len() < 2500, "{}", result.len());
}
