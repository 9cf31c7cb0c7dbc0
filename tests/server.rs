//! The HTTP API: the real `localgpt serve` against the fake provider, spoken to over raw
//! TCP so that every header is the test's choice — each route with and without the
//! token, the SSE event order, the OpenAI format (recorded request/response shapes from
//! OpenAI's reference), bad requests, Host/Origin checks, concurrent streams and a
//! shutdown in the middle of one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::{Value, json};

pub struct Server {
    child: Child,
    pub port: u16,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(t: &Test) -> Server {
    let mut child = t
        .std_command()
        .args(["serve", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("a line");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            break rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a port");
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let out = t.run(["serve", "--print-token"]).success();
    let token = text(&out.get_output().stdout).trim().to_string();
    Server { child, port, token }
}

pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The SSE events: (event name or "", data).
    fn events(&self) -> Vec<(String, String)> {
        self.body
            .split("\n\n")
            .filter(|block| !block.trim().is_empty())
            .map(|block| {
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(rest) = line.strip_prefix("event: ") {
                        name = rest.to_string();
                    } else if let Some(rest) = line.strip_prefix("data: ") {
                        data = rest.to_string();
                    }
                }
                (name, data)
            })
            .collect()
    }
}

/// One request on its own connection; `extra` are raw header lines.
pub fn request(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<&str>,
    extra: &[&str],
) -> Response {
    let auth = format!("Authorization: Bearer {}", server.token);
    let mut headers: Vec<&str> = vec![&auth];
    headers.extend_from_slice(extra);
    raw(server.port, method, path, body, &headers)
}

pub fn raw(port: u16, method: &str, path: &str, body: Option<&str>, headers: &[&str]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_response(&bytes)
}

fn parse_response(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        body.push_str(after.get(..size).unwrap_or(after));
        rest = after.get(size + 2..).unwrap_or_default();
    }
    body
}

fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n",
    );
    (fake, t)
}

