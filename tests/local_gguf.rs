//! GGUF files people already have, run in-process: `models install x.gguf` and `models
//! import ollama:NAME:TAG`. The files are tiny models the test writes itself — random
//! weights (a zero output layer, so no token is ever favoured), real metadata, a
//! byte-level vocabulary and a chat template — for each architecture the engine runs.

use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};

use crate::common::{Test, text};

const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// GPT-2's byte-to-character table: the 256 byte tokens of a byte-level vocabulary.
fn byte_tokens() -> Vec<String> {
    let mut printable: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut tokens: Vec<String> = printable
        .iter()
        .map(|&b| char::from_u32(b).unwrap().to_string())
        .collect();
    let mut extra = 0;
    for byte in 0..256u32 {
        if !printable.contains(&byte) {
            tokens.push(char::from_u32(256 + extra).unwrap().to_string());
            extra += 1;
        }
    }
    tokens
}

fn tensor(shape: &[usize], seed: u64) -> QTensor {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count as u64)
        .map(|i| ((i.wrapping_add(seed) * 2_654_435_761 % 1000) as f32 / 1000.0 - 0.5) * 0.2)
        .collect();
    let tensor = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
    QTensor::quantize(&tensor, GgmlDType::F32).unwrap()
}

fn filled(shape: &[usize], value: f32) -> QTensor {
    let tensor = Tensor::full(value, shape, &Device::Cpu).unwrap();
    QTensor::quantize(&tensor, GgmlDType::F32).unwrap()
}

/// A one-layer model of `arch` ("llama", "qwen2", or any name for metadata alone).
pub(crate) fn write_tiny_gguf(path: &Path, arch: &str, pre: &str, with_weights: bool) {
    write_tiny_gguf_with(path, arch, pre, with_weights, family(arch).0);
}

/// Qwen 2.5's way of writing tools and tool traffic, shortened.
const QWEN_TOOLS: &str = "{%- if tools %}<|im_start|>system\n{{ messages[0]['content'] }}\n<tools>{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}</tools><|im_end|>\n{%- endif %}{%- for message in messages %}{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant\n{%- for call in message.tool_calls %}<tool_call>{{ call.function | tojson }}</tool_call>{%- endfor %}<|im_end|>\n{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>{{ message.content }}</tool_response><|im_end|>\n{%- elif not (tools and message.role == 'system') %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}";

/// The vocabulary, token types, tokenizer metadata and the two special tokens the
/// template uses, for a byte-level BPE (`gpt2`) or a SentencePiece (`llama`) tokenizer.
fn vocabulary(pre: &str, specials: [&str; 2]) -> (Vec<String>, Vec<Value>, Vec<(String, Value)>) {
    let (mut tokens, mut types) = (Vec::new(), Vec::new());
    let mut metadata = Vec::new();
    if pre == "sentencepiece" {
        // A normal piece first: a greedy pick among equal logits takes id 0.
        for piece in ["a", "\u{2581}", "h", "i", "\u{2581}h", "\u{2581}hi"] {
            tokens.push(piece.to_string());
            types.push(Value::I32(1));
        }
        tokens.push("<unk>".into());
        types.push(Value::I32(2));
        for byte in 0..=255u8 {
            tokens.push(format!("<0x{byte:02X}>"));
            types.push(Value::I32(6));
        }
        let scores: Vec<Value> = (0..tokens.len() + 2)
            .map(|id| Value::F32(-(id as f32)))
            .collect();
        metadata.push(("tokenizer.ggml.model".into(), Value::String("llama".into())));
        metadata.push(("tokenizer.ggml.scores".into(), Value::Array(scores)));
    } else {
        tokens = byte_tokens();
        tokens.push("Ġt".to_string());
        types = tokens.iter().map(|_| Value::I32(1)).collect();
        metadata.push(("tokenizer.ggml.model".into(), Value::String("gpt2".into())));
        metadata.push(("tokenizer.ggml.pre".into(), Value::String(pre.into())));
        metadata.push((
            "tokenizer.ggml.merges".into(),
            Value::Array(vec![Value::String("Ġ t".into())]),
        ));
    }
    for special in specials {
        tokens.push(special.to_string());
        types.push(Value::I32(3));
    }
    let vocab = tokens.len() as u32;
    metadata.push(("tokenizer.ggml.bos_token_id".into(), Value::U32(vocab - 2)));
    metadata.push(("tokenizer.ggml.eos_token_id".into(), Value::U32(vocab - 1)));
    (tokens, types, metadata)
}

