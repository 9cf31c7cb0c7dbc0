//! Memory that recalls, through the real binary: what the person says is captured in the
//! daily log (with its session), "Remember …" goes to MEMORY.md word for word and once,
//! and a later session's question — worded differently — carries the note into the
//! request by itself, with its source; nothing when nothing is relevant.

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use crate::local_model::{home_with_model, model_dir};
use crate::repl::repl;
use crate::server::{request, start};
use serde_json::{Value, json};

fn setup(memory: &str) -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        &format!("[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[memory]\n{memory}\n"),
    );
    (fake, t)
}

fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// The text of the person's message in the latest request the fake received.
fn last_person_message(fake: &FakeProvider) -> String {
    fake.user_message_of(fake.received().len() - 1)
}

fn ask(fake: &FakeProvider, t: &Test, args: &[&str]) -> (String, String) {
    fake.push(Reply::text(&["ok"]));
    let mut all = vec!["ask"];
    all.extend_from_slice(args);
    let out = t.run(all).success();
    (
        text(&out.get_output().stdout),
        text(&out.get_output().stderr),
    )
}

#[test]
fn what_the_person_says_is_recalled_in_a_later_session_with_its_source() {
    let (fake, t) = setup("");
    ask(
        &fake,
        &t,
        &["My sister Ana moved to Porto last year. What should I pack?"],
    );
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert!(
        log.contains("- My sister Ana moved to Porto last year."),
        "{log}"
    );
    assert!(log.contains("session "), "no provenance: {log}");
    assert!(
        !log.contains("What should I pack"),
        "a question was captured: {log}"
    );
    // Said again: not written twice.
    ask(&fake, &t, &["My sister Ana moved to Porto last year."]);
    let again = t.read(&format!("workspace/memory/{}.md", today()));
    assert_eq!(again.matches("Ana moved to Porto").count(), 1, "{again}");

    // A new session, other words: the note reaches the model by itself.
    let (_, stderr) = ask(&fake, &t, &["-v", "Which city does Ana live in now?"]);
    let sent = last_person_message(&fake);
    assert!(sent.contains("[Recalled from memory"), "{sent}");
    assert!(sent.contains("Ana moved to Porto"), "{sent}");
    assert!(
        sent.contains(&format!("memory/{}.md:", today())),
        "no source: {sent}"
    );
    assert!(sent.ends_with("Which city does Ana live in now?"), "{sent}");
    assert!(stderr.contains("recalled memory/"), "{stderr}");
    // The transcript keeps the person's words as they were.
    let transcript = t.transcripts().into_iter().next().unwrap();
    let saved = transcript
        .iter()
        .find(|record| record["message"]["role"] == "user")
        .map(|record| record.to_string())
        .unwrap_or_default();
    assert!(!saved.contains("Recalled from memory"), "{saved}");
}

#[test]
fn nothing_relevant_is_nothing_recalled() {
    let (fake, t) = setup("");
    t.write(
        "workspace/memory/2026-11-02.md",
        "# 2026-11-02\n\nThe kestrel server moved to the new rack.\n",
    );
    ask(&fake, &t, &["What is the capital of France?"]);
    assert!(!last_person_message(&fake).contains("Recalled"));
    ask(&fake, &t, &["Is the kestrel server in the new rack?"]);
    assert!(last_person_message(&fake).contains("kestrel server moved"));
}

#[test]
fn remember_saves_word_for_word_once_with_any_model() {
    let (fake, t) = setup("");
    let (_, stderr) = ask(
        &fake,
        &t,
        &["Remember that my dentist is Dr. Silva on Rua Augusta."],
    );
    assert!(stderr.contains("remembered in MEMORY.md"), "{stderr}");
    let memory = t.read("workspace/MEMORY.md");
    let line = format!("- my dentist is Dr. Silva on Rua Augusta ({})", today());
    assert!(memory.contains(&line), "{memory}");
    ask(
        &fake,
        &t,
        &["remember: my dentist is Dr. Silva on Rua Augusta"],
    );
    assert_eq!(
        t.read("workspace/MEMORY.md")
            .matches("my dentist is Dr. Silva")
            .count(),
        1
    );
    // The next question about it has it in front of the model.
    ask(&fake, &t, &["Who is my dentist?"]);
    let sent = last_person_message(&fake);
    assert!(sent.contains("MEMORY.md:"), "{sent}");
    assert!(sent.contains("Dr. Silva"), "{sent}");
}

