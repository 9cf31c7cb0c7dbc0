//! `localgpt models pull`: chat models from where people get them.
//!
//! - `hf:ORG/REPO[:QUANT|:FILE.gguf]` — the Hugging Face Hub's API
//!   (`/api/models/REPO?blobs=true`) lists the repository's files with their sizes and
//!   sha256; the GGUF is chosen by quantization (Q4_K_M unless told) and fetched from
//!   `/REPO/resolve/main/FILE`. `HF_ENDPOINT` names a mirror, `HF_TOKEN` opens gated
//!   models.
//! - `ollama:[HOST/][NAMESPACE/]NAME[:TAG]` — Ollama's registry, as a container registry:
//!   the manifest (`/v2/NAMESPACE/NAME/manifests/TAG`) names the model layer by digest,
//!   the blob is fetched and checked against it.
//!
//! Both download into `models/.downloads/` (resumed where a cut attempt stopped, checked
//! before use, removed when damaged) and install as `models install FILE` does, so a
//! model is either whole or not there.

use std::path::PathBuf;

use super::download::{self, DownloadError, RemoteFile};

pub(crate) const HF_ENDPOINT: &str = "https://huggingface.co";
const OLLAMA_REGISTRY: &str = "registry.ollama.ai";

/// The quantizations tried in order when a repository has several and none was named:
/// the mix Ollama and LM Studio ship by default first.
const PREFERRED: [&str; 6] = ["Q4_K_M", "Q4_K_S", "Q5_K_M", "Q4_0", "Q6_K", "Q8_0"];

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Hub {
        repo: String,
        choice: Choice,
    },
    Ollama {
        registry: String,
        path: String,
        tag: String,
    },
}

