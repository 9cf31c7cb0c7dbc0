//! MCP both ways, through the real binary.
//!
//! As a client: an in-tree server that misbehaves on request (`tests/fixtures/mcp/
//! fault_server.py`, Python's standard library only: slow, crashing, huge, a bad schema),
//! and — where `.ci/run` installed them — the reference servers no one here wrote: the
//! npm `@modelcontextprotocol/server-everything` over stdio, streamable HTTP and the older
//! HTTP+SSE, and PyPI's `mcp-server-time`. The model's calls come from the fake provider.
//! As a server: `localgpt mcp serve` and `/mcp` on the API, driven by the reference
//! Python SDK's client.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mcp")
        .join(name)
}

/// Where `.ci/run` installs the npm reference servers.
fn everything_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "target/mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    )
}

/// The fault server's settings, with `trust` and what else the test needs after them.
fn fault_server(t: &Test, trust: &str, more: &str) -> String {
    format!(
        "[mcp.servers.fault]\ncommand = \"python3\"\nargs = [\"{}\"]\nenv = {{ FAULT_MARKS = \"{}\" }}\ntimeout_secs = 3\ntrust = \"{trust}\"\n{more}",
        fixture("fault_server.py").display(),
        t.scratch().display()
    )
}

fn setup(config: &str) -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        &format!("[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{config}"),
    );
    (fake, t)
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    text(&assert.get_output().stdout)
}

/// Waits for `done`; the deadline only bounds a failing test.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn process_is_gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| {
            status
                .lines()
                .any(|l| l.starts_with("State:") && l.contains("Z"))
        })
        .unwrap_or(true)
}

#[test]
fn a_server_that_fails_is_reported_and_the_others_go_on() {
    let (_fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "{}\n[mcp.servers.missing]\ncommand = \"no-such-mcp-server\"\n\n[mcp.servers.off]\ncommand = \"python3\"\nenabled = false\n",
            fault_server(&t, "all", "")
        ),
    );
    let out = t.run(["mcp", "list"]).success();
    let listing = stdout(&out);
    assert!(listing.contains("running  5 tools"), "{listing}");
    assert!(
        listing.contains("cannot start `no-such-mcp-server`: not found"),
        "{listing}"
    );
    assert!(listing.contains("disabled"), "{listing}");
    let out = t.run(["mcp", "tools", "fault"]).success();
    let tools = stdout(&out);
    for offered in [
        "fault__echo",
        "fault__slow",
        "fault__crash",
        "fault__huge",
        "fault__any_of",
    ] {
        assert!(tools.contains(offered), "{offered}: {tools}");
    }
    assert!(
        tools.contains("bad_schema is left out: its input schema is not an object schema"),
        "{tools}"
    );
    t.run(["mcp", "tools", "nonesuch"]).failure();
}

#[test]
fn calls_time_out_crashed_servers_restart_once_and_nothing_outlives_localgpt() {
    let (_fake, t) = setup("");
    t.write("config.toml", &fault_server(&t, "all", ""));
    // A call that hangs stops at timeout_secs, and the server is told to stop it.
    let out = t
        .run(["mcp", "call", "fault", "slow", r#"{"seconds": 60}"#])
        .failure();
    assert!(text(&out.get_output().stderr).contains("did not finish within 3 s (timeout_secs)"));
    assert!(
        t.scratch().join("slow-cancelled").exists(),
        "no notifications/cancelled"
    );
    // The server is gone when the command is.
    let pid = std::fs::read_to_string(t.scratch().join("pid")).unwrap();
    wait_until("the server to be stopped", || process_is_gone(&pid));
    // A server that dies is started again once, then reported.
    let out = t
        .run([
            "run",
            "-e",
            r#"for i in 0..2 {
                 try { mcp_call("fault", "crash"); } catch (e) { print(`crash: ${e}`); }
                 try { print(mcp_call("fault", "echo", #{ text: `alive ${i}` })); } catch (e) { print(`echo: ${e}`); }
               }"#,
        ])
        .success();
    let said = stdout(&out);
    assert!(
        said.contains("crash: the MCP server `fault` stopped"),
        "{said}"
    );
    assert!(
        said.contains("crashing on purpose"),
        "the server's stderr: {said}"
    );
    assert!(said.contains("echo: alive 0"), "not restarted: {said}");
    assert!(said.contains("stopped twice"), "{said}");
    // Killed outright, LocalGPT still takes its servers with it (the parent-death signal).
    std::fs::remove_file(t.scratch().join("pid")).unwrap();
    let mut running = t
        .std_command()
        .args(["run", "-e", "mcp_tools(\"fault\"); sleep(60000);"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the server to start", || t.scratch().join("pid").exists());
    let pid = std::fs::read_to_string(t.scratch().join("pid")).unwrap();
    running.kill().unwrap();
    running.wait().unwrap();
    wait_until("the orphaned server to stop", || process_is_gone(&pid));
}

#[test]
fn the_model_calls_mcp_tools_under_the_approval_rules() {
    let (fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n[tools]\noutput_limit_kb = 4\n\n{}",
            fault_server(&t, "ask", "")
        ),
    );
    // Every request offers the tools, under names and schemas every provider accepts.
    let echo = json!({"text": "hi"});
    fake.push(Reply::tool("fault__echo", echo.clone()));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "go"]).success();
    let offered = fake.received()[0].body["tools"].as_array().unwrap().clone();
    let any_of = offered
        .iter()
        .find(|tool| tool["function"]["name"] == "fault__any_of")
        .expect("any_of offered");
    assert!(any_of["function"]["parameters"].get("anyOf").is_none());
    assert!(
        !offered
            .iter()
            .any(|tool| tool["function"]["name"] == "fault__bad_schema")
    );
    // Like bash: nobody to ask, so not run.
    let result = fake.last_tool_result();
    assert!(
        result.contains("needs approval and there is no terminal"),
        "{result}"
    );
    // --yes approves it.
    fake.push(Reply::tool("fault__echo", echo.clone()));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "--yes", "go"]).success();
    assert_eq!(fake.last_tool_result(), "echo: hi");
    // A result is cut like any tool output.
    fake.push(Reply::tool("fault__huge", json!({"kb": 512})));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "--yes", "go"]).success();
    let huge = fake.last_tool_result();
    assert!(huge.len() < 6 * 1024, "{} bytes", huge.len());
    // trust = "all": runs with nobody to ask.
    t.write("config.toml", &fault_server(&t, "all", ""));
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{}",
            fault_server(&t, "all", "")
        ),
    );
    fake.push(Reply::tool("fault__echo", echo));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "go"]).success();
    assert_eq!(fake.last_tool_result(), "echo: hi");
    fake.assert_no_refusals();
}