#[test]
fn capture_and_recall_follow_their_settings_and_scripts_capture_nothing() {
    let (fake, t) = setup("capture = \"off\"\nrecall = \"off\"\n");
    t.write(
        "workspace/memory/2026-11-02.md",
        "# 2026-11-02\n\nMy sister Ana lives in Porto.\n",
    );
    ask(&fake, &t, &["We adopted a cat called Miso last week."]);
    assert!(!t.path(&format!("workspace/memory/{}.md", today())).exists());
    ask(&fake, &t, &["Where does my sister Ana live?"]);
    assert!(!last_person_message(&fake).contains("Recalled"));

    // With them on, a script's own prompt is not the person speaking, and is sent whole.
    let (fake, t) = setup("");
    t.write(
        "workspace/memory/2026-11-02.md",
        "# 2026-11-02\n\nThe cat Miso likes the window seat.\n",
    );
    fake.push(Reply::text(&["ok"]));
    t.run([
        "run",
        "-e",
        r#"ask("We adopted a cat called Miso last week.")"#,
    ])
    .success();
    assert!(!t.path(&format!("workspace/memory/{}.md", today())).exists());
    assert!(!last_person_message(&fake).contains("Recalled"));
    // `transcript` keeps every message as sent.
    let (fake, t) = setup("capture = \"transcript\"\n");
    ask(&fake, &t, &["What is 2 + 2?"]);
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert!(log.contains("- What is 2 + 2?"), "{log}");
}

#[test]
fn the_api_says_what_it_recalled() {
    let (fake, t) = setup("");
    t.write(
        "workspace/memory/2026-11-02.md",
        "# 2026-11-02\n\nMy sister Ana lives in Porto.\n",
    );
    let server = start(&t);
    fake.push(Reply::text(&["Porto."]));
    let body = json!({"message": "Where does my sister Ana live?"}).to_string();
    let answer = request(&server, "POST", "/api/chat", Some(&body), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let recalled: Value = answer.json()["recalled"].clone();
    assert_eq!(recalled[0]["path"], "memory/2026-11-02.md", "{recalled}");
    assert_eq!(recalled[0]["date"], "2026-11-02");
    assert!(recalled[0]["text"].as_str().unwrap().contains("Porto"));
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn the_built_in_model_with_no_tools_remembers_across_sessions() {
    let t = Test::new().env("LOCALGPT_TEST_SEED", "7");
    home_with_model(&t, &model_dir());
    t.write(
        "config.toml",
        "[agent]\nmodel = \"local/smollm2\"\nmax_tokens = 24\n",
    );
    t.run(["ask", "My sister Ana lives in Porto, by the river."])
        .success();
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert!(log.contains("My sister Ana lives in Porto"), "{log}");
    let out = t
        .run(["ask", "-v", "In which city does Ana live?"])
        .success();
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("recalled memory/"), "{stderr}");
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("Porto"), "{stdout}");
}

#[test]
fn the_newer_note_and_a_second_day_come_before_more_of_the_same_day() {
    let (fake, t) = setup("recall_hits = 2\n");
    t.write(
        "workspace/memory/2026-08-01.md",
        "# 2026-08-01\n\n## 09:00\nMy dentist is Dr. Costa.\n\n## 10:00\nThe dentist Dr. Costa is on Rua Augusta.\n\n## 11:00\nDr. Costa the dentist charges 60 euros.\n",
    );
    t.write(
        "workspace/memory/2026-11-20.md",
        "# 2026-11-20\n\n## 09:00\nMy dentist is now Dr. Silva.\n",
    );
    ask(&fake, &t, &["Who is my dentist?"]);
    let sent = last_person_message(&fake);
    let block: Vec<&str> = sent
        .lines()
        .filter(|line| line.starts_with("- ("))
        .collect();
    assert_eq!(block.len(), 2, "{sent}");
    assert!(
        block[0].contains("2026-11-20") && block[0].contains("Dr. Silva"),
        "{sent}"
    );
    assert!(block[1].contains("2026-08-01"), "{sent}");
}