const ROUTES: [(&str, &str); 19] = [
    ("GET", "/health"),
    ("GET", "/api/status"),
    ("POST", "/api/chat"),
    ("POST", "/api/chat/stream"),
    ("GET", "/api/sessions"),
    ("GET", "/api/sessions/x"),
    ("DELETE", "/api/sessions/x"),
    ("GET", "/api/memory/search?q=x"),
    ("GET", "/api/memory/stats"),
    ("POST", "/api/memory/reindex"),
    ("POST", "/api/memory"),
    ("GET", "/api/skills"),
    ("POST", "/api/skills/x/run"),
    ("POST", "/api/scripts/run"),
    ("GET", "/api/heartbeat"),
    ("POST", "/api/heartbeat/x/run"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/api/openapi.json"),
];

#[test]
fn every_route_but_health_needs_the_token() {
    let (_fake, t) = setup();
    let server = start(&t);
    for (method, path) in ROUTES {
        let without = raw(server.port, method, path, Some("{}"), &[]);
        let wrong = raw(
            server.port,
            method,
            path,
            Some("{}"),
            &["Authorization: Bearer nope"],
        );
        let with = request(&server, method, path, Some("{}"), &[]);
        if path == "/health" {
            assert_eq!(without.status, 200);
            assert_eq!(
                without.json(),
                json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
            );
            continue;
        }
        assert_eq!(without.status, 401, "{method} {path}");
        assert_eq!(without.json()["error"]["code"], "unauthorized");
        assert_eq!(wrong.status, 401, "{method} {path}");
        assert_ne!(with.status, 401, "{method} {path}: {}", with.body);
        assert!(
            with.status < 500 || with.status == 502,
            "{method} {path}: {}",
            with.body
        );
    }
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(t.path("api-token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode, 0o600);
}

#[test]
fn chat_turns_continue_sessions_and_bad_requests_say_what() {
    let (fake, t) = setup();
    let server = start(&t);
    fake.push(Reply::text(&["Hello", " there"]));
    let first = request(
        &server,
        "POST",
        "/api/chat",
        Some(r#"{"message": "hi"}"#),
        &[],
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let reply = first.json();
    assert_eq!(reply["reply"], "Hello there");
    let id = reply["session_id"].as_str().unwrap().to_string();
    fake.push(Reply::text(&["Again"]));
    let body = json!({"message": "and again", "session_id": id}).to_string();
    let second = request(&server, "POST", "/api/chat", Some(&body), &[]);
    assert_eq!(second.json()["session_id"], id.as_str());
    let messages = fake.received()[1].body["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(messages, 4, "system, hi, Hello there, and again");

    let session = request(&server, "GET", &format!("/api/sessions/{id}"), None, &[]);
    assert_eq!(session.json()["messages"].as_array().unwrap().len(), 4);
    let list = request(&server, "GET", "/api/sessions", None, &[]).json();
    assert_eq!(list["sessions"][0]["id"], id.as_str());
    assert_eq!(list["sessions"][0]["source"], "api");

    let cases = [
        (r#"{"message": "#, 400, "malformed JSON"),
        (r#"{"message": 5}"#, 422, "`message`: invalid type"),
        (r#"{"mesage": "hi"}"#, 422, "unknown field `mesage`"),
        (r#"{"message": "hi", "session_id": "nope"}"#, 404, "nope"),
        (r#"{"message": "  "}"#, 422, "empty"),
    ];
    for (body, status, needle) in cases {
        let response = request(&server, "POST", "/api/chat", Some(body), &[]);
        assert_eq!(response.status, status, "{body}: {}", response.body);
        let message = response.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let deleted = request(&server, "DELETE", &format!("/api/sessions/{id}"), None, &[]);
    assert_eq!(deleted.json()["deleted"], id.as_str());
    assert_eq!(
        request(&server, "GET", &format!("/api/sessions/{id}"), None, &[]).status,
        404
    );
    fake.push(Reply::Status {
        code: 500,
        retry_after: None,
    });
    let failed = request(
        &server,
        "POST",
        "/api/chat",
        Some(r#"{"message": "hi"}"#),
        &[],
    );
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert_eq!(failed.json()["error"]["code"], "provider_error");
}

#[test]
fn the_stream_sends_deltas_tools_and_done_in_order() {
    let (fake, t) = setup();
    t.write("workspace/notes.md", "kestrels nest in March\n");
    let server = start(&t);
    fake.push(Reply::Tool {
        text: "Let me look.".to_string(),
        name: "read_file".to_string(),
        arguments: json!({"path": "notes.md"}),
    })
    .push(Reply::text(&["They nest", " in March."]));
    let response = request(
        &server,
        "POST",
        "/api/chat/stream",
        Some(r#"{"message": "when?"}"#),
        &[],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let id = response.header("x-session-id").unwrap().to_string();
    let events = response.events();
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "delta",
            "tool_call",
            "tool_result",
            "delta",
            "delta",
            "done"
        ],
        "{}",
        response.body
    );
    let data = |i: usize| -> Value { serde_json::from_str(&events[i].1).unwrap() };
    assert_eq!(data(0)["text"], "Let me look.");
    assert_eq!(data(1)["name"], "read_file");
    assert!(
        data(2)["output"]
            .as_str()
            .unwrap()
            .contains("kestrels nest in March")
    );
    assert_eq!(data(3)["text"], "They nest");
    assert_eq!(data(5)["session_id"], id.as_str());
    assert_eq!(data(5)["reply"], "Let me look.\nThey nest in March.");

    fake.push(Reply::Status {
        code: 500,
        retry_after: None,
    });
    let failed = request(
        &server,
        "POST",
        "/api/chat/stream",
        Some(r#"{"message": "x"}"#),
        &[],
    );
    let events = failed.events();
    assert_eq!(events.last().unwrap().0, "error", "{}", failed.body);
}

#[test]
fn the_openai_endpoint_speaks_the_openai_format() {
    let (fake, t) = setup();
    let server = start(&t);
    // As OpenAI's Python SDK sends it, extra fields included.
    let body = json!({
        "model": "localgpt",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "what is 2+2?"}]}
        ],
        "temperature": 0.2, "n": 1, "top_p": 1, "user": "me", "stream": false
    })
    .to_string();
    fake.push(Reply::text(&["4"]));
    let response = request(&server, "POST", "/v1/chat/completions", Some(&body), &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    let completion = response.json();
    assert!(completion["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "localgpt");
    assert!(completion["created"].is_i64());
    assert_eq!(completion["choices"][0]["index"], 0);
    assert_eq!(
        completion["choices"][0]["message"],
        json!({"role": "assistant", "content": "4"})
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    for key in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert!(completion["usage"][key].is_u64(), "{key}");
    }
    let sent = &fake.received()[0].body;
    assert_eq!(
        sent["model"], "gpt-4o",
        "localgpt means the configured model"
    );
    assert_eq!(sent["messages"].as_array().unwrap().len(), 4);
    // The client's system message joins LocalGPT's system prompt, which stays.
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Be brief."), "{system}");
    assert!(system.contains("LocalGPT"), "{system}");
    assert!(
        !sent["messages"][3]["content"]
            .as_str()
            .unwrap()
            .contains("Be brief.")
    );

    fake.push(Reply::text(&["Two", " and two"]));
    let body = json!({"model": "localgpt", "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let response = request(&server, "POST", "/v1/chat/completions", Some(&body), &[]);
    let events = response.events();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(chunks.windows(2).all(|w| w[0]["id"] == w[1]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Two and two");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );

    let models = request(&server, "GET", "/v1/models", None, &[]).json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "localgpt");
    let bad = request(
        &server,
        "POST",
        "/v1/chat/completions",
        Some(r#"{"model": "x", "messages": []}"#),
        &[],
    );
    // OpenAI's status and error shape, naming the field.
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["param"], "messages");
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
}

#[test]
fn memory_skills_scripts_and_heartbeat_routes() {
    let (_fake, t) = setup();
    t.write(
        "workspace/skills/shout.rhai",
        "//! description: Shouts.\nprint(args.map(|a| a.to_upper()).reduce(|s, a| if s == () { a } else { s + \" \" + a }));\n",
    );
    t.write(
        "workspace/heartbeat/tick.rhai",
        "//! schedule: @hourly\nprint(\"tick\");\n",
    );
    let server = start(&t);
    let added = request(
        &server,
        "POST",
        "/api/memory",
        Some(r#"{"text": "The kestrel box is on the north wall."}"#),
        &[],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    let found = request(
        &server,
        "GET",
        "/api/memory/search?q=kestrel%20box&limit=3",
        None,
        &[],
    )
    .json();
    assert!(
        found["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("kestrel"),
        "{found}"
    );
    assert_eq!(
        request(&server, "GET", "/api/memory/search", None, &[]).status,
        422
    );
    assert_eq!(
        request(&server, "GET", "/api/memory/search?q=x&limit=0", None, &[]).status,
        422
    );
    assert!(
        request(&server, "GET", "/api/memory/stats", None, &[]).json()["files"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(
        request(&server, "POST", "/api/memory/reindex", None, &[]).status,
        200
    );

    let skills = request(&server, "GET", "/api/skills", None, &[]).json();
    assert!(
        skills["skills"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "shout")
    );
    let ran = request(
        &server,
        "POST",
        "/api/skills/shout/run",
        Some(r#"{"args": "a 'b c'"}"#),
        &[],
    )
    .json();
    assert_eq!(ran["output"], "A B C\n");
    let ran = request(
        &server,
        "POST",
        "/api/skills/shout/run",
        Some(r#"{"args": ["x"]}"#),
        &[],
    )
    .json();
    assert_eq!(ran["output"], "X\n");
    assert_eq!(
        request(&server, "POST", "/api/skills/nope/run", None, &[]).status,
        404
    );

    let script = request(
        &server,
        "POST",
        "/api/scripts/run",
        Some(r#"{"source": "print(args[0]); #{ sum: 40 + 2 }", "args": ["hey"]}"#),
        &[],
    )
    .json();
    assert_eq!(
        script,
        json!({"output": "hey\n", "value": {"sum": 42}, "error": null, "exit_code": 0})
    );
    let broken = request(
        &server,
        "POST",
        "/api/scripts/run",
        Some(r#"{"source": "let x = ;"}"#),
        &[],
    )
    .json();
    assert!(
        broken["error"].as_str().unwrap().contains("<request>:1"),
        "{broken}"
    );
    let both = request(
        &server,
        "POST",
        "/api/scripts/run",
        Some(r#"{"source": "1", "path": "x.rhai"}"#),
        &[],
    );
    assert_eq!(both.status, 422);
    let outside = request(
        &server,
        "POST",
        "/api/scripts/run",
        Some(r#"{"path": "/etc/passwd"}"#),
        &[],
    );
    assert_eq!(outside.status, 422, "{}", outside.body);

    let heartbeat = request(&server, "GET", "/api/heartbeat", None, &[]).json();
    assert_eq!(heartbeat["tasks"][0]["name"], "tick");
    assert!(heartbeat["tasks"][0]["next"].is_string());
    let run = request(&server, "POST", "/api/heartbeat/tick/run", None, &[]).json();
    assert_eq!(run["status"], "ok");
    assert_eq!(run["output"], "tick");
    assert_eq!(
        request(&server, "POST", "/api/heartbeat/nope/run", None, &[]).status,
        404
    );

    let status = request(&server, "GET", "/api/status", None, &[]).json();
    assert_eq!(status["model"], "gpt-4o");
    assert_eq!(status["heartbeat"]["tasks"], 1);
    let spec = request(&server, "GET", "/api/openapi.json", None, &[]).json();
    assert_eq!(spec["openapi"], "3.1.0");
}

#[test]
fn wrong_routes_methods_hosts_origins_and_sizes() {
    let (_fake, t) = setup();
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\n[server]\nmax_body_kb = 1\ncors_origins = [\"http://app.example\"]\n",
    );
    let server = start(&t);
    let missing = request(&server, "GET", "/api/nope", None, &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let wrong = request(&server, "PUT", "/api/status", None, &[]);
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("GET"));
    let big = format!("{{\"message\": \"{}\"}}", "x".repeat(4096));
    let too_big = request(&server, "POST", "/api/chat", Some(&big), &[]);
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    let rebound = request(
        &server,
        "GET",
        "/api/status",
        None,
        &["Host: attacker.example"],
    );
    assert_eq!(rebound.status, 403);
    let foreign = request(
        &server,
        "GET",
        "/api/status",
        None,
        &["Origin: http://evil.example"],
    );
    assert_eq!(foreign.status, 403);
    let allowed = request(
        &server,
        "GET",
        "/api/status",
        None,
        &["Origin: http://app.example"],
    );
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let preflight = raw(
        server.port,
        "OPTIONS",
        "/api/chat",
        None,
        &[
            "Origin: http://app.example",
            "Access-Control-Request-Method: POST",
        ],
    );
    assert_eq!(preflight.status, 204);
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    let no_cors = request(&server, "GET", "/api/status", None, &[]);
    assert_eq!(no_cors.header("access-control-allow-origin"), None);
}

#[test]
fn concurrent_streams_are_served_and_bounded() {
    let (fake, t) = setup();
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\n[server]\nmax_concurrent_turns = 2\n",
    );
    let server = start(&t);
    for _ in 0..2 {
        fake.push(Reply::Slow(
            vec!["one ".into(), "two ".into(), "three".into()],
            Duration::from_millis(300),
        ));
    }
    let port = server.port;
    let token = server.token.clone();
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let token = token.clone();
            std::thread::spawn(move || {
                raw(
                    port,
                    "POST",
                    "/api/chat/stream",
                    Some(r#"{"message": "count"}"#),
                    &[&format!("Authorization: Bearer {token}")],
                )
            })
        })
        .collect();
    // Both turns hold their permits until the slow answers end: a third is refused.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.received().len() < 2 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = request(
        &server,
        "POST",
        "/api/chat",
        Some(r#"{"message": "me too"}"#),
        &[],
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    for stream in streams {
        let response = stream.join().unwrap();
        let events = response.events();
        assert_eq!(events.last().unwrap().0, "done", "{}", response.body);
        let text: String = events
            .iter()
            .filter(|(name, _)| name == "delta")
            .map(|(_, data)| {
                serde_json::from_str::<Value>(data).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(text, "one two three");
    }
}

#[test]
fn shutdown_lets_a_stream_in_flight_finish() {
    let (fake, t) = setup();
    let mut server = start(&t);
    fake.push(Reply::Slow(
        vec!["still ".into(), "here".into()],
        Duration::from_millis(400),
    ));
    let port = server.port;
    let token = server.token.clone();
    let stream = std::thread::spawn(move || {
        raw(
            port,
            "POST",
            "/api/chat/stream",
            Some(r#"{"message": "go"}"#),
            &[&format!("Authorization: Bearer {token}")],
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.received().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let response = stream.join().unwrap();
    let events = response.events();
    assert_eq!(events.last().unwrap().0, "done", "{}", response.body);
    let status = server.child.wait().unwrap();
    assert!(status.success());
    // New connections are refused once it has stopped.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_daemon_serves_the_api_when_enabled() {
    let t = Test::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    t.write(
        "config.toml",
        &format!("[server]\nenabled = true\nport = {port}\n"),
    );
    t.run(["daemon", "start"]).success();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let health = loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break raw(port, "GET", "/health", None, &[]);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the API never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(health.json()["status"], "ok");
    t.run(["daemon", "stop"]).success();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
#[cfg_attr(
    not(test_external),
    ignore = "needs OpenAI's Python package (LOCALGPT_TEST_EXTERNAL; .ci/run installs it)"
)]
fn openais_own_python_client_works_against_it() {
    let (fake, t) = setup();
    let server = start(&t);
    fake.push(Reply::text(&["Hello from LocalGPT"]))
        .push(Reply::text(&["one", " two", " three"]));
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openai_client.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{}/v1", server.port))
        .arg(&server.token)
        .env("NO_PROXY", "*")
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON from the script");
    assert_eq!(seen["plain"], "Hello from LocalGPT");
    assert_eq!(seen["plain_finish"], "stop");
    assert!(seen["plain_id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(seen["streamed"], "one two three");
    assert_eq!(seen["stream_finish"], "stop");
    assert_eq!(seen["models"][0], "localgpt");
}
