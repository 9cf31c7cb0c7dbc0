//! Boundaries tried as an attacker would, through the real binary: a model steered by a
//! hostile page (tool calls from the fake provider), scripts run with `localgpt run` and
//! `POST /api/scripts/run`, and pages served by a local "public" server that redirects
//! inward. Nothing may read LocalGPT's secrets, reach this machine's services, or take a
//! process down. (The kernel sandbox for commands has its own module, `sandbox`.)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use crate::heartbeat::{runs, runs_of, spawn_daemon, task, terminate, wait_for};
use crate::server::{request, start};
use serde_json::{Value, json};

pub const FILE_KEY: &str = "sk-file-secret-0123456789abcdef";

fn setup() -> (FakeProvider, Test) {
    setup_with("")
}

/// The fake provider, and a home whose config.toml holds an API key (`FILE_KEY`) and then
/// `more`.
pub fn setup_with(more: &str) -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[providers.openrouter]\nkind = \
             \"openai\"\nbase_url = \"https://openrouter.ai/api/v1\"\napi_key = \"{FILE_KEY}\"\n\n{more}"
        ),
    );
    (fake, t)
}

/// One model turn that makes `call` and then answers "done"; the tool's result.
pub fn model_calls(fake: &FakeProvider, t: &Test, name: &str, arguments: Value) -> String {
    fake.push(Reply::tool(name, arguments));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "--yes", "go"]).success();
    fake.last_tool_result()
}

/// A script run with `localgpt run -e` from the test's folder: (success, stdout, stderr).
fn script(t: &Test, code: &str) -> (bool, String, String) {
    let output = t.command().args(["run", "-e", code]).output().unwrap();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn the_models_file_tools_never_open_localgpts_files_or_credential_stores() {
    let (fake, t) = setup();
    let t = t.started_in_home();
    // The test's folder is both the current folder and $HOME, and holds LocalGPT's home:
    // the person started LocalGPT in their home folder.
    let home_dir = t.scratch();
    t.write("api-token", "token-0123456789");
    t.write("config.toml.bak", &format!("api_key = \"{FILE_KEY}\"\n"));
    std::fs::create_dir_all(home_dir.join(".ssh")).unwrap();
    std::fs::write(home_dir.join(".ssh/id_ed25519"), "PRIVATE-KEY-MATERIAL").unwrap();
    std::fs::create_dir_all(home_dir.join(".aws")).unwrap();
    std::fs::write(home_dir.join(".aws/credentials"), "aws_secret=AWS-SECRET").unwrap();
    std::fs::create_dir_all(home_dir.join("project")).unwrap();
    std::fs::write(home_dir.join("project/.env"), "DB_PASSWORD=ENV-SECRET").unwrap();
    std::os::unix::fs::symlink(t.path("config.toml"), home_dir.join("innocent.toml")).unwrap();
    for path in [
        "home/config.toml",
        "home/config.toml.bak",
        "home/api-token",
        "home/sessions",
        "innocent.toml",
        ".ssh/id_ed25519",
        ".aws/credentials",
        "project/.env",
    ] {
        let result = model_calls(&fake, &t, "read_file", json!({"path": path}));
        for secret in [
            FILE_KEY,
            "token-0123456789",
            "PRIVATE-KEY",
            "AWS-SECRET",
            "ENV-SECRET",
        ] {
            assert!(!result.contains(secret), "{path}: {result}");
        }
        assert!(
            result.contains("LocalGPT's own files")
                || result.contains("holds credentials")
                || result.contains("environment file"),
            "{path}: {result}"
        );
    }
    // Nor written over.
    let result = model_calls(
        &fake,
        &t,
        "write_file",
        json!({"path": "home/config.toml", "content": "[agent]\n"}),
    );
    assert!(result.contains("LocalGPT's own files"), "{result}");
    assert!(t.read("config.toml").contains(FILE_KEY));
    // A listing of the folder leaves them out.
    let listing = model_calls(&fake, &t, "list_dir", json!({"path": "."}));
    assert!(listing.contains("project/"), "{listing}");
    for hidden in ["home/", ".ssh/", ".aws/"] {
        assert!(!listing.contains(hidden), "{listing}");
    }
    // Scripts and their globs are held to the same.
    let (ok, _, err) = script(&t, r#"read_file("home/config.toml")"#);
    assert!(!ok && err.contains("LocalGPT's own files"), "{err}");
    assert!(!err.contains(FILE_KEY), "{err}");
    let (ok, out, err) = script(&t, r#"for p in glob("**/*") { print(p) }"#);
    assert!(ok, "{err}");
    assert!(
        out.contains("project/.env") || out.contains("project"),
        "{out}"
    );
    for hidden in ["config.toml", "id_ed25519", "credentials", "api-token"] {
        assert!(!out.contains(hidden), "{out}");
    }
}

#[test]
fn commands_get_no_credentials_in_their_environment() {
    let (fake, t) = setup();
    let t = t
        .env("AWS_SECRET_ACCESS_KEY", "AWS-SECRET-VALUE")
        .env("GITHUB_PAT", "ghp-SECRET-VALUE")
        .env("DATABASE_URL", "postgres://me:DB-SECRET@db/app")
        .env("AWS_REGION", "eu-west-1");
    let result = model_calls(&fake, &t, "bash", json!({"command": "env"}));
    for secret in [
        "sk-test-openai-0123456789",
        "sk-ant-test",
        "AWS-SECRET-VALUE",
        "ghp-SECRET-VALUE",
        "DB-SECRET",
    ] {
        assert!(
            !result.contains(secret),
            "{secret} reached the command: {result}"
        );
    }
    // The documented allow-list passes what only looks like a credential.
    assert!(result.contains("AWS_REGION=eu-west-1"), "{result}");
}

#[test]
fn passwords_in_base_urls_are_masked_wherever_shown() {
    let t = Test::new()
        .env("OPENAI_API_KEY", "sk-test-0123456789abcdef")
        .env("OPENAI_BASE_URL", "http://me:hunter2@127.0.0.1:9/v1");
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n",
    );
    let out = t.run(["config", "show"]).success();
    let shown = text(&out.get_output().stdout);
    assert!(shown.contains("http://me:****@127.0.0.1:9/v1"), "{shown}");
    let out = t
        .run(["config", "get", "providers.openai.base_url"])
        .success();
    assert_eq!(
        text(&out.get_output().stdout),
        "http://me:****@127.0.0.1:9/v1\n"
    );
    let out = t.run(["ask", "hello"]).failure();
    let error = text(&out.get_output().stderr);
    assert!(error.contains("127.0.0.1:9"), "{error}");
    for shown in [shown, error] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    let logs = std::fs::read_dir(t.path("logs"))
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .collect::<String>()
        })
        .unwrap_or_default();
    assert!(!logs.contains("hunter2"), "{logs}");
}

