//! `localgpt memory …` end to end, through the real binary.

use crate::common::{Test, text};
use predicates::prelude::*;

fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

#[test]
fn add_then_search_then_get() {
    let t = Test::new();
    t.run([
        "memory", "add", "The", "staging", "server", "is", "called", "kestrel.",
    ])
    .success()
    .stdout(format!("added to memory/{}.md\n", today()));
    let found = t
        .run(["memory", "search", "kestrel"])
        .success()
        .get_output()
        .stdout
        .clone();
    let found = text(&found);
    assert!(
        found.contains(&format!("memory/{}.md:3-4", today())),
        "{found}"
    );
    assert!(found.contains("**kestrel**"), "{found}");

    t.run(["memory", "get", &format!("memory/{}.md:4", today())])
        .success()
        .stdout("The staging server is called kestrel.\n");
}

#[test]
fn add_reads_stdin_with_a_dash() {
    let t = Test::new();
    t.command()
        .args(["memory", "add", "-"])
        .write_stdin("line one\nline two about herons\n")
        .assert()
        .success();
    t.run(["memory", "search", "herons"]).success();
    let log = t.read(&format!("workspace/memory/{}.md", today()));
    assert!(log.contains("line one\nline two about herons\n"), "{log}");
    t.command()
        .args(["memory", "add", "-"])
        .write_stdin("  \n")
        .assert()
        .code(2);
}

#[test]
fn search_json_has_every_field() {
    let t = Test::new();
    t.write(
        "workspace/MEMORY.md",
        "# Memory\n\n## Tools\nI edit with helix.\n",
    );
    let out = t
        .run(["memory", "search", "helix", "--json"])
        .success()
        .get_output()
        .stdout
        .clone();
    let hits: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let hit = &hits[0];
    assert_eq!(hit["path"], "MEMORY.md");
    assert_eq!(hit["start_line"], 3);
    assert_eq!(hit["end_line"], 4);
    assert_eq!(hit["heading"], "Memory › Tools");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    assert_eq!(hit["snippet"], "I edit with **helix**.");
}

#[test]
fn nothing_found_exits_1_and_hostile_queries_never_fail() {
    let t = Test::new();
    t.run(["memory", "search", "unfindable"])
        .code(1)
        .stderr(predicate::str::contains("nothing in memory matches"));
    for query in [
        "\"",
        "NEAR(",
        "a:b",
        "*",
        "-x",
        "--",
        "'; DROP TABLE files; --",
        "🙂",
    ] {
        let code = t
            .run(["memory", "search", "--", query])
            .get_output()
            .status
            .code();
        assert!(matches!(code, Some(0 | 1)), "{query:?} exited {code:?}");
    }
}

#[test]
fn reindex_stats_and_force() {
    let t = Test::new();
    t.write(
        "workspace/memory/2026-01-01.md",
        "# New year\nresolutions\n",
    );
    t.run(["memory", "reindex"])
        .success()
        .stdout(predicate::str::contains("2 files: 2 new"));
    t.run(["memory", "reindex"])
        .success()
        .stdout(predicate::str::contains("2 unchanged"));
    t.run(["memory", "reindex", "--force"])
        .success()
        .stdout(predicate::str::contains("2 new"));
    t.run(["memory", "stats"])
        .success()
        .stdout(predicate::str::contains("files         2"))
        .stdout(predicate::str::contains("last indexed  2"));
}

#[test]
fn a_damaged_index_is_rebuilt_and_reported() {
    let t = Test::new();
    t.run(["memory", "add", "ospreys nest here"]).success();
    t.run(["memory", "search", "ospreys"]).success();
    std::fs::write(
        t.path("index.sqlite"),
        "not a database at all, sorry".repeat(200),
    )
    .unwrap();
    for side in ["index.sqlite-wal", "index.sqlite-shm"] {
        let _ = std::fs::remove_file(t.path(side));
    }
    t.run(["memory", "search", "ospreys"])
        .success()
        .stderr(predicate::str::contains("damaged"))
        .stdout(predicate::str::contains("ospreys"));
}

