//! Saved sessions: listing, showing, removing, pruning, ids by prefix, a torn last line,
//! and resuming with the same live context.

use std::time::{Duration, SystemTime};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use predicates::prelude::*;
use serde_json::Value;

fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    (fake, t)
}

fn ask(fake: &FakeProvider, t: &Test, question: &str, answer: &str) -> String {
    fake.push(Reply::text(&[answer]));
    let out = t.run(["ask", "--json", question]).success();
    let value: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    value["session"].as_str().unwrap().to_string()
}

#[test]
fn list_and_show_read_back_what_was_said() {
    let (fake, t) = setup();
    let id = ask(
        &fake,
        &t,
        "Where is the kestrel?\nsecond line",
        "On the tower.",
    );
    let out = t.run(["sessions", "list", "--json"]).success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["title"], "Where is the kestrel?");
    assert_eq!(listed[0]["model"], "gpt-4o");
    assert_eq!(listed[0]["turns"], 1);
    t.run(["sessions", "list"])
        .success()
        .stdout(predicate::str::contains("Where is the kestrel?"));
    t.run(["sessions", "show", &id])
        .success()
        .stdout(predicate::str::contains("you › Where is the kestrel?"))
        .stdout(predicate::str::contains("On the tower."));
}

#[test]
fn ids_may_be_any_unique_prefix() {
    let (fake, t) = setup();
    let first = ask(&fake, &t, "one", "1");
    let second = ask(&fake, &t, "two", "2");
    assert_ne!(first, second);
    t.run(["sessions", "show", &first[..first.len() - 1]])
        .success()
        .stdout(predicate::str::contains("you › one"));
    // Both start with today's date: ambiguous.
    t.run(["sessions", "show", "20"])
        .code(2)
        .stderr(predicate::str::contains("matches several sessions"));
    t.run(["sessions", "show", "19990101"])
        .code(2)
        .stderr(predicate::str::contains("no saved session"));
    t.run(["sessions", "rm", &second, "nope"]).code(2);
    assert_eq!(
        std::fs::read_dir(t.path("sessions")).unwrap().count(),
        2,
        "a typo removed nothing"
    );
    t.run(["sessions", "rm", &second])
        .success()
        .stdout(format!("removed {second}\n"));
    t.run(["sessions", "show", "last"])
        .success()
        .stdout(predicate::str::contains("you › one"));
}

#[test]
fn a_torn_last_line_is_skipped_and_reported() {
    let (fake, t) = setup();
    let id = ask(&fake, &t, "question", "answer");
    let path = t.path(&format!("sessions/{id}.jsonl"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"type\":\"message\",\"role\":\"us");
    std::fs::write(&path, text).unwrap();
    t.run(["sessions", "show", &id])
        .success()
        .stdout(predicate::str::contains("answer"))
        .stderr(predicate::str::contains("cut off"));
}

#[test]
fn resume_rebuilds_the_same_live_context() {
    let (fake, t) = setup();
    let id = ask(&fake, &t, "my name is Ana", "Hello Ana.");
    fake.push(Reply::text(&["You are Ana."]));
    let out = t
        .command()
        .args(["-q", "chat", "--resume", "last"])
        .write_stdin("who am I?\n")
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    assert!(
        stdout.contains(&format!("resumed {id}: my name is Ana (1 turns)")),
        "{stdout}"
    );
    assert!(stdout.contains("You are Ana."), "{stdout}");
    let messages = fake.received()[1].body["messages"]
        .as_array()
        .unwrap()
        .clone();
    let contents: Vec<&str> = messages
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["my name is Ana", "Hello Ana.", "who am I?"]);
    // The same transcript goes on.
    t.run(["sessions", "list", "--json"])
        .success()
        .stdout(predicate::str::contains("\"turns\": 2"));
}

#[test]
fn the_repl_lists_and_resumes_sessions() {
    let (fake, t) = setup();
    ask(&fake, &t, "remember the lighthouse", "Noted.");
    fake.push(Reply::text(&["The lighthouse."]));
    let out = t
        .command()
        .args(["-q"])
        .write_stdin("/sessions\n/resume last\nwhat did I mention?\n/resume zzz\n")
        .assert()
        .success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("remember the lighthouse"), "{stdout}");
    assert!(stdout.contains("The lighthouse."), "{stdout}");
    assert!(text(&out.get_output().stderr).contains("no saved session"));
    assert_eq!(
        fake.received()[1].body["messages"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn prune_removes_only_old_sessions() {
    let (fake, t) = setup();
    let old = ask(&fake, &t, "old", "1");
    let recent = ask(&fake, &t, "recent", "2");
    let old_path = t.path(&format!("sessions/{old}.jsonl"));
    let forty_days_ago = SystemTime::now() - Duration::from_secs(40 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&old_path)
        .unwrap()
        .set_modified(forty_days_ago)
        .unwrap();
    t.run(["sessions", "prune", "--older-than", "30d"])
        .success()
        .stdout("removed 1 session(s) older than 30d\n");
    assert!(!old_path.exists());
    assert!(t.path(&format!("sessions/{recent}.jsonl")).exists());
    t.run(["sessions", "prune", "--older-than", "soon"]).code(2);
}

#[test]
fn auto_title_asks_the_model_for_a_short_name() {
    let (fake, t) = setup();
    t.write("config.toml", "[sessions]\nauto_title = true\n");
    fake.push(Reply::text(&["The kestrel nests on the tower."]));
    fake.push(Reply::text(&["\"Kestrel Nesting Spot\""]));
    t.run(["ask", "where does the kestrel nest, and since when?"])
        .success();
    let out = t.run(["sessions", "list", "--json"]).success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed[0]["title"], "Kestrel Nesting Spot");
    let title_request = &fake.received()[1].body;
    assert!(
        title_request["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("kestrel")
    );
}

#[test]
fn a_scripts_chat_is_a_session_too() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["hi from chat"]));
    t.run(["run", "-e", "print(chat(\"hello from a script\"))"])
        .success()
        .stdout("hi from chat\n");
    let out = t.run(["sessions", "list", "--json"]).success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed[0]["source"], "script");
    assert_eq!(listed[0]["title"], "hello from a script");
}