#[test]
fn memory_get_does_not_follow_a_link_out_of_the_workspace() {
    let (fake, t) = setup();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "root:OUTSIDE-SECRET").unwrap();
    t.write("workspace/MEMORY.md", "# Memory\n");
    std::os::unix::fs::symlink(outside.path(), t.path("workspace/etclink")).unwrap();
    let result = model_calls(&fake, &t, "memory_get", json!({"path": "etclink/passwd"}));
    assert!(!result.contains("OUTSIDE-SECRET"), "{result}");
    assert!(result.contains("outside"), "{result}");
    let (ok, _, err) = script(&t, r#"print(memory_get("etclink/passwd"))"#);
    assert!(!ok, "the link was followed");
    assert!(!err.contains("OUTSIDE-SECRET"), "{err}");
}

/// A server on `address` that answers `/page` with a page and redirects the other paths
/// to where `redirects` says; counts the requests it gets.
fn serve(address: &str, redirects: Vec<(&'static str, String)>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(address).unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split(' ').nth(1).unwrap_or("/").to_string();
            let response = match redirects.iter().find(|(from, _)| *from == path) {
                Some((_, to)) => format!(
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
                None => {
                    let body = format!("<html><body>PAGE AT {path}</body></html>");
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, hits)
}

#[cfg(target_os = "linux")]
#[test]
fn a_public_page_that_redirects_to_this_machine_is_refused_at_every_hop() {
    let (fake, t) = setup();
    // The internal service the page points the model at.
    let (internal, internal_hits) = serve("127.0.0.1:0", Vec::new());
    // The "public" page: 127.0.0.2 stands for a public address in this test
    // (LOCALGPT_TEST_PUBLIC_IP, honoured by debug builds only).
    let (public, _) = serve(
        "127.0.0.2:0",
        vec![
            ("/to-ip", format!("http://127.0.0.1:{internal}/secret")),
            ("/to-name", format!("http://localhost:{internal}/secret")),
            (
                "/to-mapped",
                format!("http://[::ffff:127.0.0.1]:{internal}/secret"),
            ),
            (
                "/to-decimal",
                format!("http://2130706433:{internal}/secret"),
            ),
            ("/to-file", "file:///etc/passwd".to_string()),
            ("/hop", "/to-ip".to_string()),
        ],
    );
    let t = t.env("LOCALGPT_TEST_PUBLIC_IP", "127.0.0.2");
    let page = format!("http://127.0.0.2:{public}");
    // The public page itself is fetched (so the refusals below are the redirects').
    let result = model_calls(
        &fake,
        &t,
        "web_fetch",
        json!({"url": format!("{page}/page")}),
    );
    assert!(result.contains("PAGE AT /page"), "{result}");
    for path in [
        "/to-ip",
        "/to-name",
        "/to-mapped",
        "/to-decimal",
        "/to-file",
        "/hop",
    ] {
        let url = format!("{page}{path}");
        let result = model_calls(&fake, &t, "web_fetch", json!({"url": url}));
        assert!(!result.contains("PAGE AT"), "{path}: {result}");
        // A hop to another scheme is not followed at all (the 302 is the answer).
        assert!(
            result.contains("this machine or a private network") || path == "/to-file",
            "{path}: {result}"
        );
        for code in [
            format!(r#"http_get("{url}")"#),
            format!(r#"json_get("{url}")"#),
            format!(r#"web_fetch("{url}")"#),
            format!(r#"http_post("{url}", "x")"#),
        ] {
            let (ok, out, err) = script(&t, &code);
            assert!(!ok || path == "/to-file", "{code}: {out}");
            assert!(
                !err.contains("PAGE AT") && !out.contains("PAGE AT"),
                "{code}: {out}{err}"
            );
        }
    }
    assert_eq!(
        internal_hits.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
}

#[test]
fn import_cycles_are_errors_that_name_them_at_every_door() {
    let (_fake, t) = setup();
    t.write("workspace/me.rhai", "import \"me\" as me;\nprint(1);\n");
    t.write("workspace/a.rhai", "import \"b\" as b;\nfn fa() { 1 }\n");
    t.write("workspace/b.rhai", "import \"a\" as a;\nfn fb() { 2 }\n");
    for (file, cycle) in [("me.rhai", "me.rhai → "), ("a.rhai", "b.rhai → ")] {
        let path = t.path("workspace").join(file);
        let out = t.run(["run", path.to_str().unwrap()]).code(1);
        let err = text(&out.get_output().stderr);
        assert!(err.contains("import cycle") && err.contains(cycle), "{err}");
    }
    // Inside serve, the same script is an error in the answer and the server goes on.
    let server = start(&t);
    let body = json!({"path": t.path("workspace/a.rhai").to_string_lossy()}).to_string();
    let answer = request(&server, "POST", "/api/scripts/run", Some(&body), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("import cycle"),
        "{}",
        answer.body
    );
    assert_eq!(request(&server, "GET", "/health", None, &[]).status, 200);
}

#[test]
fn imports_are_confined_and_never_quote_a_file_they_may_not_read() {
    let (_fake, t) = setup();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("keys.toml"),
        "api_key = \"sk-OUTSIDE-SECRET\"\n",
    )
    .unwrap();
    std::fs::write(
        outside.path().join("lib.rhai"),
        "fn f() { \"sk-OUTSIDE-SECRET\" }\n",
    )
    .unwrap();
    for target in ["keys.toml", "lib"] {
        let path = outside.path().join(target);
        let code = format!("import \"{}\" as m;", path.display());
        let (ok, _, err) = script(&t, &code);
        assert!(!ok);
        assert!(err.contains("outside the folders"), "{err}");
        assert!(!err.contains("OUTSIDE-SECRET"), "{err}");
    }
    // LocalGPT's own files are not importable from a folder that holds them either.
    let (ok, _, err) = script(&t, r#"import "home/config.toml" as c;"#);
    assert!(!ok && !err.contains(FILE_KEY), "{err}");
}

#[test]
fn every_script_limit_holds() {
    let (_fake, t) = setup();
    t.write(
        "config.toml",
        "[script]\nmax_map_len = 100\nmax_array_len = 100\nmax_string_kb = 1\n",
    );
    for (code, setting) in [
        (
            "let m = #{}; for i in 0..1000 { m[`k${i}`] = i; }",
            "script.max_map_len",
        ),
        (
            "let m = #{}; for i in 0..1000 { let one = #{}; one[`k${i}`] = i; m.mixin(one); }",
            "script.max_map_len",
        ),
        (
            "let a = []; for i in 0..1000 { a.push(i); }",
            "script.max_array_len",
        ),
        (
            "let s = \"\"; for i in 0..2000 { s += \"x\"; }",
            "script.max_string_kb",
        ),
    ] {
        let (ok, _, err) = script(&t, code);
        assert!(!ok, "{code} ran past {setting}");
        assert!(err.contains(setting), "{code}: {err}");
    }
}

#[test]
fn a_script_past_its_memory_ceiling_stops_and_serve_goes_on() {
    let (_fake, t) = setup();
    t.write("config.toml", "[script]\nmax_memory_mb = 64\n");
    let server = start(&t);
    // Arrays of shared strings: each element is small, the whole is ~160 MB.
    let hog = "let all = []; for i in 0..1000 { let row = []; row.pad(10000, \"x\"); all.push(row); } all.len()";
    let body = json!({"source": hog}).to_string();
    let answer = request(&server, "POST", "/api/scripts/run", Some(&body), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let error = answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("script.max_memory_mb"), "{}", answer.body);
    let fine = json!({"source": "40 + 2"}).to_string();
    let answer = request(&server, "POST", "/api/scripts/run", Some(&fine), &[]);
    assert_eq!(answer.json()["value"], 42, "{}", answer.body);
}

const PANIC: &str = "__localgpt_panic(\"deliberate test panic\");";

/// The panic came back as an error that says what it is (not the source line quoted in
/// some other error, which also holds the words).
fn assert_reported(what: &str, output: &str) {
    assert!(
        output.contains("internal error") && output.contains("deliberate test panic"),
        "{what}: {output}"
    );
}

#[test]
fn a_panic_is_an_error_at_every_front_door() {
    let (fake, t) = setup();
    // `localgpt run`: an error and status 1, not an abort.
    let out = t.run(["run", "-e", PANIC]).code(1);
    assert_reported("run", &text(&out.get_output().stderr));
    // The REPL: the next line still runs.
    let output = t
        .command()
        .args(["-q"])
        .write_stdin(format!(":{PANIC}\n:40 + 2\n"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("42"),
        "{}",
        text(&output.stdout)
    );
    assert_reported(
        "repl",
        &format!("{}{}", text(&output.stderr), text(&output.stdout)),
    );
    // A skill, run by the person and by the model.
    t.write(
        "workspace/skills/boom.rhai",
        &format!("//! description: Panics.\n{PANIC}\n"),
    );
    let out = t.run(["skills", "run", "boom"]).code(1);
    assert_reported("skill", &text(&out.get_output().stderr));
    let result = model_calls(&fake, &t, "run_skill", json!({"name": "boom"}));
    assert_reported("the model's skill", &result);
    // A heartbeat task, run by hand and by the daemon, which goes on firing.
    task(
        &t,
        "boom",
        &format!("//! schedule: */1 * * * * *\n{PANIC}\n"),
    );
    t.run(["heartbeat", "run", "boom"]).code(1);
    let mut daemon = spawn_daemon(&t);
    let all = wait_for(&t, "two failed runs of the panicking task", |all| {
        runs_of(all, "boom")
            .iter()
            .filter(|run| run["status"] == "error" && run["trigger"] != "manual")
            .count()
            >= 2
    });
    assert_reported("task", &runs_of(&all, "boom")[0]["output"].to_string());
    assert!(daemon.try_wait().unwrap().is_none(), "the daemon died");
    assert!(terminate(&mut daemon).success());
    // serve: an error answer, and the next request is served.
    let server = start(&t);
    let body = json!({"source": PANIC}).to_string();
    let answer = request(&server, "POST", "/api/scripts/run", Some(&body), &[]);
    assert_reported("serve", &answer.body);
    let answer = request(&server, "POST", "/api/skills/boom/run", Some("{}"), &[]);
    assert_reported("serve's skills", &answer.body);
    assert_eq!(request(&server, "GET", "/health", None, &[]).status, 200);
    assert!(!runs(&t).is_empty());
}