/// Which of a repository's GGUF files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Preferred,
    Quantization(String),
    File(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Source(String),
    #[error(transparent)]
    Download(#[from] DownloadError),
}

impl Source {
    /// Reads `hf:ORG/REPO[:QUANT|:FILE]` or `ollama:[HOST/][NS/]NAME[:TAG]`.
    pub fn parse(spec: &str) -> Result<Source, PullError> {
        let usage = |why: &str| {
            PullError::Usage(format!(
                "`{spec}`: {why}; pull takes `hf:ORG/REPO[:QUANT]` (e.g. \
                 `hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M`), `hf:ORG/REPO:FILE.gguf` \
                 or `ollama:NAME[:TAG]`"
            ))
        };
        if let Some(rest) = spec.strip_prefix("hf:") {
            let (repo, choice) = match rest.split_once(':') {
                Some((repo, file)) if file.to_lowercase().ends_with(".gguf") => {
                    (repo, Choice::File(file.to_string()))
                }
                Some((repo, quant)) => (repo, Choice::Quantization(quant.to_uppercase())),
                None => (rest, Choice::Preferred),
            };
            let parts: Vec<&str> = repo.split('/').collect();
            let plain = |part: &str| {
                !part.is_empty()
                    && !part.starts_with(['.', '-'])
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            };
            if parts.len() != 2 || !parts.iter().all(|part| plain(part)) {
                return Err(usage("a Hub repository is ORG/REPO"));
            }
            if let Choice::File(file) = &choice
                && (file.contains("..") || file.starts_with('/') || file.contains('\\'))
            {
                return Err(usage("the file must be a path inside the repository"));
            }
            return Ok(Source::Hub {
                repo: repo.to_string(),
                choice,
            });
        }
        if let Some(rest) = spec.strip_prefix("ollama:") {
            let (name, tag) = match rest.rsplit_once(':') {
                // A colon before the last slash is a registry's port, not a tag.
                Some((name, tag)) if !tag.contains('/') => (name, tag),
                _ => (rest, "latest"),
            };
            let mut parts: Vec<&str> = name.split('/').collect();
            // As Docker reads names: a first part with a dot or a port is a host.
            let registry = if parts.len() > 1 && parts[0].contains(['.', ':']) {
                parts.remove(0).to_string()
            } else {
                OLLAMA_REGISTRY.to_string()
            };
            if parts.len() == 1 {
                parts.insert(0, "library");
            }
            let plain = |part: &str| {
                !part.is_empty()
                    && !part.starts_with(['.', '-'])
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            };
            let (host, port) = registry.split_once(':').unwrap_or((&registry, "443"));
            let good_host =
                plain(host) && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
            if !good_host
                || parts.len() != 2
                || !parts.iter().all(|part| plain(part))
                || !plain(tag)
            {
                return Err(usage(
                    "an Ollama model is NAME[:TAG] or NAMESPACE/NAME[:TAG]",
                ));
            }
            return Ok(Source::Ollama {
                registry,
                path: parts.join("/"),
                tag: tag.to_string(),
            });
        }
        Err(usage("it names no source"))
    }

    /// The name the model installs under (`local/NAME`), before its file is known.
    fn install_name(&self, file: &str) -> String {
        match self {
            Source::Hub { .. } => super::chat::name_for(std::path::Path::new(file)),
            Source::Ollama { path, tag, .. } => {
                // As `models import ollama:NAME:TAG` names it.
                let name = path.rsplit('/').next().unwrap_or(path);
                format!("{name}:{tag}").to_lowercase()
            }
        }
    }
}

/// Finds the file `source` means.
pub(crate) async fn resolve(
    client: &reqwest::Client,
    source: &Source,
    hf_endpoint: &str,
    hf_token: Option<&str>,
) -> Result<RemoteFile, PullError> {
    match source {
        Source::Hub { repo, choice } => hub_file(client, hf_endpoint, hf_token, repo, choice).await,
        Source::Ollama {
            registry,
            path,
            tag,
        } => ollama_blob(client, registry, path, tag).await,
    }
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    accept: Option<&str>,
    what: &str,
) -> Result<serde_json::Value, PullError> {
    let mut request = client.get(url);
    if let Some(authorization) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    if let Some(accept) = accept {
        request = request.header(reqwest::header::ACCEPT, accept);
    }
    let response = request.send().await.map_err(|err| {
        PullError::Source(format!(
            "cannot reach {what} at {url}: {}",
            crate::net::innermost_cause(&err)
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        let why = match status.as_u16() {
            401 | 403 if what.contains("Hub") && authorization.is_none() => {
                "the repository is gated or private: accept its terms on the Hub and set HF_TOKEN"
                    .to_string()
            }
            401 | 403 => "access refused (check the token)".to_string(),
            404 => "not found".to_string(),
            429 => "too many requests; try again later".to_string(),
            _ => format!("it answered {status}"),
        };
        return Err(PullError::Source(format!("{what} at {url}: {why}")));
    }
    response
        .json()
        .await
        .map_err(|err| PullError::Source(format!("{what} at {url} answered no JSON: {err}")))
}

async fn hub_file(
    client: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    repo: &str,
    choice: &Choice,
) -> Result<RemoteFile, PullError> {
    let endpoint = endpoint.trim_end_matches('/');
    let authorization = token.map(|token| format!("Bearer {token}"));
    let url = format!("{endpoint}/api/models/{repo}?blobs=true");
    let info = get_json(
        client,
        &url,
        authorization.as_deref(),
        None,
        "the Hugging Face Hub",
    )
    .await?;
    let ggufs: Vec<(String, u64, String)> = info["siblings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|file| {
            let name = file["rfilename"].as_str()?;
            let lfs = &file["lfs"];
            // An LFS object's sha256 is its `sha256` (or, as the LFS spec has it, `oid`).
            let sha256 = lfs["sha256"].as_str().or_else(|| lfs["oid"].as_str())?;
            let size = lfs["size"].as_u64().or_else(|| file["size"].as_u64())?;
            Some((name.to_string(), size, sha256.to_lowercase()))
        })
        .filter(|(name, ..)| name.to_lowercase().ends_with(".gguf"))
        .collect();
    if ggufs.is_empty() {
        return Err(PullError::Source(format!(
            "{repo} on the Hub has no GGUF file (LocalGPT runs GGUF models)"
        )));
    }
    let names = || {
        ggufs
            .iter()
            .map(|(name, size, _)| format!("{name} ({:.1} GB)", *size as f64 / 1e9))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A model's projector for images is not a chat model.
    let chat_model = |name: &str| !name.to_lowercase().contains("mmproj");
    let of_quant = |quant: &str| -> Vec<&(String, u64, String)> {
        let quant = quant.to_lowercase();
        ggufs
            .iter()
            .filter(|(name, ..)| chat_model(name))
            .filter(|(name, ..)| names_quantization(name, &quant))
            .collect()
    };
    let chosen = match choice {
        Choice::File(file) => ggufs
            .iter()
            .find(|(name, ..)| name == file)
            .ok_or_else(|| {
                PullError::Source(format!(
                    "{repo} has no GGUF file {file}; it has {}",
                    names()
                ))
            })?,
        Choice::Quantization(quant) => {
            let found = of_quant(quant);
            match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(PullError::Source(format!(
                        "{repo} has no {quant} GGUF; it has {}",
                        names()
                    )));
                }
                _ => return Err(split_or_many(repo, &found)),
            }
        }
        Choice::Preferred => {
            let found = PREFERRED
                .iter()
                .map(|quant| of_quant(quant))
                .find(|found| !found.is_empty());
            match found.as_deref() {
                Some([one]) => *one,
                Some(many) => return Err(split_or_many(repo, many)),
                None => {
                    let models: Vec<&(String, u64, String)> =
                        ggufs.iter().filter(|(name, ..)| chat_model(name)).collect();
                    match models.as_slice() {
                        [one] => *one,
                        _ => {
                            return Err(PullError::Usage(format!(
                                "{repo} has several GGUF files and none of {}: name one, e.g. \
                                 `hf:{repo}:FILE.gguf`; it has {}",
                                PREFERRED.join(", "),
                                names()
                            )));
                        }
                    }
                }
            }
        }
    };
    let (name, size, sha256) = chosen;
    let filename = name.rsplit('/').next().unwrap_or(name).to_string();
    Ok(RemoteFile {
        filename,
        url: format!("{endpoint}/{repo}/resolve/main/{name}"),
        size: *size,
        sha256: sha256.clone(),
        authorization,
    })
}

/// Whether the file `name` is of quantization `quant` (lower case): `model-Q4_K_M.gguf`,
/// `model.q4_k_m.gguf` and the parts of a split `model-Q4_K_M-00001-of-00002.gguf` are
/// Q4_K_M; `model-Q4_K_M.gguf` is not Q4_K, nor `model-IQ4_K_M.gguf`.
fn names_quantization(name: &str, quant: &str) -> bool {
    let lowered = name.to_lowercase();
    let file = lowered.rsplit('/').next().unwrap_or(&lowered);
    let stem = file.strip_suffix(".gguf").unwrap_or(file);
    stem.match_indices(quant).any(|(at, _)| {
        let before = stem.get(..at).and_then(|text| text.chars().next_back());
        let after = stem
            .get(at + quant.len()..)
            .and_then(|text| text.chars().next());
        matches!(before, Some('-' | '.' | '_')) && matches!(after, None | Some('-' | '.'))
    })
}

fn split_or_many(repo: &str, found: &[&(String, u64, String)]) -> PullError {
    let names: Vec<&str> = found.iter().map(|(name, ..)| name.as_str()).collect();
    if names.iter().any(|name| name.contains("-of-")) {
        PullError::Source(format!(
            "{repo} splits that model over several files ({}); LocalGPT runs single-file GGUF \
             models — choose a smaller quantization",
            names.join(", ")
        ))
    } else {
        PullError::Usage(format!(
            "{repo} has several files of that quantization ({}): name one, `hf:{repo}:FILE.gguf`",
            names.join(", ")
        ))
    }
}

async fn ollama_blob(
    client: &reqwest::Client,
    registry: &str,
    path: &str,
    tag: &str,
) -> Result<RemoteFile, PullError> {
    // A registry on this machine speaks plain HTTP, as Docker allows; any other, HTTPS.
    let host = registry.rsplit_once(':').map_or(registry, |(host, _)| host);
    let scheme = if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        "http"
    } else {
        "https"
    };
    let base = format!("{scheme}://{registry}/v2/{path}");
    let manifest = get_json(
        client,
        &format!("{base}/manifests/{tag}"),
        None,
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        "Ollama's registry",
    )
    .await?;
    let layer = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|layer| layer["mediaType"] == "application/vnd.ollama.image.model")
        .ok_or_else(|| {
            PullError::Source(format!("the manifest of {path}:{tag} has no model layer"))
        })?;
    let digest = layer["digest"].as_str().unwrap_or_default();
    let sha256 = digest
        .strip_prefix("sha256:")
        .filter(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| {
            PullError::Source(format!(
                "the manifest of {path}:{tag} gives the model layer no sha256 digest"
            ))
        })?;
    let size = layer["size"].as_u64().ok_or_else(|| {
        PullError::Source(format!(
            "the manifest of {path}:{tag} gives the model layer no size"
        ))
    })?;
    Ok(RemoteFile {
        filename: format!("sha256-{sha256}"),
        url: format!("{base}/blobs/{digest}"),
        size,
        sha256: sha256.to_lowercase(),
        authorization: None,
    })
}

