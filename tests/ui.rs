//! The web page in a real browser: Debian's Chromium driven through its WebDriver by
//! Selenium (`tests/fixtures/ui/ui_check.py`), against `localgpt serve` and the fake
//! provider — logging in through the one-time link, streaming, stopping, approving and
//! refusing a tool call, a past session continued, memory searched, opened and edited (and
//! a conflicting edit refused), a skill run, a task run in the history, settings, and
//! hostile model output that must never run. Screenshots of each view at desktop and phone
//! width go to `target/ui-screenshots/`.

use std::path::Path;
use std::time::Duration;

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use crate::server::{raw, request, start};
use serde_json::{Value, json};

const HOSTILE: &str = "Here: <img src=x onerror=\"window.__xss=1\"> and <script>window.__xss=3</script> \
and [click me](javascript:window.__xss=2) and <a href=\"javascript:window.__xss=5\">this</a>. hostile-end";

fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[sessions]\nauto_title = false\n",
    );
    t.write(
        "workspace/MEMORY.md",
        "# Memory\n\nThe kestrel box is on the north wall.\n",
    );
    // A consolidation proposal waiting for review, one line of it hostile.
    t.write(
        "memory-proposal.json",
        &json!({"made": "2026-12-07T03:30:00+00:00", "logs": ["memory/2026-12-06.md"],
        "changes": [
            {"action": "add", "sources": ["memory/2026-12-06.md:3"],
             "line": "The owl <img src=x onerror=\"window.__xss=1\"> roosts in the barn."},
            {"action": "add", "sources": ["memory/2026-12-06.md:4"],
             "line": "The swift left in August."},
        ]})
        .to_string(),
    );
    t.write(
        "workspace/skills/shout.rhai",
        "//! description: Shouts.\nprint(args.map(|a| a.to_upper()).reduce(|s, a| if s == () { a } else { s + \" \" + a }));\n",
    );
    t.write(
        "workspace/heartbeat/tick.rhai",
        "//! description: Says it ran.\n//! schedule: @daily\nprint(\"tick ran\");\n",
    );
    (fake, t)
}