#[test]
fn ctrl_c_cancels_a_running_mcp_call() {
    let (fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{}",
            fault_server(&t, "all", "timeout_secs = 120\n").replace("timeout_secs = 3\n", "")
        ),
    );
    fake.push(Reply::tool("fault__slow", json!({"seconds": 120})));
    fake.push(Reply::text(&["after"]));
    let mut asking = t
        .std_command()
        .args(["ask", "go"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the slow call to start", || {
        t.scratch().join("slow-started").exists()
    });
    let pid = rustix::process::Pid::from_raw(asking.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = asking.wait().unwrap();
    assert!(
        status.code().is_some(),
        "killed by the signal instead of cancelling"
    );
    assert!(
        t.scratch().join("slow-cancelled").exists(),
        "the server was not told the call was cancelled"
    );
}

#[test]
fn scripts_and_tasks_call_mcp_tools_under_the_same_rules() {
    let (_fake, t) = setup("");
    t.write("config.toml", &fault_server(&t, "ask", ""));
    let out = t
        .run([
            "run",
            "-e",
            r#"let tools = mcp_tools("fault");
               print(tools.len());
               print(tools.filter(|t| t.tool == "echo")[0].name);
               print(mcp_call("fault", "echo", #{ text: "from a script" }));"#,
        ])
        .success();
    assert_eq!(stdout(&out), "5\nfault__echo\necho: from a script\n");
    // A task has nobody to approve a call: refused, as bash() is…
    t.write(
        "workspace/heartbeat/probe.rhai",
        "//! schedule: @daily\nprint(mcp_call(\"fault\", \"echo\", #{ text: \"from a task\" }));\n",
    );
    let out = t.run(["heartbeat", "run", "probe"]).code(1);
    assert!(stdout(&out).contains("trust = \"all\""), "{}", stdout(&out));
    // …unless the server is trusted.
    t.write("config.toml", &fault_server(&t, "all", ""));
    let out = t.run(["heartbeat", "run", "probe"]).success();
    assert!(stdout(&out).contains("echo: from a task"));
}

#[test]
fn mcp_at_the_prompt_lists_and_attaches_a_resource_to_the_next_message() {
    let (fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{}",
            fault_server(&t, "all", "")
        ),
    );
    fake.push(Reply::text(&["noted"]));
    let output = t
        .command()
        .args(["-q"])
        .write_stdin("/mcp\n/mcp tools\nwhat now?\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(shown.contains("fault  5 tools"), "{shown}");
    assert!(shown.contains("fault__echo"), "{shown}");
}

#[cfg_attr(
    not(test_external),
    ignore = "needs the reference MCP servers (.ci/run installs them; set LOCALGPT_TEST_EXTERNAL=1)"
)]
#[test]
fn the_reference_servers_work_over_stdio() {
    let (fake, t) = setup("");
    let t = t.env("EVERYTHING_VISIBLE", "configured-value");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[mcp.servers.everything]\ncommand = \"node\"\nargs = [\"{}\", \"stdio\"]\nenv = {{ EVERYTHING_VISIBLE = \"${{EVERYTHING_VISIBLE}}\" }}\ntrust = \"read-only\"\n\n[mcp.servers.time]\ncommand = \"mcp-server-time\"\ntrust = \"read-only\"\n",
            everything_server().display()
        ),
    );
    let out = t.run(["mcp", "list"]).success();
    let listing = stdout(&out);
    assert!(
        listing.contains("resource demo://resource/static/document/"),
        "{listing}"
    );
    assert!(listing.contains("prompt simple-prompt"), "{listing}");
    let sum = t
        .run([
            "mcp",
            "call",
            "everything",
            "get-sum",
            r#"{"a": 2, "b": 40}"#,
        ])
        .success();
    assert!(stdout(&sum).contains("42"), "{}", stdout(&sum));
    let image = t
        .run(["mcp", "call", "everything", "get-tiny-image"])
        .success();
    assert!(
        stdout(&image).contains("[an image (image/png"),
        "{}",
        stdout(&image)
    );
    let read = t
        .run([
            "mcp",
            "read",
            "everything",
            "demo://resource/static/document/architecture.md",
        ])
        .success();
    assert!(stdout(&read).contains("Architecture"), "{}", stdout(&read));
    // The server gets the variables its `env` names, not LocalGPT's credentials.
    let env = t.run(["mcp", "call", "everything", "get-env"]).success();
    let env = stdout(&env);
    assert!(env.contains("configured-value"), "{env}");
    assert!(!env.contains("sk-test-openai"), "{env}");
    let time = t
        .run([
            "mcp",
            "call",
            "time",
            "get_current_time",
            r#"{"timezone": "Europe/Paris"}"#,
        ])
        .success();
    assert!(stdout(&time).contains("Europe/Paris"), "{}", stdout(&time));
    // The model uses them; read-only tools of a read-only trusted server run unasked.
    fake.push(Reply::tool(
        "time__get_current_time",
        json!({"timezone": "Asia/Tokyo"}),
    ));
    fake.push(Reply::text(&["done"]));
    t.run(["ask", "what time is it in Tokyo?"]).success();
    assert!(fake.last_tool_result().contains("Asia/Tokyo"));
    // /mcp read attaches a resource to the next chat message.
    fake.push(Reply::text(&["read it"]));
    let output = t
        .command()
        .args(["-q"])
        .write_stdin(
            "/mcp read everything demo://resource/static/document/architecture.md\nsummarise it\n",
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    // The chat turn's request (the conversation's summary for memory may follow it).
    let sent = (0..fake.received().len())
        .map(|index| fake.last_message_of(index))
        .find(|sent| sent.ends_with("summarise it"))
        .unwrap_or_default();
    assert!(sent.contains("Architecture"), "{sent}");
}

