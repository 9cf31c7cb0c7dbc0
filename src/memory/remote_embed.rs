//! Embeddings from a provider, for `memory.embeddings = "openai"` (`POST
//! {base_url}/embeddings`, any OpenAI-compatible server) or `"ollama"` (`POST
//! {host}/api/embed`). The same endpoints and keys as chat, from `[providers.*]`.
//!
//! Callers are synchronous (indexing, a tool, a script) and some already run inside an
//! async runtime, so each request runs on a thread of its own with its own small
//! runtime: a network round trip dwarfs the thread's cost.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::Config;
use crate::models::embedding::minilm::EmbedError;

/// The model asked for when `memory.embedding_model` is not set.
const OPENAI_DEFAULT_MODEL: &str = "text-embedding-3-small";
const OLLAMA_DEFAULT_MODEL: &str = "nomic-embed-text";

/// How long one batch may take, end to end.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    OpenAi,
    Ollama,
}

/// Where the embeddings come from: cheap to work out, so the daemon can tell which
/// model's vectors it wants without building an HTTP client.
pub(crate) struct Endpoint {
    api: Api,
    url: String,
    key: Option<String>,
    model: String,
}

impl Endpoint {
    /// The endpoint `memory.embeddings` names, with the provider's URL and key.
    pub fn configured(config: &Config) -> Result<Endpoint, EmbedError> {
        let (api, provider, default_model) = match config.memory.embeddings.as_str() {
            "openai" => (Api::OpenAi, "openai", OPENAI_DEFAULT_MODEL),
            "ollama" => (Api::Ollama, "ollama", OLLAMA_DEFAULT_MODEL),
            other => {
                return Err(EmbedError::Setup(format!(
                    "memory.embeddings = \"{other}\" is not a provider"
                )));
            }
        };
        let entry = config.providers.get(provider).cloned().unwrap_or_default();
        let base = entry
            .base_url
            .as_ref()
            .map(|url| url.expose().to_string())
            .unwrap_or_default();
        let key = entry
            .api_key
            .as_ref()
            .map(|key| key.reveal())
            .transpose()
            .map_err(|err| EmbedError::Setup(format!("providers.{provider}.api_key: {err}")))?;
        let url = match api {
            Api::OpenAi => {
                if key.is_none() && base.contains("api.openai.com") {
                    return Err(EmbedError::Setup(
                        "memory.embeddings = \"openai\" needs an OpenAI key: set OPENAI_API_KEY \
                         or providers.openai.api_key (or use \"local\")"
                            .to_string(),
                    ));
                }
                format!("{}/embeddings", base.trim_end_matches('/'))
            }
            Api::Ollama => format!(
                "{}/api/embed",
                crate::provider::ollama::normalize_host(&base)
            ),
        };
        Ok(Endpoint {
            api,
            url,
            key,
            model: config
                .memory
                .embedding_model
                .clone()
                .unwrap_or_else(|| default_model.to_string()),
        })
    }

    /// The provider, model and endpoint: another of any of them makes other vectors.
    pub(crate) fn model_key(&self) -> String {
        let provider = match self.api {
            Api::OpenAi => "openai",
            Api::Ollama => "ollama",
        };
        format!(
            "{provider}/{}@{}",
            self.model,
            crate::config::without_password(&self.url)
        )
    }
}

pub(crate) struct RemoteEmbedder {
    endpoint: Endpoint,
    client: reqwest::Client,
    retry: crate::net::RetryPolicy,
}

impl RemoteEmbedder {
    pub fn new(endpoint: Endpoint, config: &Config) -> Result<RemoteEmbedder, EmbedError> {
        let settings = crate::net::HttpSettings::from_config(config);
        let client =
            crate::net::http_client(&settings).map_err(|err| EmbedError::Setup(err.to_string()))?;
        Ok(RemoteEmbedder {
            endpoint,
            client,
            retry: settings.retry,
        })
    }

    pub fn key(&self) -> String {
        self.endpoint.model_key()
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": self.endpoint.model, "input": texts});
        let build = || {
            let request = self
                .client
                .post(&self.endpoint.url)
                .timeout(REQUEST_TIMEOUT)
                .json(&body);
            match &self.endpoint.key {
                Some(key) => request.bearer_auth(key),
                None => request,
            }
        };
        let shown = crate::config::without_password(&self.endpoint.url);
        let target = crate::provider::Target {
            provider: &shown,
            url: &self.endpoint.url,
            unreachable_hint: "Check that the provider runs there (memory.embeddings), or set \
                               memory.embeddings = \"local\" or \"none\".",
        };
        let answer = crate::runtime::block_on_background(async {
            // 429, 5xx and dropped connections are retried with backoff, as for chat.
            let response = crate::provider::send_with_retries(&self.retry, &target, build)
                .await
                .map_err(|err| err.to_string())?;
            response
                .text()
                .await
                .map_err(|err| crate::net::innermost_cause(&err))
        })
        .unwrap_or_else(|err| Err(err.to_string()));
        let url = &shown;
        let text = answer.map_err(EmbedError::Run)?;
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            EmbedError::Run(format!(
                "{url} answered with something that is not JSON: {}",
                crate::truncate::cut_chars(text.trim(), 200, "…")
            ))
        })?;
        let vectors = match self.endpoint.api {
            Api::OpenAi => openai_vectors(&value),
            Api::Ollama => value
                .get("embeddings")
                .and_then(Value::as_array)
                .map(|rows| rows.iter().map(numbers).collect::<Option<Vec<_>>>()),
        }
        .flatten()
        .ok_or_else(|| EmbedError::Run(format!("{url} sent no embeddings in its answer")))?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::Run(format!(
                "{url} sent {} embeddings for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        Ok(vectors.into_iter().map(unit).collect())
    }
}

/// OpenAI's `data` in input order (each item carries its `index`).
fn openai_vectors(value: &Value) -> Option<Option<Vec<Vec<f32>>>> {
    let data = value.get("data")?.as_array()?;
    let mut indexed: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (position, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position as u64);
        indexed.push((index, numbers(item.get("embedding")?)?));
    }
    indexed.sort_by_key(|(index, _)| *index);
    Some(Some(
        indexed.into_iter().map(|(_, vector)| vector).collect(),
    ))
}

fn numbers(value: &Value) -> Option<Vec<f32>> {
    value
        .as_array()?
        .iter()
        .map(|n| n.as_f64().map(|n| n as f32))
        .collect()
}

/// Scaled to length 1, so the dot product is the cosine (not every server normalises).
fn unit(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_answers_are_put_back_in_input_order_and_normalised() {
        let value = json!({"data": [
            {"index": 1, "embedding": [0.0, 2.0]},
            {"index": 0, "embedding": [3.0, 4.0]},
        ]});
        let vectors = openai_vectors(&value).flatten().unwrap();
        assert_eq!(vectors[0], vec![3.0, 4.0]);
        let unit = unit(vectors[0].clone());
        assert!((unit[0] - 0.6).abs() < 1e-6 && (unit[1] - 0.8).abs() < 1e-6);
        assert!(
            openai_vectors(&json!({"data": [{"embedding": "x"}]}))
                .flatten()
                .is_none()
        );
    }
}