#[test]
fn recent_shows_todays_log() {
    let t = Test::new();
    t.run(["memory", "recent"])
        .success()
        .stderr(predicate::str::contains("no daily log"));
    t.run(["memory", "add", "fed the cat"]).success();
    t.run(["memory", "recent", "--days", "1"])
        .success()
        .stdout(predicate::str::contains(format!("memory/{}.md", today())))
        .stdout(predicate::str::contains("fed the cat"));
}

#[test]
fn get_refuses_paths_outside_memory() {
    let t = Test::new();
    t.run(["memory", "get", "../config.toml"])
        .code(2)
        .stderr(predicate::str::contains("`..`"));
    t.run(["memory", "get", "/etc/passwd"])
        .code(2)
        .stderr(predicate::str::contains("not part of memory"));
    t.run(["memory", "get", "MEMORY.md:999"])
        .code(2)
        .stderr(predicate::str::contains("lines"));
}

#[test]
fn extra_paths_from_config_are_searched() {
    let t = Test::new();
    let notes = t.scratch().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(
        notes.join("garden.md"),
        "# Garden\nplant garlic in october\n",
    )
    .unwrap();
    t.run([
        "config",
        "set",
        "memory.extra_paths",
        &format!("[\"{}\"]", notes.display()),
    ])
    .success();
    t.run(["memory", "search", "garlic"])
        .success()
        .stdout(predicate::str::contains("notes/garden.md:1-2"));
}

#[test]
fn a_search_with_nothing_changed_writes_nothing() {
    let t = Test::new();
    t.write(
        "workspace/memory/a.md",
        "# A\n\nThe kestrel box is on the north wall.\n",
    );
    t.write(
        "workspace/memory/b.md",
        "# B\n\nThe heron pond needs a net.\n",
    );
    t.run(["memory", "search", "kestrel"]).success();
    let stamp = |name: &str| {
        std::fs::metadata(t.home().join(name))
            .map(|meta| (meta.len(), meta.modified().unwrap()))
            .ok()
    };
    let before = (stamp("index.sqlite"), stamp("index.sqlite-wal"));
    let out = t.run(["memory", "search", "heron"]).success();
    assert!(text(&out.get_output().stdout).contains("heron"));
    assert_eq!((stamp("index.sqlite"), stamp("index.sqlite-wal")), before);
    // A change is still seen, and written.
    t.write(
        "workspace/memory/b.md",
        "# B\n\nThe heron pond needs a finer net.\n",
    );
    let out = t.run(["memory", "search", "finer"]).success();
    assert!(text(&out.get_output().stdout).contains("finer"));
}

#[test]
fn chinese_japanese_and_korean_words_are_found_inside_sentences() {
    let t = Test::new();
    t.write(
        "workspace/memory/2026-11-02.md",
        "# 2026-11-02\n\n日本語のテキストを読んだ。\n\n北京烤鸭很好吃。\n\n한국어 공부를 시작했다.\n",
    );
    t.write(
        "workspace/memory/2026-11-03.md",
        "# 2026-11-03\n\nNothing in Japanese.\n",
    );
    for (query, expected) in [
        ("日本語", "日本語のテキスト"),
        ("テキスト", "日本語のテキスト"),
        ("烤鸭", "北京烤鸭"),
        ("한국어", "한국어 공부"),
        ("공부", "한국어 공부"),
    ] {
        let out = t
            .run(["memory", "search", "--mode", "keyword", query])
            .success();
        let shown = text(&out.get_output().stdout);
        assert!(shown.contains("2026-11-02.md"), "{query}: {shown}");
        assert!(shown.contains(expected), "{query}: {shown}");
        assert!(!shown.contains("2026-11-03.md"), "{query}: {shown}");
    }
    // Characters that are not next to each other in any note find nothing.
    t.run(["memory", "search", "--mode", "keyword", "語烤"])
        .code(1);
}
