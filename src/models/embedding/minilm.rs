//! all-MiniLM-L6-v2 (384 dimensions) on the user's own CPU: candle, pure Rust, no
//! network. Texts are tokenized to the longest in the batch (the shipped tokenizer.json
//! pads everything to 128, which would let padding into the mean), the hidden states are
//! mean-pooled under the attention mask and L2-normalised, so the dot product of two
//! vectors is their cosine similarity.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::bert::Bert;

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

/// Where the model lives in a home folder.
pub fn model_dir(home: &crate::home::Home) -> PathBuf {
    home.root().join("models").join(MODEL_NAME)
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
    tokenizer: Tokenizer,
    device: Device,
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
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|err| fail(format!("tokenizer.json: {err}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|err| fail(format!("tokenizer.json: {err}")))?;
        keep_freed_memory();
        let device = Device::Cpu;
        // Mapped, not read: reading copied all 90 MB once more before the tensors were
        // made, most of a hybrid search's time.
        // SAFETY: the file is never changed in place: installing removes the old folder
        // and renames a new one into place, so a mapping keeps the file it was made from.
        let builder = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &device,
            )
        }
        .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        let model = Bert::load(builder, &config)
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        Ok(MiniLm {
            model,
            tokenizer,
            device,
        })
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let run = |err: candle_core::Error| EmbedError::Run(err.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| EmbedError::Run(err.to_string()))?;
        let rows =
            |pick: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor, EmbedError> {
                let rows: Vec<Tensor> = encodings
                    .iter()
                    .map(|encoding| Tensor::new(pick(encoding).as_slice(), &self.device))
                    .collect::<Result<_, _>>()
                    .map_err(run)?;
                Tensor::stack(&rows, 0).map_err(run)
            };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let types = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let hidden = self.model.forward(&ids, &types, &mask).map_err(run)?;
        // Mean over the real tokens only.
        let mask = mask
            .to_dtype(DType::F32)
            .map_err(run)?
            .unsqueeze(2)
            .map_err(run)?;
        let summed = hidden
            .broadcast_mul(&mask)
            .map_err(run)?
            .sum(1)
            .map_err(run)?;
        let counts = mask
            .sum(1)
            .map_err(run)?
            .clamp(1e-9, f32::MAX)
            .map_err(run)?;
        let mean = summed.broadcast_div(&counts).map_err(run)?;
        let norms = mean
            .sqr()
            .map_err(run)?
            .sum_keepdim(1)
            .map_err(run)?
            .sqrt()
            .map_err(run)?
            .clamp(1e-12, f32::MAX)
            .map_err(run)?;
        let normalised = mean.broadcast_div(&norms).map_err(run)?;
        normalised.to_vec2::<f32>().map_err(run)
    }
}
