//! Sentence embeddings for memory search by meaning: the built-in model
//! ([`crate::models::embedding::minilm`], on the CPU) or a provider's embeddings endpoint
//! ([`super::remote_embed`]), as `memory.embeddings` says. Either way the vectors are unit
//! length, so their dot product is the cosine similarity.

use crate::models::embedding::minilm::{self, EmbedError, MiniLm};

/// Turns texts into unit vectors: the local model, or a provider's embeddings endpoint.
pub struct Embedder {
    backend: Backend,
    /// Which model made the vectors: vectors of different models are not comparable.
    key: String,
    /// The latest queries' vectors: a turn's recall, the model's search and a retry ask
    /// the same question more than once.
    recent: std::sync::Mutex<Vec<(String, Vec<f32>)>>,
}

/// How many query vectors [`Embedder::embed_query`] keeps.
const RECENT_QUERIES: usize = 32;

enum Backend {
    Local(Box<MiniLm>),
    Remote(super::remote_embed::RemoteEmbedder),
}

impl Embedder {
    /// The local model in `dir`.
    pub fn load(dir: &std::path::Path) -> Result<Embedder, EmbedError> {
        Ok(Embedder {
            backend: Backend::Local(Box::new(MiniLm::load(dir)?)),
            key: minilm::KEY.to_string(),
            recent: Default::default(),
        })
    }

    pub(crate) fn remote(remote: super::remote_embed::RemoteEmbedder) -> Embedder {
        Embedder {
            key: remote.key(),
            backend: Backend::Remote(remote),
            recent: Default::default(),
        }
    }

    /// For a process that embeds one query and exits: the local model lets its weights
    /// go layer by layer after each query ([`MiniLm::release_weights_after_each_query`]).
    pub(crate) fn release_weights_after_each_query(&mut self) {
        if let Backend::Local(model) = &mut self.backend {
            model.release_weights_after_each_query();
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

impl Embedder {
    /// One query's vector, from the recent ones when it was asked lately.
    pub(crate) fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        if let Ok(recent) = self.recent.lock()
            && let Some((_, vector)) = recent.iter().find(|(query, _)| query == text)
        {
            return Ok(vector.clone());
        }
        let vector = self.embed(&[text])?.into_iter().next().unwrap_or_default();
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_QUERIES {
                recent.remove(0);
            }
            recent.push((text.to_string(), vector.clone()));
        }
        Ok(vector)
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
        "auto" if !minilm::is_installed(&crate::models::embedding::model_dir(home)) => {
            Wanted::Nothing
        }
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
        Wanted::Local => Embedder::load(&crate::models::embedding::model_dir(home)).map(Some),
        Wanted::Remote(endpoint) => super::remote_embed::RemoteEmbedder::new(endpoint, config)
            .map(|remote| Some(Embedder::remote(remote))),
    }
}

/// The key `configured` would give its embedder, without loading a model or building a
/// client: the daemon asks whether there is work before it loads anything.
pub(crate) fn configured_key(
    home: &crate::home::Home,
    config: &crate::config::Config,
) -> Option<String> {
    match wanted(home, config).ok()? {
        Wanted::Nothing => None,
        Wanted::Local => Some(minilm::KEY.to_string()),
        Wanted::Remote(endpoint) => Some(endpoint.model_key()),
    }
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
#[cfg(test)]
pub(crate) fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The dot product of a vector and a stored one, without copying the stored one out.
pub(crate) fn similarity_bytes(a: &[f32], bytes: &[u8]) -> f32 {
    a.iter()
        .zip(bytes.chunks_exact(4))
        .map(|(x, b)| x * f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .sum()
}

/// Vectors are stored as little-endian f32 bytes.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn from_bytes(bytes: &[u8]) -> Vec<f32> {
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
        let embedder =
            Embedder::load(&crate::models::embedding::test_model_dir()).expect("the model loads");
        let vectors = embedder
            .embed(&[
                "How do I reach my landlord?",
                "The apartment manager's phone number is 555-0100.",
                "Kestrels hover before they dive on their prey.",
                "A cat sits on the mat.",
                "A kitten is sitting on a rug.",
            ])
            .unwrap();
        assert_eq!(vectors[0].len(), minilm::DIMENSIONS);
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