/// The templates and their two special tokens, by family.
fn family(arch: &str) -> (&'static str, [&'static str; 2]) {
    match arch {
        "gemma3" => (
            "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ message['role'] }}\n{{ message['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}",
            ["<start_of_turn>", "<end_of_turn>"],
        ),
        "phi3" => (
            "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}",
            ["<|assistant|>", "<|end|>"],
        ),
        _ => (CHATML, ["<|im_start|>", "<|im_end|>"]),
    }
}

fn write_tiny_gguf_with(path: &Path, arch: &str, pre: &str, with_weights: bool, template: &str) {
    let (dim, ffn, heads) = (16usize, 32usize, 2u32);
    let head = dim / heads as usize;
    let (_, specials) = family(arch);
    let (tokens, types, tokenizer) = vocabulary(pre, specials);
    let vocab = tokens.len();
    let key = |name: &str| format!("{arch}.{name}");
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("general.name".into(), Value::String("tiny".into())),
        (key("attention.head_count"), Value::U32(heads)),
        (key("attention.head_count_kv"), Value::U32(heads)),
        (key("block_count"), Value::U32(1)),
        (key("embedding_length"), Value::U32(dim as u32)),
        (key("feed_forward_length"), Value::U32(ffn as u32)),
        (key("context_length"), Value::U32(32768)),
        (key("rope.dimension_count"), Value::U32(head as u32)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (key("attention.key_length"), Value::U32(head as u32)),
        (key("attention.value_length"), Value::U32(head as u32)),
        (key("attention.sliding_window"), Value::U32(512)),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.iter().cloned().map(Value::String).collect()),
        ),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        (
            "tokenizer.ggml.add_space_prefix".into(),
            Value::Bool(arch == "phi3"),
        ),
        (
            "tokenizer.chat_template".into(),
            Value::String(template.into()),
        ),
    ];
    metadata.extend(tokenizer);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    if with_weights {
        tensors.push(("token_embd.weight".into(), tensor(&[vocab, dim], 1)));
        tensors.push(("output_norm.weight".into(), filled(&[dim], 1.0)));
        // All logits equal: a greedy choice (the install's check) takes the first token,
        // never a stop token.
        tensors.push(("output.weight".into(), filled(&[vocab, dim], 0.0)));
        let mut layer: Vec<(&str, Vec<usize>)> = vec![
            ("attn_output.weight", vec![dim, dim]),
            ("ffn_down.weight", vec![dim, ffn]),
        ];
        if arch == "phi3" {
            // Phi-3 fuses q, k and v, and gate and up.
            layer.push(("attn_qkv.weight", vec![3 * dim, dim]));
            layer.push(("ffn_up.weight", vec![2 * ffn, dim]));
        } else {
            layer.push(("attn_q.weight", vec![dim, dim]));
            layer.push(("attn_k.weight", vec![dim, dim]));
            layer.push(("attn_v.weight", vec![dim, dim]));
            layer.push(("ffn_gate.weight", vec![ffn, dim]));
            layer.push(("ffn_up.weight", vec![ffn, dim]));
        }
        for (name, shape) in layer {
            tensors.push((format!("blk.0.{name}"), tensor(&shape, name.len() as u64)));
        }
        let mut norms: Vec<(&str, usize)> =
            vec![("attn_norm.weight", dim), ("ffn_norm.weight", dim)];
        match arch {
            "qwen3" => norms.extend([("attn_q_norm.weight", head), ("attn_k_norm.weight", head)]),
            "gemma3" => norms.extend([
                ("attn_q_norm.weight", head),
                ("attn_k_norm.weight", head),
                ("post_attention_norm.weight", dim),
                ("post_ffw_norm.weight", dim),
            ]),
            _ => {}
        }
        for (name, size) in norms {
            tensors.push((format!("blk.0.{name}"), filled(&[size], 1.0)));
        }
        if arch == "qwen2" {
            for name in ["attn_q.bias", "attn_k.bias", "attn_v.bias"] {
                tensors.push((format!("blk.0.{name}"), filled(&[dim], 0.0)));
            }
        }
    }
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
}

fn small_answers(t: &Test) {
    t.write("config.toml", "[agent]\nmax_tokens = 8\n");
}

