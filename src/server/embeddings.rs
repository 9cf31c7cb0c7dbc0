//! `POST /v1/embeddings`, OpenAI's shape, served by the embedder memory search uses: the
//! built-in all-MiniLM-L6-v2 when installed (an embeddings server with no key and no
//! network), or the provider `memory.embeddings` names.

use std::sync::Arc;

use base64::Engine as _;
use hyper::Request;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use super::State;
use super::api::blocking;
use super::http::{ApiError, ApiResponse, ok_json, parse_json, read_body};

/// OpenAI's own limit on inputs per request.
const MAX_INPUTS: usize = 2048;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingRequest {
    model: String,
    input: Value,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
    #[allow(dead_code)]
    user: Option<String>,
}

pub async fn embeddings(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: EmbeddingRequest = parse_json(&bytes)?;
    let texts = inputs(&body.input)?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`encoding_format`: `{other}` is not float or base64"
            ))
            .with_param("encoding_format"));
        }
    };
    let embedder = {
        let state = state.clone();
        blocking(move || Ok(state.embedder.get(&state.home, &state.env.config))).await?
    };
    let Some(embedder) = embedder else {
        return Err(ApiError::new(
            hyper::StatusCode::NOT_FOUND,
            "model_not_found",
            "no embedding model here: `localgpt models install minilm` installs the built-in one \
             (all-MiniLM-L6-v2, offline), or set memory.embeddings to \"openai\" or \"ollama\"",
        )
        .with_param("model"));
    };
    let served = embedder.key().to_string();
    if !names_the_model(&body.model, &served) {
        return Err(super::openai::model_not_found(&body.model));
    }
    let tokens: u64 = texts
        .iter()
        .map(|text| crate::agent::context::estimate_text(text))
        .sum();
    let vectors = blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed(&refs).map_err(|err| {
            ApiError::new(
                hyper::StatusCode::BAD_GATEWAY,
                "embedding_failed",
                err.to_string(),
            )
        })
    })
    .await?;
    let size = vectors.first().map_or(0, Vec::len);
    if let Some(wanted) = body.dimensions
        && wanted != size
    {
        return Err(ApiError::bad_request(format!(
            "`dimensions`: {served} gives {size}-dimensional vectors and cannot shorten them"
        ))
        .with_param("dimensions"));
    }
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    ok_json(&json!({
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

/// Whether `asked` means the model being served: `localgpt`, its key
/// (`local/all-minilm-l6-v2`, `openai/text-embedding-3-small@…`), or the name the key
/// ends in, in any case.
fn names_the_model(asked: &str, served: &str) -> bool {
    let asked = asked.to_lowercase();
    // A provider's key ends in `@` and the endpoint's address.
    let served = served.split_once('@').map_or(served, |(model, _)| model);
    let short = served.rsplit('/').next().unwrap_or(served);
    asked == "localgpt"
        || asked == served.to_lowercase()
        || asked == short.to_lowercase()
        || asked.rsplit('/').next() == Some(&short.to_lowercase())
}

/// The texts of `input`: a string or an array of them. Token arrays are refused: the
/// token ids of OpenAI's tokenizer mean nothing to another model.
fn inputs(input: &Value) -> Result<Vec<String>, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("`input`: {why}")).with_param("input");
    let texts: Vec<String> = match input {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Number(_) | Value::Array(_) => Err(bad(
                    "token arrays are not supported (they are OpenAI's tokenizer's ids); send text",
                )),
                _ => Err(bad("each input must be a string")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("a string or an array of strings")),
    };
    if texts.is_empty() {
        return Err(bad("is empty"));
    }
    if texts.len() > MAX_INPUTS {
        return Err(bad(&format!("at most {MAX_INPUTS} inputs per request")));
    }
    if texts.iter().any(String::is_empty) {
        return Err(bad("an input is an empty string"));
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_and_inputs() {
        let key = "local/all-minilm-l6-v2";
        for yes in [
            "localgpt",
            key,
            "all-MiniLM-L6-v2",
            "sentence-transformers/all-MiniLM-L6-v2",
        ] {
            assert!(names_the_model(yes, key), "{yes}");
        }
        assert!(!names_the_model("text-embedding-3-small", key));
        let remote = "openai/text-embedding-3-small@http://127.0.0.1:9/v1";
        assert!(names_the_model("text-embedding-3-small", remote));
        assert!(!names_the_model("127.0.0.1:9", remote));
        assert_eq!(inputs(&json!("a")).unwrap(), ["a"]);
        assert_eq!(inputs(&json!(["a", "b"])).unwrap().len(), 2);
        for bad in [
            json!([]),
            json!([1, 2]),
            json!([[1]]),
            json!([""]),
            json!(5),
        ] {
            assert!(inputs(&bad).is_err(), "{bad}");
        }
    }
}