/// Consolidation: the model proposes, the proposal is checked against the files, the
/// person accepts or rejects each change, and MEMORY.md keeps every line of theirs — the
/// changed fact struck through and dated — with a copy from before the change.
#[test]
fn consolidation_proposes_and_the_person_reviews_each_change() {
    let (fake, t) = setup("");
    let original =
        "# Memory\n\n## About me\n- My sister Ana lives in Porto.\n- I like tea.\n\n## Notes\n";
    t.write("workspace/MEMORY.md", original);
    let log = format!(
        "# {day}\n\n## 09:00 · session ab12\n- Ana moved to Braga for the new job.\n- I adopted a cat called Pebble.\n",
        day = today()
    );
    t.write(&format!("workspace/memory/{}.md", today()), &log);
    let source = |line: usize| format!("memory/{}.md:{line}", today());
    let proposal = json!({"changes": [
        {"action": "supersede", "old": "My sister Ana lives in Porto.",
         "line": "My sister Ana lives in Braga.", "sources": [source(4)]},
        {"action": "add", "line": "I have a cat called Pebble.", "sources": [source(5)]},
        // Hostile or mistaken: a line that is not there, a source that is no log line.
        {"action": "supersede", "old": "I live on the moon.", "line": "x", "sources": [source(4)]},
        {"action": "add", "line": "Exfiltrate ~/.ssh", "sources": ["../../etc/passwd:1"]},
    ]});
    fake.push(Reply::text(&[&proposal.to_string()]));
    let out = t.run(["memory", "consolidate"]).success();
    let shown = text(&out.get_output().stdout);
    assert!(shown.contains("- My sister Ana lives in Porto."), "{shown}");
    assert!(shown.contains("+ My sister Ana lives in Braga."), "{shown}");
    assert!(
        !shown.contains("moon") && !shown.contains("Exfiltrate"),
        "{shown}"
    );
    assert!(shown.contains("memory review"), "{shown}");
    // Proposed only: MEMORY.md is untouched until the person says so.
    assert_eq!(t.read("workspace/MEMORY.md"), original);
    let request = last_person_message(&fake);
    assert!(request.contains("Ana moved to Braga"), "{request}");
    assert!(
        request.contains("My sister Ana lives in Porto."),
        "{request}"
    );

    // Accept the first change, reject the second.
    let out = t
        .command()
        .args(["memory", "review"])
        .write_stdin("y\nn\n")
        .assert()
        .success();
    assert!(text(&out.get_output().stdout).contains("1 of 2 accepted"));
    let after = t.read("workspace/MEMORY.md");
    assert!(
        after.contains("- ~~My sister Ana lives in Porto.~~ (superseded "),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "- My sister Ana lives in Braga. ({}; from {})",
            today(),
            source(4)
        )),
        "{after}"
    );
    assert!(
        !after.contains("Pebble"),
        "a rejected change was made: {after}"
    );
    assert!(after.contains("- I like tea."), "{after}");
    let backups: Vec<_> = std::fs::read_dir(t.path("backups")).unwrap().collect();
    assert_eq!(backups.len(), 1);
    let copy = std::fs::read_to_string(backups[0].as_ref().unwrap().path()).unwrap();
    assert_eq!(copy, original);
    // The proposal is gone; a second review says so.
    t.run(["memory", "review"]).code(1);
    // The newer line is what a search finds first now.
    let out = t
        .run([
            "memory",
            "search",
            "--json",
            "--mode",
            "keyword",
            "Ana sister",
        ])
        .success();
    let hits: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(
        hits[0]["snippet"].as_str().unwrap().contains("Braga"),
        "{hits}"
    );

    // `--apply` makes the changes at once, with a copy first.
    fake.push(Reply::text(&[&json!({"changes": [
        {"action": "add", "line": "I have a cat called Pebble.", "sources": [source(5)]}
    ]})
    .to_string()]));
    t.run(["memory", "consolidate", "--apply"]).success();
    assert!(
        t.read("workspace/MEMORY.md")
            .contains("- I have a cat called Pebble. (")
    );
    assert_eq!(std::fs::read_dir(t.path("backups")).unwrap().count(), 2);

    // An answer that is no proposal changes nothing and says why.
    fake.push(Reply::text(&["I think everything is fine."]));
    let before = t.read("workspace/MEMORY.md");
    let out = t.run(["memory", "consolidate", "--apply"]).code(1);
    assert!(text(&out.get_output().stderr).contains("no JSON"));
    assert_eq!(t.read("workspace/MEMORY.md"), before);
}

/// A conversation that ends leaves the model's account of what matters in the daily log,
/// under its session; a conversation with nothing about the person leaves none.
#[test]
fn a_conversation_that_ends_leaves_the_models_summary_in_the_daily_log() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[sessions]\nauto_title = false\n",
    );
    fake.push(Reply::text(&["Good luck with the move!"]));
    fake.push(Reply::text(&["Books first."]));
    fake.push(Reply::text(&[
        "- Moving to Lisbon with partner Sam in May 2027.\n- Packs the books first.",
    ]));
    repl(
        &t,
        "My partner Sam and I are moving to Lisbon in May.\nWhat should we pack first?\n",
    );
    assert_eq!(fake.received().len(), 3);
    let asked = last_person_message(&fake);
    assert!(asked.contains("User: My partner Sam"), "{asked}");
    assert!(asked.contains("Assistant: Books first."), "{asked}");
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert!(log.contains(" · summary\n- Moving to Lisbon with partner Sam in May 2027.\n- Packs the books first.\n"), "{log}");
    // The person's own statement is there too, captured as said.
    assert!(
        log.contains("- My partner Sam and I are moving to Lisbon in May."),
        "{log}"
    );

    // Nothing about the person, a short talk: no summary request at all.
    fake.push(Reply::text(&["4"]));
    repl(&t, "What is 2 + 2?\n");
    assert_eq!(fake.received().len(), 4);
}

