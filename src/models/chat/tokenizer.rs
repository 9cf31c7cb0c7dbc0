//! SmolLM2's tokenizer, rebuilt from what its GGUF carries. The file stores a gpt2-style
//! byte-level BPE vocabulary and merge list with the pre-tokenizer name "smollm"
//! (every digit on its own, then the GPT-2 split). candle's built-in GGUF tokenizer does
//! not know that name and splits numbers wrongly, so the Hugging Face tokenizer.json is
//! written here from the same data and loaded with the `tokenizers` crate.

use candle_core::quantized::gguf_file::Value;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

/// llama.cpp's token types: 3 is a control token (`<|im_end|>`), 4 one added by the user.
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("the GGUF has no `{0}`")]
    Missing(&'static str),
    #[error("the GGUF's `{key}` is not what a SmolLM2 tokenizer needs: {message}")]
    Unexpected { key: &'static str, message: String },
}

fn strings<'a>(
    metadata: &'a HashMap<String, Value>,
    key: &'static str,
) -> Result<Vec<&'a str>, TokenizerError> {
    let values = metadata
        .get(key)
        .ok_or(TokenizerError::Missing(key))?
        .to_vec()
        .map_err(|err| TokenizerError::Unexpected {
            key,
            message: err.to_string(),
        })?;
    values
        .iter()
        .map(|value| {
            value
                .to_string()
                .map(String::as_str)
                .map_err(|err| TokenizerError::Unexpected {
                    key,
                    message: err.to_string(),
                })
        })
        .collect()
}

fn text<'a>(
    metadata: &'a HashMap<String, Value>,
    key: &'static str,
) -> Result<&'a str, TokenizerError> {
    metadata
        .get(key)
        .ok_or(TokenizerError::Missing(key))?
        .to_string()
        .map(String::as_str)
        .map_err(|err| TokenizerError::Unexpected {
            key,
            message: err.to_string(),
        })
}

fn token_type(value: &Value) -> i64 {
    match value {
        Value::I32(kind) => i64::from(*kind),
        Value::U32(kind) => i64::from(*kind),
        Value::I64(kind) => *kind,
        _ => 1,
    }
}

/// The tokenizer.json (Hugging Face format) for the vocabulary in `metadata`.
/// How text is split before byte-level BPE, by GGUF's `tokenizer.ggml.pre` name: as each
/// model's own tokenizer.json does it (llama.cpp keeps the same table).
fn pre_tokenizer(pre: &str) -> Option<Json> {
    // Llama 3 groups up to three digits; Qwen 2 takes them one by one.
    let split = |digits: &str| {
        let pattern = format!(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{{L}}\\p{{N}}]?\\p{{L}}+|{digits}| ?[^\\s\\p{{L}}\\p{{N}}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        );
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
        ]})
    };
    match pre {
        "smollm" => Some(json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        ]})),
        "llama-bpe" | "llama3" => Some(split("\\p{N}{1,3}")),
        "qwen2" => Some(split("\\p{N}")),
        _ => None,
    }
}

pub fn tokenizer_json(metadata: &HashMap<String, Value>) -> Result<String, TokenizerError> {
    let model = text(metadata, "tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(TokenizerError::Unexpected {
            key: "tokenizer.ggml.model",
            message: format!("`{model}`, not the byte-level BPE `gpt2`"),
        });
    }
    let pre = text(metadata, "tokenizer.ggml.pre")?;
    let pre_tokenizer = pre_tokenizer(pre).ok_or_else(|| TokenizerError::Unexpected {
        key: "tokenizer.ggml.pre",
        message: format!(
            "`{pre}`: LocalGPT rebuilds the tokenizers of SmolLM2 (`smollm`), Llama 3 \
             (`llama-bpe`) and Qwen 2 and 3 (`qwen2`)"
        ),
    })?;
    let tokens = strings(metadata, "tokenizer.ggml.tokens")?;
    let merges = strings(metadata, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match metadata.get("tokenizer.ggml.token_type") {
        Some(value) => value
            .to_vec()
            .map(|values| values.iter().map(token_type).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };

    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert((*token).to_string(), json!(id));
        let kind = types.get(id).copied().unwrap_or(1);
        if kind == CONTROL || kind == USER_DEFINED {
            added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": kind == CONTROL,
            }));
        }
    }
    // Byte-level tokens never hold a plain space (it is "Ġ"), so the first space
    // separates the pair.
    let merges: Vec<Json> = merges
        .iter()
        .map(|merge| match merge.split_once(' ') {
            Some((left, right)) => Ok(json!([left, right])),
            None => Err(TokenizerError::Unexpected {
                key: "tokenizer.ggml.merges",
                message: format!("`{merge}` is not two tokens"),
            }),
        })
        .collect::<Result<_, _>>()?;
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    Ok(tokenizer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::PreTokenizer as _;

    fn split(pre: &str, text: &str) -> Vec<String> {
        let json = pre_tokenizer(pre).unwrap().to_string();
        let pre: tokenizers::PreTokenizerWrapper = serde_json::from_str(&json).unwrap();
        let mut pieces = tokenizers::PreTokenizedString::from(text);
        pre.pre_tokenize(&mut pieces).unwrap();
        pieces
            .get_splits(
                tokenizers::OffsetReferential::Original,
                tokenizers::OffsetType::Byte,
            )
            .into_iter()
            .map(|(piece, _, _)| piece.to_string())
            .collect()
    }

    #[test]
    fn each_family_splits_text_as_its_own_tokenizer_does() {
        // Llama 3 groups digits by three; Qwen 2 and SmolLM2 take them one at a time.
        assert_eq!(
            split("llama-bpe", "It's 12345!"),
            ["It", "'s", "Ġ", "123", "45", "!"]
        );
        assert_eq!(
            split("qwen2", "It's 12345!"),
            ["It", "'s", "Ġ", "1", "2", "3", "4", "5", "!"]
        );
        assert_eq!(split("smollm", "ab 12"), ["ab", "Ġ", "1", "2"]);
        assert!(pre_tokenizer("gemma").is_none());
    }
}
