//! all-MiniLM-L6-v2 (384 dimensions) on the user's own CPU: pure Rust, no network.
//! Each text is its own sequence (the shipped tokenizer.json pads everything to 128,
//! which would let padding into the mean), its hidden states are mean-pooled and
//! L2-normalised, so the dot product of two vectors is their cosine similarity.

use std::path::{Path, PathBuf};

use super::bert::{Bert, Config, Sequence};

/// The folder name of the embedding model under `models/`.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";

/// Its vectors' length.
pub const DIMENSIONS: usize = 384;

/// Longer chunks are cut here: the model was trained on at most 256 word pieces.
const MAX_TOKENS: usize = 256;

/// The key of its vectors in the memory index (vectors of different models are never
/// compared).
pub const KEY: &str = "local/all-minilm-l6-v2";

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding model is not installed ({0} is missing); see `localgpt models install`")]
    NotInstalled(PathBuf),
    #[error("cannot load the embedding model from {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("embedding failed: {0}")]
    Run(String),
    #[error("{0}")]
    Setup(String),
}

/// Whether the three files the model needs are there.
pub fn is_installed(dir: &Path) -> bool {
    ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .all(|file| dir.join(file).is_file())
}

/// The model, loaded.
pub struct MiniLm {
    model: Bert,
    tokenizer: super::wordpiece::Tokens,
}

/// Each layer of a forward pass allocates and frees tensors of megabytes. glibc serves
/// those with mmap and unmaps them on free, so the next one faults its pages in again:
/// embedding long chunks spent as much time in the kernel as in the arithmetic. Freed
/// memory is kept for reuse while the model is loaded, and given back when it goes.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

impl Drop for MiniLm {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory to the system.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

impl MiniLm {
    /// Loads the model in `dir`.
    pub fn load(dir: &Path) -> Result<MiniLm, EmbedError> {
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(file).is_file() {
                return Err(EmbedError::NotInstalled(dir.join(file)));
            }
        }
        let fail = |message: String| EmbedError::Load {
            path: dir.to_path_buf(),
            message,
        };
        let config: Config = std::fs::read(dir.join("config.json"))
            .map_err(|err| fail(format!("config.json: {err}")))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|err| fail(format!("config.json: {err}")))
            })?;
        let tokenizer = super::wordpiece::load(&dir.join("tokenizer.json"), MAX_TOKENS)
            .map_err(|err| fail(format!("tokenizer.json: {err}")))?;
        keep_freed_memory();
        let model = Bert::open(&dir.join("model.safetensors"), config)
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        if model.hidden_size() != DIMENSIONS {
            return Err(fail(format!(
                "config.json: {} dimensions, expected {DIMENSIONS}",
                model.hidden_size()
            )));
        }
        Ok(MiniLm { model, tokenizer })
    }

    /// See [`Bert::release_weights_after_each_query`].
    pub fn release_weights_after_each_query(&mut self) {
        self.model.release_weights_after_each_query();
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = texts
            .iter()
            .map(|text| self.tokenizer.encode(text, MAX_TOKENS))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EmbedError::Run)?;
        let longest = encodings.iter().map(Vec::len).max().unwrap_or(0);
        // One sentence per sequence: every token is of segment 0.
        let types = vec![0u32; longest];
        let sequences: Vec<Sequence<'_>> = encodings
            .iter()
            .map(|ids| Sequence {
                ids,
                types: &types[..ids.len()],
            })
            .collect();
        let hidden = self.model.forward(&sequences, rayon::current_num_threads());
        let width = self.model.hidden_size();
        let mut rows = hidden.chunks_exact(width);
        let vectors = sequences
            .iter()
            .map(|sequence| {
                let length = sequence.ids.len().min(self.model.max_tokens());
                let mut mean = vec![0.0f32; width];
                for row in rows.by_ref().take(length) {
                    for (sum, value) in mean.iter_mut().zip(row) {
                        *sum += value;
                    }
                }
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                // The mean's 1/length cancels in the normalisation.
                for value in &mut mean {
                    *value /= norm;
                }
                mean
            })
            .collect();
        Ok(vectors)
    }
}