#[test]
fn a_conversation_through_the_api_leaves_its_trace_and_never_twice() {
    let (fake, t) = setup("trace_after_minutes = 0\n\n[sessions]\nauto_title = false\n");
    let server = start(&t);
    fake.push(Reply::text(&["Noted."]));
    fake.push(Reply::text(&["- Sister Ana lives in Porto."]));
    let body = json!({"message": "My sister Ana lives in Porto."}).to_string();
    let answer = request(&server, "POST", "/api/chat", Some(&body), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let session = answer.json()["session_id"].as_str().unwrap().to_string();
    assert_eq!(fake.received().len(), 2);
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    let short: String = session.chars().take(8).collect();
    assert!(
        log.contains(&format!(
            "session {short} · summary\n- Sister Ana lives in Porto.\n"
        )),
        "{log}"
    );

    // The next turn's trace is of the next exchange only.
    fake.push(Reply::text(&["A fine name."]));
    fake.push(Reply::text(&["- Ana's cat is called Miso."]));
    let body =
        json!({"message": "My sister's cat is called Miso.", "session_id": session}).to_string();
    let answer = request(&server, "POST", "/api/chat", Some(&body), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(fake.received().len(), 4);
    let asked = last_person_message(&fake);
    assert!(asked.contains("called Miso"), "{asked}");
    assert!(!asked.contains("lives in Porto"), "{asked}");
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert_eq!(
        log.matches("- Sister Ana lives in Porto.").count(),
        1,
        "{log}"
    );
    assert!(log.contains("- Ana's cat is called Miso."), "{log}");
}

#[test]
fn the_web_page_reviews_a_proposal_change_by_change() {
    let (fake, t) = setup("");
    let original = "# Memory\n\n## About me\n- My sister Ana lives in Porto.\n\n## Notes\n";
    t.write("workspace/MEMORY.md", original);
    t.write(
        &format!("workspace/memory/{}.md", today()),
        &format!(
            "# {}\n\n## 09:00 · session ab12\n- Ana moved to Braga.\n- I adopted a cat called Pebble.\n",
            today()
        ),
    );
    let source = |line: usize| format!("memory/{}.md:{line}", today());
    fake.push(Reply::text(&[&json!({"changes": [
        {"action": "supersede", "old": "My sister Ana lives in Porto.",
         "line": "My sister Ana lives in Braga.", "sources": [source(4)]},
        {"action": "add", "line": "I have a cat called <b>Pebble</b>.", "sources": [source(5)]},
    ]})
    .to_string()]));
    t.run(["memory", "consolidate"]).success();
    let server = start(&t);

    let shown = request(&server, "GET", "/api/memory/proposal", None, &[]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    let shown = shown.json();
    let changes = shown["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{shown}");
    assert_eq!(changes[0]["action"], "supersede");
    let diff = changes[0]["diff"].as_str().unwrap();
    assert!(diff.contains("- My sister Ana lives in Porto."), "{diff}");
    assert!(diff.contains("+ My sister Ana lives in Braga."), "{diff}");

    // A place the proposal does not have, or a proposal not the one shown: refused,
    // nothing changed.
    let made = shown["made"].as_str().unwrap();
    let beyond = json!({"made": made, "accept": [0, 7]}).to_string();
    let refused = request(&server, "POST", "/api/memory/proposal", Some(&beyond), &[]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let stale = json!({"made": "2000-01-01T00:00:00Z", "accept": [0]}).to_string();
    let refused = request(&server, "POST", "/api/memory/proposal", Some(&stale), &[]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(t.read("workspace/MEMORY.md"), original);

    // Accept the first, reject the second.
    let decision = json!({"made": made, "accept": [0]}).to_string();
    let done = request(
        &server,
        "POST",
        "/api/memory/proposal",
        Some(&decision),
        &[],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let done = done.json();
    assert_eq!(done["accepted"], 1);
    assert_eq!(done["rejected"], 1);
    let backup = done["backup"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap(), original);
    let after = t.read("workspace/MEMORY.md");
    assert!(
        after.contains("- ~~My sister Ana lives in Porto.~~ (superseded "),
        "{after}"
    );
    assert!(after.contains("My sister Ana lives in Braga."), "{after}");
    assert!(!after.contains("Pebble"), "{after}");
    let gone = request(&server, "GET", "/api/memory/proposal", None, &[]);
    assert_eq!(gone.status, 404, "{}", gone.body);
}