/// A free port on 127.0.0.1 (released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The everything server over HTTP in `mode`, once it listens.
fn everything_over_http(mode: &str) -> (Killed, u16) {
    let port = free_port();
    let child = std::process::Command::new("node")
        .arg(everything_server())
        .arg(mode)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the server to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (Killed(child), port)
}

#[cfg_attr(
    not(test_external),
    ignore = "needs the reference MCP servers (.ci/run installs them; set LOCALGPT_TEST_EXTERNAL=1)"
)]
#[test]
fn the_reference_server_works_over_streamable_http_and_the_older_sse() {
    let (_streamable, streamable_port) = everything_over_http("streamableHttp");
    let (_sse, sse_port) = everything_over_http("sse");
    let (_fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[mcp.servers.streamable]\nurl = \"http://127.0.0.1:{streamable_port}/mcp\"\nheaders = {{ X-Test = \"yes\" }}\n\n[mcp.servers.old]\nurl = \"http://127.0.0.1:{sse_port}/sse\"\n"
        ),
    );
    for server in ["streamable", "old"] {
        let out = t
            .run([
                "mcp",
                "call",
                server,
                "echo",
                r#"{"message": "over the wire"}"#,
            ])
            .success();
        assert!(
            stdout(&out).contains("over the wire"),
            "{server}: {}",
            stdout(&out)
        );
    }
}

