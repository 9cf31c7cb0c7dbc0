use super::*;

use serde_json::json;

fn tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 12},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "hourly": {"type": "boolean"},
            "stops": {"type": "array", "items": {"type": "number"}}
        }, "required": ["city", "unit"]}}},
        {"type": "function", "function": {"name": "memory_search",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
            "required": ["query"]}}}])
}

/// A vocabulary of single characters and the pieces BPE vocabularies have, one stop
/// token last, and a character piece (`None`).
fn vocabulary() -> Vec<Option<String>> {
    let mut texts: Vec<Option<String>> = (' '..='~').map(|c| Some(c.to_string())).collect();
    for piece in [
        "<tool_call>",
        "</tool_call>",
        "\n",
        "{\"",
        "\": ",
        "\", \"",
        "name",
        "arguments",
        "get",
        "_weather",
        "memory",
        "_search",
        "city",
        "Porto",
        "celsius",
        "true",
        "123",
        " \"",
        "}}",
        "<",
        "tool",
        "_call",
        ">",
        "\\n",
        "days",
        "query",
        ", ",
        "\"}",
        "[1",
        "Hello",
        " world",
        "ç",
        "é",
    ] {
        texts.push(Some(piece.to_string()));
    }
    texts.push(None);
    texts.push(Some(String::new()));
    texts
}

/// xorshift: the random model's logits.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 8.0
    }
}

/// Whether `arguments` fit the test schema of `name`.
fn fits(name: &str, arguments: &Value) -> Result<(), String> {
    let object = arguments.as_object().ok_or("arguments are not an object")?;
    let (allowed, required): (&[&str], &[&str]) = match name {
        "get_weather" => (
            &["city", "days", "unit", "hourly", "stops"],
            &["city", "unit"],
        ),
        "memory_search" => (&["query"], &["query"]),
        other => return Err(format!("tool {other} was not offered")),
    };
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("{key} is not a property"));
        }
    }
    for key in required {
        if !object.contains_key(*key) {
            return Err(format!("{key} is missing"));
        }
    }
    let ok = object.iter().all(|(key, value)| match key.as_str() {
        "city" => value
            .as_str()
            .is_some_and(|city| city.chars().count() <= 12),
        "query" => value.is_string(),
        "days" => value.is_i64() || value.is_u64(),
        "unit" => value == "celsius" || value == "fahrenheit",
        "hourly" => value.is_boolean(),
        "stops" => value
            .as_array()
            .is_some_and(|stops| stops.iter().all(Value::is_number)),
        _ => false,
    });
    if ok {
        Ok(())
    } else {
        Err(format!("a value has the wrong type: {arguments}"))
    }
}

/// Decodes with random logits under `guide` until the stop token or `limit` tokens.
fn decode(guide: &ToolGuide, texts: &[Option<String>], seed: u64, limit: usize) -> (String, bool) {
    let stop = (texts.len() - 1) as u32;
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut state = guide.start();
    let mut said = String::new();
    for _ in 0..limit {
        let mut logits: Vec<f32> = (0..texts.len()).map(|_| random.next()).collect();
        state.mask(&mut logits, texts, &[stop]);
        let next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(id, _)| id)
            .unwrap();
        if next as u32 == stop {
            return (said, true);
        }
        let text = texts[next].clone().expect("a whole character was chosen");
        state.advance(&text);
        said.push_str(&text);
    }
    (said, false)
}

/// The constraint alone: a model of random weights, made to call a tool, writes calls
/// that parse and fit their schema every time.
#[test]
fn a_random_model_made_to_call_writes_valid_calls_every_time() {
    let texts = vocabulary();
    let guide = ToolGuide::new(&tools(), CallFormat::Tagged, true).unwrap();
    let mut finished = 0;
    for seed in 0..100 {
        let (said, stopped) = decode(&guide, &texts, seed, 3000);
        // Random weights may ramble inside a string until its limit; every answer that
        // ended is whole calls, and every call fits.
        if !stopped {
            continue;
        }
        finished += 1;
        let mut rest = said.trim();
        let mut calls = 0;
        while let Some(after) = rest.strip_prefix("<tool_call>") {
            let (body, tail) = after.split_once("</tool_call>").expect("closed");
            let call: Value = serde_json::from_str(body.trim())
                .unwrap_or_else(|err| panic!("seed {seed}: {err}: {body}"));
            let name = call["name"].as_str().expect("a name");
            fits(name, &call["arguments"]).unwrap_or_else(|err| panic!("seed {seed}: {err}"));
            calls += 1;
            rest = tail.trim_start();
        }
        assert!(rest.is_empty() && calls > 0, "seed {seed}: {said:?}");
    }
    assert!(finished >= 90, "only {finished} of 100 answers ended");
}

#[test]
fn prose_is_left_alone_and_a_call_begun_is_held_to_the_grammar() {
    let texts = vocabulary();
    let id = |piece: &str| {
        texts
            .iter()
            .position(|t| t.as_deref() == Some(piece))
            .unwrap()
    };
    let guide = ToolGuide::new(&tools(), CallFormat::Tagged, false).unwrap();
    let stop = (texts.len() - 1) as u32;
    let allowed = |state: &Guide<'_>, piece: &str| {
        let mut logits = vec![0.0; texts.len()];
        state.mask(&mut logits, &texts, &[stop]);
        logits[id(piece)].is_finite()
    };
    // Before anything: prose, a call, or the end.
    let mut state = guide.start();
    assert!(allowed(&state, "Hello") && allowed(&state, "<tool_call>") && allowed(&state, "<"));
    state.advance("Hello");
    assert!(allowed(&state, "}}"), "prose is not constrained");
    // A call begun: only what keeps it valid, and no end until it is whole.
    let mut state = guide.start();
    state.advance("<");
    state.advance("tool");
    assert!(
        allowed(&state, "Hello"),
        "not a call until its tag is whole"
    );
    state.advance("_call");
    state.advance(">");
    assert!(!allowed(&state, "Hello"));
    state.advance("\n");
    assert!(allowed(&state, "{\"") && !allowed(&state, "Hello"));
    let mut logits = vec![0.0; texts.len()];
    state.mask(&mut logits, &texts, &[stop]);
    assert!(logits[stop as usize].is_infinite(), "no end inside a call");
    // Pieces of a character are never chosen inside a call.
    assert!(logits[texts.len() - 2].is_infinite());
    // Llama's format starts at `{`.
    let json = ToolGuide::new(&tools(), CallFormat::Json, false).unwrap();
    let mut state = json.start();
    state.advance("{\"");
    assert!(allowed(&state, "name") && !allowed(&state, "city"));
}