#[cfg_attr(
    not(test_external),
    ignore = "needs Chromium, chromedriver and Python's selenium (.ci/run installs them; set LOCALGPT_TEST_EXTERNAL=1)"
)]
#[test]
fn a_person_uses_the_page_in_a_real_browser() {
    let (fake, t) = setup();
    // The model's replies, in the order the page's steps use them.
    fake.push(Reply::Slow(
        [
            "Hello, ",
            "this is **bold**, ",
            "and some code:\n\n```rust\nfn main() {}\n```\n\n",
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n",
            "END",
        ]
        .map(String::from)
        .to_vec(),
        Duration::from_millis(300),
    ));
    fake.push(Reply::Slow(
        (0..200).map(|i| format!("w{i} ")).collect(),
        Duration::from_millis(100),
    ));
    for name in ["approved", "refused"] {
        fake.push(Reply::tool(
            "write_file",
            json!({"path": format!("{name}.txt"), "content": "yes"}),
        ));
        fake.push(Reply::text(&["done with the file"]));
    }
    fake.push(Reply::text(&[HOSTILE]));
    fake.push(Reply::text(&["continued"]));

    let server = start(&t);
    let code = request(&server, "POST", "/api/ui/code", None, &[]).json();
    let login = code["path"].as_str().unwrap().to_string();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let workspace = t.path("workspace");
    let output = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ui/ui_check.py"))
        .arg(format!("http://127.0.0.1:{}", server.port))
        .arg(&login)
        .arg(&workspace)
        .arg(&shots)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the browser run failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(report["login_view_without_cookie"], true);
    assert_eq!(report["logged_in"], true);
    assert_eq!(report["second_use_refused"], true, "{report}");
    assert!(report["partial_states"].as_u64().unwrap() >= 2, "{report}");
    for rendered in ["bold", "highlighted", "table"] {
        assert_eq!(report[rendered], true, "{rendered}: {report}");
    }
    assert!(
        report["tokens_shown"].as_str().unwrap().contains("tokens"),
        "{report}"
    );
    assert_eq!(report["stopped_notice"], true, "{report}");
    assert!(!report["stopped_text"].as_str().unwrap().contains("w199"));
    assert!(
        report["approved_question"]
            .as_str()
            .unwrap()
            .contains("approved.txt"),
        "{report}"
    );
    assert_eq!(report["approved_file_exists"], true);
    assert_eq!(report["refused_file_exists"], false);
    assert_eq!(report["approved_tool_status"], "done");
    assert_eq!(report["refused_tool_status"], "failed");
    for ran in ["xss_ran", "xss_ran_in_titles"] {
        assert_eq!(report[ran], Value::Null, "{ran}: {report}");
    }
    assert_eq!(report["javascript_links"], 0);
    assert_eq!(report["images_with_handlers"], 0);
    assert_eq!(report["scripts_in_messages"], 0);
    assert_eq!(report["renamed"], 200);
    assert_eq!(report["hostile_title_is_text"], true, "{report}");
    let diffs = report["proposal_diffs"].to_string();
    assert!(diffs.contains("+ The owl <img src=x"), "{diffs}");
    assert!(diffs.contains("+ The swift left in August."), "{diffs}");
    assert!(
        report["proposal_state"]
            .as_str()
            .unwrap()
            .contains("1 made, 1 rejected"),
        "{report}"
    );
    let after = report["memory_after_proposal"].as_str().unwrap();
    assert!(after.contains("The owl <img src=x"), "{after}");
    assert!(!after.contains("swift"), "{after}");
    assert_eq!(report["xss_ran_in_proposal"], Value::Null);
    assert_eq!(report["marked"].as_str().unwrap().to_lowercase(), "kestrel");
    assert_eq!(report["new_text_found"], true);
    assert_eq!(report["conflict_shows_theirs"], true);
    assert_eq!(report["theirs_kept"], true);
    assert_eq!(report["skill_output"], "HELLO THERE");
    assert!(
        report["history"].as_str().unwrap().contains("tick"),
        "{report}"
    );
    assert!(
        report["history_output"]
            .as_str()
            .unwrap()
            .contains("tick ran")
    );
    assert!(
        report["bad_setting"]
            .as_str()
            .unwrap()
            .contains("max_tool_rounds"),
        "{report}"
    );
    assert!(t.read("config.toml").contains("max_tool_rounds = 30"));
    assert_eq!(
        report["dark_background"], "rgb(20, 23, 28)",
        "dark follows the system"
    );
    let unexpected: Vec<&Value> = report["console_errors"]
        .as_array()
        .unwrap()
        .iter()
        // The answers the steps ask for on purpose: no login yet, a conflicting save, a
        // refused setting.
        .filter(|error| {
            let error = error.as_str().unwrap_or_default();
            !["status of 401", "status of 409", "status of 422"]
                .iter()
                .any(|expected| error.contains(expected))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "the browser logged errors: {unexpected:?}"
    );
    // The continued session's request held the old conversation.
    let last = fake.received().last().unwrap().body["messages"].clone();
    assert!(last.to_string().contains("hello"), "{last}");
    fake.assert_no_refusals();
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_needs_a_login_for_everything_else() {
    let (_fake, t) = setup();
    let server = start(&t);
    let page = raw(server.port, "GET", "/", None, &[]);
    assert_eq!(page.status, 200);
    let policy = page
        .header("content-security-policy")
        .unwrap_or_default()
        .to_string();
    for rule in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(rule), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    let script = raw(
        server.port,
        "GET",
        "/ui/app.js",
        None,
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-encoding"), Some("gzip"));
    assert_eq!(
        raw(server.port, "GET", "/ui/nope.js", None, &[]).status,
        404
    );
    // The API still needs the token or the page's cookie.
    assert_eq!(
        raw(server.port, "GET", "/api/status", None, &[]).status,
        401
    );
    // A login link works once.
    let code = request(&server, "POST", "/api/ui/code", None, &[]).json();
    let login = code["path"].as_str().unwrap();
    let first = raw(server.port, "GET", login, None, &[]);
    assert_eq!(first.status, 303);
    let cookie = first.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(raw(server.port, "GET", login, None, &[]).status, 401);
    let session = cookie.split(';').next().unwrap().to_string();
    let with_cookie = format!("Cookie: {session}");
    assert_eq!(
        raw(server.port, "GET", "/api/status", None, &[&with_cookie]).status,
        200
    );
    // A change with the cookie must come from the page itself.
    let body = r#"{"text": "from another site"}"#;
    let elsewhere = raw(
        server.port,
        "POST",
        "/api/memory",
        Some(body),
        &[&with_cookie, "Origin: https://evil.example"],
    );
    assert_eq!(elsewhere.status, 403);
    let no_origin = raw(
        server.port,
        "POST",
        "/api/memory",
        Some(body),
        &[&with_cookie],
    );
    assert_eq!(no_origin.status, 403);
    let own = format!("Origin: http://127.0.0.1:{}", server.port);
    let from_page = raw(
        server.port,
        "POST",
        "/api/memory",
        Some(body),
        &[&with_cookie, &own],
    );
    assert_eq!(from_page.status, 200, "{}", from_page.body);
}