/// Runs the reference client against LocalGPT with `t`'s home.
fn client_check(t: &Test, args: &[&str]) -> Value {
    let output = std::process::Command::new("python3")
        .arg(fixture("client_check.py"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", t.scratch())
        .env("LOCALGPT_HOME", t.home())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn serving_setup() -> Test {
    let t = Test::new();
    t.write(
        "workspace/skills/shout.rhai",
        "//! description: Shouts.\nprint(args.map(|a| a.to_upper()).reduce(|s, a| if s == () { a } else { s + \" \" + a }));\n",
    );
    t.write(
        "workspace/skills/brief/SKILL.md",
        "---\nname: brief\ndescription: Writes a brief.\n---\nWrite a one-paragraph brief about $ARGUMENTS.\n",
    );
    t
}

fn assert_serves_everything(report: &Value) {
    assert_eq!(report["server"], "localgpt");
    assert_eq!(
        report["tools"],
        json!([
            "memory_get",
            "memory_save",
            "memory_search",
            "skill_run",
            "skills_list"
        ])
    );
    let calls = &report["calls"];
    for name in [
        "memory_save",
        "memory_search",
        "memory_get",
        "skills_list",
        "skill_run",
        "skill_run prompt",
    ] {
        assert_eq!(calls[name]["error"], false, "{name}: {}", calls[name]);
    }
    assert!(
        calls["memory_search"]["text"]
            .as_str()
            .unwrap()
            .contains("kestrel")
    );
    assert!(
        calls["skills_list"]["text"]
            .as_str()
            .unwrap()
            .contains("\"shout\"")
    );
    assert_eq!(calls["skill_run"]["text"], "HELLO THERE\n");
    assert!(
        calls["skill_run prompt"]["text"]
            .as_str()
            .unwrap()
            .contains("one-paragraph brief about rust")
    );
    assert_eq!(calls["skill_run unknown"]["error"], true);
    assert!(
        report["resources"]
            .as_array()
            .unwrap()
            .contains(&json!("memory://MEMORY.md"))
    );
    assert!(report["read"].as_str().unwrap().contains("Memory"));
}

#[cfg_attr(
    not(test_external),
    ignore = "needs the reference Python MCP SDK (.ci/run installs it; set LOCALGPT_TEST_EXTERNAL=1)"
)]
#[test]
fn a_reference_client_uses_localgpt_as_a_server_over_stdio() {
    let t = serving_setup();
    let report = client_check(&t, &["stdio", env!("CARGO_BIN_EXE_localgpt")]);
    assert_serves_everything(&report);
}

#[cfg_attr(
    not(test_external),
    ignore = "needs the reference Python MCP SDK (.ci/run installs it; set LOCALGPT_TEST_EXTERNAL=1)"
)]
#[test]
fn a_reference_client_uses_localgpt_as_a_server_over_http() {
    let t = serving_setup();
    let server = crate::server::start(&t);
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let report = client_check(&t, &["http", &url, &server.token]);
    assert_serves_everything(&report);
    // The API's rules hold: no token, no MCP; a foreign Host, no MCP.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let refused = crate::server::raw(server.port, "POST", "/mcp", Some(body), &[]);
    assert_eq!(refused.status, 401);
    let auth = format!("Authorization: Bearer {}", server.token);
    let rebound = crate::server::raw(
        server.port,
        "POST",
        "/mcp",
        Some(body),
        &[&auth, "Host: evil.example"],
    );
    assert_eq!(rebound.status, 403);
}

#[test]
fn the_api_offers_mcp_tools_and_refuses_the_ones_that_need_a_yes() {
    let (fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{}",
            fault_server(&t, "read-only", "")
        ),
    );
    let server = crate::server::start(&t);
    // echo is read-only: runs; crash is not, and nobody can approve it over the API.
    fake.push(Reply::tool("fault__echo", json!({"text": "via the API"})));
    fake.push(Reply::tool("fault__crash", json!({})));
    fake.push(Reply::text(&["done"]));
    let answer = crate::server::request(
        &server,
        "POST",
        "/api/chat",
        Some(r#"{"message": "go"}"#),
        &[],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let results: Vec<String> = (1..fake.received().len())
        .map(|index| fake.last_message_of(index))
        .collect();
    assert_eq!(results[0], "echo: via the API");
    assert!(
        results[1].contains("needs a yes and nobody can give one here")
            && results[1].contains("trust"),
        "{}",
        results[1]
    );
}

#[cfg(unix)]
#[test]
fn at_a_terminal_an_mcp_call_is_asked_about_like_bash() {
    let (fake, t) = setup("");
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n{}",
            fault_server(&t, "ask", "")
        ),
    );
    fake.push(Reply::tool("fault__echo", json!({"text": "asked"})));
    fake.push(Reply::text(&["finished"]));
    let mut p = t.pty(&[], &[("NO_COLOR", "1")]);
    p.exp_string("chat ").unwrap();
    p.send_line("echo something").unwrap();
    p.exp_string("Run MCP tool fault: echo").unwrap();
    p.exp_string("[a]lways").unwrap();
    p.send("y").unwrap();
    p.flush().unwrap();
    p.exp_string("finished").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(fake.last_tool_result(), "echo: asked");
}