/// A test home whose answers are sampled with a fixed seed, so they are the same each run.
fn seeded() -> Test {
    Test::new().env("LOCALGPT_TEST_SEED", "3")
}

#[test]
fn gguf_files_of_each_architecture_install_under_their_own_name_and_answer() {
    for (arch, pre, file, name) in [
        (
            "llama",
            "llama-bpe",
            "Tiny-Llama.Q8_0.gguf",
            "tiny-llama.q8_0",
        ),
        ("qwen2", "qwen2", "tiny-qwen.gguf", "tiny-qwen"),
        (
            "qwen3",
            "qwen2",
            "Tiny Qwen3 (test).gguf",
            "tiny-qwen3-test",
        ),
    ] {
        let t = seeded();
        small_answers(&t);
        let path = t.scratch().join(file);
        write_tiny_gguf(&path, arch, pre, true);
        let out = t
            .run(["models", "install", path.to_str().unwrap()])
            .success();
        let stdout = text(&out.get_output().stdout);
        assert!(
            stdout.contains(&format!("installed {name} (chat")),
            "{arch}: {stdout}"
        );
        let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
        assert!(listed.contains(name) && listed.contains("chat"), "{listed}");
        let model = format!("local/{name}");
        // Sampled from equal odds: some bytes, as many as agent.max_tokens allows.
        let out = t.run(["ask", "--model", &model, "hi"]).success();
        assert!(!text(&out.get_output().stdout).trim().is_empty(), "{arch}");
    }
}

#[test]
fn an_architecture_the_engine_does_not_run_is_refused_by_name() {
    let t = Test::new();
    let path = t.scratch().join("mamba.gguf");
    write_tiny_gguf(&path, "mamba", "llama-bpe", false);
    let out = t.run(["models", "install", path.to_str().unwrap()]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("`mamba`"), "{stderr}");
    assert!(
        stderr.contains("llama, qwen2, qwen3, gemma3, phi3"),
        "{stderr}"
    );
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert!(listed.contains("no models installed"), "{listed}");
}

#[test]
fn model_files_that_would_hang_or_abort_are_refused_and_leave_nothing_behind() {
    let t = Test::new();
    // A template that loops without end, but only from the second message on.
    let hangs = "{% if messages|length > 1 %}{% for i in range(100000) %}{% for j in \
                 range(100000) %}{% endfor %}{% endfor %}{% endif %}{{ messages[0].content }}";
    let path = t.scratch().join("hangs.gguf");
    write_tiny_gguf_with(&path, "llama", "llama-bpe", true, hangs);
    let out = t.run(["models", "install", path.to_str().unwrap()]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("with 2 messages"), "{stderr}");
    // A header whose heads would divide by zero.
    let path = t.scratch().join("headless.gguf");
    write_tiny_gguf(&path, "llama", "llama-bpe", true);
    let mut bytes = std::fs::read(&path).unwrap();
    let key = b"llama.attention.head_count";
    let at = bytes
        .windows(key.len() + 4)
        .position(|w| w.starts_with(key) && w[key.len()..] == 4u32.to_le_bytes())
        .expect("the head count's key");
    let value = at + key.len() + 4;
    bytes[value..value + 4].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let out = t.run(["models", "install", path.to_str().unwrap()]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("head_count is 0"), "{stderr}");
    assert!(!stderr.contains("panick"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(t.home().join("models"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_model_ollama_downloaded_is_imported_without_touching_ollamas_files() {
    let t0 = Test::new();
    let store = t0.scratch().join("ollama-models");
    let blob_dir = store.join("blobs");
    std::fs::create_dir_all(&blob_dir).unwrap();
    let staged = t0.scratch().join("tiny.gguf");
    write_tiny_gguf(&staged, "llama", "llama-bpe", true);
    let bytes = std::fs::read(&staged).unwrap();
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let blob = blob_dir.join(format!("sha256-{digest}"));
    std::fs::write(&blob, &bytes).unwrap();
    let manifest_dir = store.join("manifests/registry.ollama.ai/library/tiny");
    std::fs::create_dir_all(&manifest_dir).unwrap();
    std::fs::write(
        manifest_dir.join("q8"),
        serde_json::json!({"schemaVersion": 2, "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:00"},
            {"mediaType": "application/vnd.ollama.image.model", "digest": format!("sha256:{digest}"),
             "size": bytes.len()}]})
        .to_string(),
    )
    .unwrap();
    let before = std::fs::metadata(&blob).unwrap().modified().unwrap();
    let t = seeded().env("OLLAMA_MODELS", store.to_str().unwrap());
    small_answers(&t);
    let out = t.run(["models", "import", "ollama:tiny:q8"]).success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("as local/tiny:q8"), "{stdout}");
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        bytes,
        "Ollama's blob is unchanged"
    );
    assert_eq!(
        std::fs::metadata(&blob).unwrap().modified().unwrap(),
        before
    );
    let out = t.run(["ask", "--model", "local/tiny:q8", "hi"]).success();
    assert!(!text(&out.get_output().stdout).trim().is_empty());
    // Not pulled: said so, with the command that pulls it.
    let out = t.run(["models", "import", "ollama:qwen2.5:7b"]).code(1);
    assert!(text(&out.get_output().stderr).contains("ollama pull qwen2.5:7b"));
    let out = t
        .run(["models", "import", "ollama:../../etc:passwd"])
        .code(1);
    assert!(text(&out.get_output().stderr).contains("not an Ollama model name"));
}

#[test]
fn a_model_whose_template_has_no_tools_is_offered_none_and_says_so() {
    let t = seeded();
    small_answers(&t);
    let path = t.scratch().join("plain.gguf");
    write_tiny_gguf(&path, "llama", "llama-bpe", true);
    t.run(["models", "install", path.to_str().unwrap()])
        .success();
    let out = t.run(["ask", "--model", "local/plain", "hi"]).success();
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("plain cannot call tools"), "{stderr}");
}