/// Pulls `source` and installs it; the download is removed once the model is in place.
/// A progress bar goes to stderr when `show_progress`.
pub(crate) fn pull(
    home: &crate::home::Home,
    config: &crate::config::Config,
    source: &Source,
    show_progress: bool,
) -> Result<super::Installed, PullError> {
    let setup = |detail: String| PullError::Download(DownloadError::Setup(detail));
    let http = crate::net::HttpSettings::from_config(config);
    let client = crate::net::http_client(&http).map_err(|err| setup(err.to_string()))?;
    let endpoint = std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| HF_ENDPOINT.to_string());
    let token = std::env::var("HF_TOKEN")
        .ok()
        .filter(|token| !token.is_empty());
    let downloads: PathBuf = super::models_dir(home).join(".downloads");
    let runtime = crate::runtime::on_this_thread()
        .map_err(|err| setup(format!("cannot start the async runtime: {err}")))?;
    let (file, path) = runtime.block_on(async {
        let file = resolve(&client, source, &endpoint, token.as_deref()).await?;
        let bar = download::progress_bar(show_progress, file.filename.clone(), file.size);
        let fetched = download::fetch(&client, &file, &downloads, &mut |done, _| {
            bar.set_position(done);
        })
        .await;
        bar.finish_and_clear();
        Ok::<_, PullError>((file, fetched?))
    })?;
    let name = source.install_name(&file.filename);
    let installed = super::install_as(home, &path, Some(&name)).map_err(DownloadError::from);
    let _ = std::fs::remove_file(&path);
    Ok(installed?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_as_the_hub_and_ollama_name_them() {
        assert_eq!(
            Source::parse("hf:bartowski/Llama-3.2-1B-Instruct-GGUF:q4_k_m").unwrap(),
            Source::Hub {
                repo: "bartowski/Llama-3.2-1B-Instruct-GGUF".into(),
                choice: Choice::Quantization("Q4_K_M".into()),
            }
        );
        assert_eq!(
            Source::parse("hf:Qwen/Qwen2.5-3B-Instruct-GGUF:qwen2.5-3b-instruct-q4_k_m.gguf")
                .unwrap(),
            Source::Hub {
                repo: "Qwen/Qwen2.5-3B-Instruct-GGUF".into(),
                choice: Choice::File("qwen2.5-3b-instruct-q4_k_m.gguf".into()),
            }
        );
        assert_eq!(
            Source::parse("ollama:llama3.2:1b").unwrap(),
            Source::Ollama {
                registry: OLLAMA_REGISTRY.into(),
                path: "library/llama3.2".into(),
                tag: "1b".into(),
            }
        );
        assert_eq!(
            Source::parse("ollama:localhost:5000/me/tiny").unwrap(),
            Source::Ollama {
                registry: "localhost:5000".into(),
                path: "me/tiny".into(),
                tag: "latest".into(),
            }
        );
        for bad in [
            "hf:justone",
            "hf:a/b/c",
            "hf:../x",
            "hf:a/b:../../etc/passwd.gguf",
            "ollama:",
            "ollama:a/b/c/d",
            "ollama:x:../y",
            "huggingface.co/a/b",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_are_told_apart_by_quantization() {
        assert!(names_quantization(
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            "q4_k_m"
        ));
        assert!(names_quantization("sub/llama.q4_k_m.gguf", "q4_k_m"));
        assert!(names_quantization("m-Q4_K_M-00001-of-00002.gguf", "q4_k_m"));
        assert!(!names_quantization("Llama-Q4_K_M.gguf", "q4_k"));
        assert!(!names_quantization("Llama-IQ4_K_M.gguf", "q4_k_m"));
        assert!(!names_quantization("Llama-Q4_K_L.gguf", "q4_k_m"));
    }

    #[test]
    fn ollama_models_install_under_name_and_tag() {
        let source = Source::parse("ollama:qwen2.5:0.5b").unwrap();
        assert_eq!(source.install_name("sha256-ab"), "qwen2.5:0.5b");
        let hub = Source::parse("hf:a/b").unwrap();
        assert_eq!(
            hub.install_name("Llama-3.2-1B-Q4_K_M.gguf"),
            "llama-3.2-1b-q4_k_m"
        );
    }
}
