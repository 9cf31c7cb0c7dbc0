//! `localgpt run`: golden scripts, every binding family, limits, error positions, the
//! standard library and its overrides, and the example scripts in `scripts/`.

use std::path::{Path, PathBuf};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use predicates::prelude::*;
use serde_json::json;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Writes a script into the test's scratch folder and returns its path.
fn script(t: &Test, name: &str, code: &str) -> String {
    let path = t.scratch().join(name);
    std::fs::write(&path, code).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn golden_scripts_print_what_they_should() {
    let t = Test::new().env("LOCALGPT_TEST_SECRET_TOKEN", "hidden");
    let dir = repo_file("tests/fixtures/scripts");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("out")).unwrap();
        let out = t.run(["run", path.to_str().unwrap()]).success();
        assert_eq!(
            text(&out.get_output().stdout),
            expected,
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn expressions_stdin_args_and_shebangs() {
    let t = Test::new();
    t.run(["run", "-e", "print(args)", "a", "-b", "--c"])
        .success()
        .stdout("[\"a\", \"-b\", \"--c\"]\n");
    t.command()
        .args(["run", "-", "x"])
        .write_stdin("print(`stdin ${args[0]}`);")
        .assert()
        .success()
        .stdout("stdin x\n");
    let path = script(
        &t,
        "tool.rhai",
        "#!/usr/bin/env -S localgpt run\nprint(\"shebang ok\");\nlet x = ;\n",
    );
    // The error is on line 3: the blanked shebang keeps line numbers true.
    t.run(["run", &path])
        .code(1)
        .stderr(predicate::str::contains("tool.rhai:3:"));
    t.run(["run"])
        .code(2)
        .stderr(predicate::str::contains("nothing to run"));
    t.run(["run", "/no/such/script.rhai"])
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}

#[test]
fn exit_codes_follow_the_script() {
    let t = Test::new();
    t.run(["run", "-e", "42"]).success();
    t.run(["run", "-e", "exit(3)"]).code(3);
    t.run([
        "run",
        "-e",
        "fn deep() { exit(4) } try { deep() } catch { print(\"caught\") }",
    ])
    .code(4)
    .stdout("");
    t.run(["run", "-e", "throw \"nope\""])
        .code(1)
        .stderr(predicate::str::contains("nope"));
}

#[test]
fn errors_show_the_place_the_line_and_a_caret() {
    let t = Test::new();
    let path = script(
        &t,
        "broken.rhai",
        "let a = 1;\nlet b = a + undefined_thing;\n",
    );
    t.run(["run", &path])
        .code(1)
        .stderr(predicate::str::contains(
            "broken.rhai:2:13: Variable not found: undefined_thing",
        ))
        .stderr(predicate::str::contains(
            " 2 | let b = a + undefined_thing;\n   |             ^",
        ));
    t.run(["run", "-e", "let x = (1 +;"])
        .code(1)
        .stderr(predicate::str::contains("<expression>:1:"));
}

#[test]
fn wrong_argument_types_list_the_real_signatures() {
    let t = Test::new();
    t.run(["run", "-e", "memory_search(42)"])
        .code(1)
        .stderr(predicate::str::contains(
            "memory_search cannot be called with (i64)",
        ))
        .stderr(predicate::str::contains(
            "memory_search(query: String, limit: int)",
        ));
}

#[test]
fn errors_inside_imported_modules_show_the_import_chain() {
    let t = Test::new();
    t.write(
        "workspace/stdlib/helper.rhai",
        "fn explode() {\n    let x = 1;\n    x.no_such_method()\n}\n",
    );
    t.run(["run", "-e", "import \"helper\" as h;\nh::explode();"])
        .code(1)
        .stderr(predicate::str::contains("helper.rhai:3:"))
        .stderr(predicate::str::contains("x.no_such_method()"))
        .stderr(predicate::str::contains(
            "in function `explode`, called at <expression>:2:",
        ));
    t.run(["run", "-e", "import \"missing\" as m;"])
        .code(1)
        .stderr(predicate::str::contains("there is no module `missing`"));
}

#[test]
fn workspace_stdlib_overrides_the_embedded_module_and_files_import_by_path() {
    let t = Test::new();
    t.write(
        "workspace/stdlib/text.rhai",
        "fn truncate(s, n) { \"overridden\" }\n",
    );
    t.run([
        "run",
        "-e",
        "import \"text\" as text; print(text::truncate(\"abc\", 1));",
    ])
    .success()
    .stdout("overridden\n");
    script(&t, "helpers.rhai", "fn greet(name) { `hi ${name}` }\n");
    let main = script(
        &t,
        "main.rhai",
        "import \"./helpers\" as h;\nprint(h::greet(\"Bo\"));\n",
    );
    t.run(["run", &main]).success().stdout("hi Bo\n");
    // A bare name finds the file beside the script, as plain Rhai does.
    let bare = script(
        &t,
        "bare.rhai",
        "import \"helpers\" as h;\nprint(h::greet(\"Al\"));\n",
    );
    t.run(["run", &bare]).success().stdout("hi Al\n");
}

#[test]
fn limits_stop_runaway_scripts_with_a_reason() {
    let t = Test::new();
    t.write(
        "config.toml",
        "[script]\nmax_operations = 200000\nmax_string_kb = 64\ntimeout_secs = 1\nmax_call_depth = 32\n",
    );
    t.run(["run", "-e", "loop { }"])
        .code(1)
        .stderr(predicate::str::contains("script.max_operations"));
    t.run(["run", "-e", "fn r(n) { r(n + 1) } r(0)"])
        .code(1)
        .stderr(predicate::str::contains("script.max_call_depth = 32"));
    t.run(["run", "-e", "let s = \"x\"; loop { s += s; }"])
        .code(1)
        .stderr(predicate::str::contains("script.max_string_kb"));
    t.run(["run", "-e", "sleep(30000)"])
        .code(1)
        .stderr(predicate::str::contains("script.timeout_secs (1 s)"));
    t.run(["run", "-e", "eval(\"1\")"])
        .code(1)
        .stderr(predicate::str::contains("eval"));
}

#[test]
fn size_limits_hold_for_every_array_and_string_and_cost_nothing_within_them() {
    let t = Test::new();
    t.write(
        "config.toml",
        "[script]\nmax_array_len = 1000\nmax_string_kb = 1\n",
    );
    t.run(["run", "-e", "let a = []; for i in 0..1001 { a.push(i); }"])
        .code(1)
        .stderr(predicate::str::contains("script.max_array_len"));
    // Inside another array, too.
    t.run([
        "run",
        "-e",
        "let a = [[]]; for i in 0..1001 { a[0].push(i); }",
    ])
    .code(1)
    .stderr(predicate::str::contains("script.max_array_len"));
    t.run([
        "run",
        "-e",
        "let a = [\"\"]; for i in 0..1100 { a[0] += \"x\"; }",
    ])
    .code(1)
    .stderr(predicate::str::contains("script.max_string_kb"));
    // Within them, all fine: 1,000 elements, many arrays of them.
    t.run([
        "run",
        "-e",
        "let all = []; for j in 0..50 { let a = []; for i in 0..1000 { a.push(i); } all.push(a); } print(all.len() * all[0].len());",
    ])
    .success()
    .stdout("50000\n");
}

#[test]
fn exit_codes_reach_the_shell_as_a_shell_reads_them() {
    let t = Test::new();
    t.run(["run", "-e", "exit(-1)"]).code(255);
    t.run(["run", "-e", "exit(3)"]).code(3);
    t.run(["run", "-e", "exit(256)"]).code(1);
    t.run(["run", "-e", "exit(0)"]).success();
}

#[test]
fn shell_and_file_bindings_work_inside_the_allowed_folders() {
    let t = Test::new();
    let code = r#"
        write_file("notes/a.txt", "one");
        append_file("notes/a.txt", "two");
        print(read_file("notes/a.txt"));
        print(file_exists("notes/a.txt"));
        print(file_exists("notes/none.txt"));
        print(list_dir("notes").map(|e| e.name));
        print(glob("notes/*.txt"));
        print(sh("echo shell"));
        let r = bash("echo out; echo err >&2; exit 3");
        print([r.code, r.stdout, r.stderr]);
        try { sh("exit 5") } catch (e) { print("sh threw") }
        try { read_file("/etc/hostname") } catch (e) { print("outside refused") }
    "#;
    t.run(["run", "-e", code]).success().stdout(
        "one\ntwo\n\ntrue\nfalse\n[\"a.txt\"]\n[\"notes/a.txt\"]\nshell\n\n[3, \"out\\n\", \"err\\n\"]\nsh threw\noutside refused\n",
    );
}

#[test]
fn deny_stops_commands_and_writes_in_scripts() {
    let t = Test::new();
    t.write("config.toml", "[tools]\napproval = \"deny\"\n");
    t.run(["run", "-e", "sh(\"echo no\")"])
        .code(1)
        .stderr(predicate::str::contains("deny"));
    t.run(["run", "-e", "write_file(\"x.txt\", \"no\")"])
        .code(1)
        .stderr(predicate::str::contains("deny"));
    assert!(!t.scratch().join("x.txt").exists());
}

#[test]
fn memory_bindings_reach_the_same_memory() {
    let t = Test::new();
    let code = r#"
        memory_add("the heron came back");
        remember("prefers rooibos");
        let hits = memory_search("heron");
        print(hits.len());
        print(hits[0].snippet);
        print(memory_get("MEMORY.md").contains("prefers rooibos"));
        print(memory_search("rooibos", 1)[0].path);
    "#;
    t.run(["run", "-e", code])
        .success()
        .stdout("1\nthe **heron** came back\ntrue\nMEMORY.md\n");
}

#[test]
fn http_bindings_follow_the_local_address_rule() {
    let fake = FakeProvider::start();
    let t = Test::new();
    let url = format!("{}/not-a-route", fake.url());
    t.run(["run", "-e", &format!("http_get(\"{url}\")")])
        .code(1)
        .stderr(predicate::str::contains("web_allow_local"));
    t.write("config.toml", "[tools]\nweb_allow_local = true\n");
    let code = format!(
        "let r = http_get(\"{url}\"); print(r.status); print(r.body);\n\
         let p = http_post(\"{url}\", #{{ a: 1 }}, #{{ \"x-test\": \"yes\" }}); print(p.status);"
    );
    t.run(["run", "-e", &code])
        .success()
        .stdout("404\n{\"error\":\"no such route\"}\n404\n");
    let received = fake.received();
    assert_eq!(received[1].body, json!({"a": 1}));
    assert_eq!(received[1].header("x-test"), Some("yes"));
}

#[test]
fn ask_and_chat_use_the_agent_loop() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    fake.push(Reply::text(&["four"]));
    fake.push(Reply::text(&["first"]));
    fake.push(Reply::text(&["second"]));
    let code = r#"
        print(ask("2+2?", #{ model: "gpt-4o", system: "Answer in words.", temperature: 0 }));
        print(chat("hello"));
        print(chat("again"));
    "#;
    t.run(["run", "-e", code])
        .success()
        .stdout("four\nfirst\nsecond\n");
    let received = fake.received();
    assert_eq!(
        received[0].body["messages"][0]["content"],
        "Answer in words."
    );
    assert_eq!(received[0].body["temperature"], 0.0);
    assert!(
        received[0].body.get("tools").is_none(),
        "ask has no tools unless asked"
    );
    assert!(received[1].body.get("tools").is_some(), "chat has tools");
    // The second chat continues the first conversation.
    let messages = received[2].body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[3]["content"], "again");
    t.run(["run", "-e", "ask(\"x\", #{ colour: 1 })"])
        .code(1)
        .stderr(predicate::str::contains("unknown option `colour`"));
}

#[test]
fn list_functions_documents_every_binding() {
    let t = Test::new();
    let out = t.run(["run", "--list-functions"]).success();
    let listing = text(&out.get_output().stdout);
    for name in [
        "ask(prompt",
        "chat(",
        "memory_search(",
        "memory_get(",
        "memory_add(",
        "remember(",
        "bash(",
        "sh(",
        "read_file(",
        "write_file(",
        "append_file(",
        "list_dir(",
        "file_exists(",
        "glob(",
        "http_get(",
        "http_post(",
        "web_fetch(",
        "json_get(",
        "to_json(",
        "from_json(",
        "now(",
        "today(",
        "sleep(",
        "env(",
        "log(",
        "script_dir(",
        "workspace_dir(",
        "exit(",
        "args",
    ] {
        assert!(listing.contains(name), "missing {name}");
    }
}

#[test]
fn example_script_summarize_asks_the_model() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    fake.push(Reply::text(&["- one\n- two"]));
    let file = script(&t, "report.txt", "A long report about kestrels and towers.");
    let script_path = repo_file("scripts/summarize.rhai");
    t.run(["run", script_path.to_str().unwrap(), &file, "2"])
        .success()
        .stdout("- one\n- two\n");
    let prompt = fake.received()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prompt.contains("2 short bullet points") && prompt.contains("kestrels"),
        "{prompt}"
    );
    t.run(["run", script_path.to_str().unwrap()])
        .code(2)
        .stdout(predicate::str::contains("usage"));
}

#[test]
fn example_script_memory_report_prints_markdown() {
    let t = Test::new();
    t.run(["memory", "add", "the kestrel nests in the tower"])
        .success();
    let script_path = repo_file("scripts/memory-report.rhai");
    let out = t
        .run(["run", script_path.to_str().unwrap(), "kestrel"])
        .success();
    let report = text(&out.get_output().stdout);
    assert!(report.starts_with("# Memory: kestrel\n"), "{report}");
    assert!(
        report.contains("| the **kestrel** nests in the tower |"),
        "{report}"
    );
    t.run(["run", script_path.to_str().unwrap(), "zzzz"])
        .code(1);
}

#[test]
fn example_script_git_to_daily_logs_todays_commits() {
    let t = Test::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["init", "-q"]);
    git(&[
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "add the kestrel tracker",
    ]);
    let script_path = repo_file("scripts/git-to-daily.rhai");
    t.command()
        .current_dir(&repo)
        .args(["run", script_path.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Added 1 commit(s)"));
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let log = t.read(&format!("workspace/memory/{today}.md"));
    assert!(log.contains("add the kestrel tracker"), "{log}");
    assert!(log.contains(":\n- "), "one commit per line: {log}");
}