#[test]
fn tools_go_in_through_a_template_that_takes_them_and_the_model_runs() {
    let t = Test::new();
    let path = t.scratch().join("toolful.gguf");
    write_tiny_gguf_with(&path, "qwen2", "qwen2", true, QWEN_TOOLS);
    t.run(["models", "install", path.to_str().unwrap()])
        .success();
    let dir = t.home().join("models/toolful");
    let mut engine = localgpt::models::chat::engine::Engine::load(&dir).unwrap();
    assert!(engine.takes_tools());
    let tools = serde_json::json!([{"type": "function", "function": {"name": "list_dir",
        "description": "Lists.", "parameters": {"type": "object"}}}]);
    use localgpt::models::chat::template::TemplateMessage;
    let messages = [
        TemplateMessage {
            role: "system",
            content: "Be brief.",
            ..Default::default()
        },
        TemplateMessage {
            role: "user",
            content: "hi",
            ..Default::default()
        },
    ];
    let with_tools = engine.prompt_with_tools(&messages, Some(&tools)).unwrap();
    let without = engine.prompt_with_tools(&messages, None).unwrap();
    // The definitions are in the prompt: it is longer by their tokens.
    assert!(
        with_tools.len() > without.len() + 20,
        "{} vs {}",
        with_tools.len(),
        without.len()
    );
    let greedy = localgpt::models::chat::engine::Sampler {
        temperature: 0.0,
        ..localgpt::models::chat::engine::Sampler::recommended(0)
    };
    let outcome = engine
        .generate(&with_tools, 3, greedy, &mut |_| true)
        .unwrap();
    assert_eq!(outcome.output_tokens, 3);
}

/// The schema the guided-call tests hold a random model to.
fn weather_tools() -> serde_json::Value {
    serde_json::json!([{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 16},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"]}}}])
}

/// Whether `arguments` fit [`weather_tools`]'s schema.
fn fits_weather(arguments: &serde_json::Value) -> bool {
    let Some(object) = arguments.as_object() else {
        return false;
    };
    object.contains_key("city")
        && object.contains_key("unit")
        && object.iter().all(|(key, value)| match key.as_str() {
            "city" => value
                .as_str()
                .is_some_and(|city| city.chars().count() <= 16),
            "days" => value.is_i64() || value.is_u64(),
            "unit" => value == "celsius" || value == "fahrenheit",
            _ => false,
        })
}

/// The constraint alone: a model whose every next token is equally likely (random
/// weights, a zero output layer), made to call a tool, writes a call that parses and fits
/// its schema in 100 of 100 tries — through its template's tags, or Llama's JSON.
#[test]
fn a_random_weight_model_made_to_call_writes_valid_calls_100_times_of_100() {
    use localgpt::models::chat::engine::{Engine, Sampler};
    use localgpt::models::chat::grammar::CallFormat;
    use localgpt::models::chat::guide::ToolGuide;
    let t = Test::new();
    let path = t.scratch().join("toolful.gguf");
    write_tiny_gguf_with(&path, "qwen2", "qwen2", true, QWEN_TOOLS);
    t.run(["models", "install", path.to_str().unwrap()])
        .success();
    let mut engine = Engine::load(&t.home().join("models/toolful")).unwrap();
    assert_eq!(engine.call_format(), CallFormat::Tagged);
    let tools = weather_tools();
    let prompt = engine.encode("What is the weather in Porto?").unwrap();
    for format in [CallFormat::Tagged, CallFormat::Json] {
        let guide = ToolGuide::new(&tools, format, true).unwrap();
        for seed in 0..100 {
            let sampler = Sampler {
                temperature: 1.0,
                top_p: 1.0,
                repeat_penalty: 1.0,
                seed,
            };
            let mut said = String::new();
            let outcome = engine
                .generate_guided(&prompt, 1500, sampler, Some(&guide), &mut |text| {
                    said.push_str(text);
                    true
                })
                .unwrap();
            assert!(outcome.finished, "{format:?} seed {seed} ran out: {said}");
            let calls = localgpt::conversation::text_calls::parse(
                &said,
                &["get_weather".to_string()],
                |i| format!("call_{i}"),
            )
            .unwrap_or_else(|| panic!("{format:?} seed {seed}: not calls: {said}"));
            for call in calls {
                assert!(
                    fits_weather(&call.arguments),
                    "{format:?} seed {seed}: {}",
                    call.arguments
                );
            }
        }
    }
}

/// Through `/v1`, as an OpenAI client asks: `tool_choice: "required"` gets a call that
/// fits its schema from a random-weight model, and `response_format` a JSON answer that
/// fits its own.
#[test]
fn v1_requests_get_calls_and_json_that_fit_their_schemas_from_a_local_model() {
    let t = Test::new();
    let path = t.scratch().join("toolful.gguf");
    write_tiny_gguf_with(&path, "qwen2", "qwen2", true, QWEN_TOOLS);
    t.run(["models", "install", path.to_str().unwrap()])
        .success();
    t.write(
        "config.toml",
        "[agent]\nmodel = \"local/toolful\"\nmax_tokens = 1500\n",
    );
    let server = crate::server::start(&t);
    let ask = |body: serde_json::Value| {
        let response = crate::server::request(
            &server,
            "POST",
            "/v1/chat/completions",
            Some(&body.to_string()),
            &["Content-Type: application/json"],
        );
        assert_eq!(response.status, 200, "{}", response.body);
        serde_json::from_str::<serde_json::Value>(&response.body).unwrap()
    };
    for seed in 0..3 {
        let answer = ask(serde_json::json!({
            "model": "local/toolful", "seed": seed,
            "messages": [{"role": "user", "content": "Weather in Porto?"}],
            "tools": weather_tools(), "tool_choice": "required",
            // Only the client's tool: LocalGPT's own are offered too otherwise.
            "localgpt": {"tools": false}}));
        let message = &answer["choices"][0]["message"];
        assert_eq!(
            answer["choices"][0]["finish_reason"], "tool_calls",
            "{answer}"
        );
        let call = &message["tool_calls"][0]["function"];
        assert_eq!(call["name"], "get_weather", "{answer}");
        let arguments: serde_json::Value =
            serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert!(fits_weather(&arguments), "{arguments}");
    }
    let schema = serde_json::json!({"type": "object", "properties": {
        "answer": {"type": "string", "maxLength": 20}, "sure": {"type": "boolean"}},
        "required": ["answer", "sure"]});
    let answer = ask(serde_json::json!({
        "model": "local/toolful", "seed": 5,
        "messages": [{"role": "user", "content": "Is Porto in Portugal?"}],
        "response_format": {"type": "json_schema",
            "json_schema": {"name": "reply", "schema": schema, "strict": true}}}));
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    let value: serde_json::Value =
        serde_json::from_str(content).unwrap_or_else(|err| panic!("{err}: {content}"));
    assert!(
        value["answer"].is_string() && value["sure"].is_boolean(),
        "{value}"
    );
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
}
