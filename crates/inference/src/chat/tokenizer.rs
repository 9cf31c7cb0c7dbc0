//! A model's tokenizer, rebuilt from what its GGUF carries, as a Hugging Face
//! tokenizer.json loaded with the `tokenizers` crate: byte-level BPE (`gpt2`: SmolLM2,
//! Llama 3, Qwen — each with its own pre-tokenizer split, which candle's built-in GGUF
//! tokenizer does not know) or SentencePiece (`llama`: Gemma, Phi-3), whose merges are
//! derived from the pieces' scores.

use candle_core::quantized::gguf_file::Value;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

/// llama.cpp's token types: 3 is a control token (`<|im_end|>`), 4 one added by the user.
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
const UNKNOWN: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("the GGUF has no `{0}`")]
    Missing(&'static str),
    #[error("the GGUF's `{key}` is not a tokenizer LocalGPT rebuilds: {message}")]
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
/// llama.cpp's token type for a byte of SentencePiece's byte fallback (`<0x0A>`).
const BYTE: i64 = 6;

/// A SentencePiece tokenizer (Gemma, Phi-3, Llama 2) from what the GGUF carries: pieces,
/// scores and types. Its merges are derived from the scores as transformers derives them
/// from a SentencePiece model: every split of a piece into two pieces of the vocabulary,
/// best-scored piece first. Spaces become "▁"; with `add_space_prefix` every stretch of
/// text gets one in front, as llama.cpp does for text after a special token.
fn sentencepiece_json(metadata: &HashMap<String, Value>) -> Result<String, TokenizerError> {
    let tokens = strings(metadata, "tokenizer.ggml.tokens")?;
    let scores: Vec<f32> = metadata
        .get("tokenizer.ggml.scores")
        .and_then(|value| value.to_vec().ok())
        .map(|values| values.iter().map(|v| v.to_f32().unwrap_or(0.0)).collect())
        .unwrap_or_default();
    let types: Vec<i64> = metadata
        .get("tokenizer.ggml.token_type")
        .and_then(|value| value.to_vec().ok())
        .map(|values| values.iter().map(token_type).collect())
        .unwrap_or_default();
    let add_space_prefix = metadata
        .get("tokenizer.ggml.add_space_prefix")
        .and_then(|value| value.to_bool().ok())
        .unwrap_or(true);
    let ids: HashMap<&str, usize> = tokens.iter().enumerate().map(|(id, t)| (*t, id)).collect();
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    let mut unk = None;
    let mut candidates: Vec<(f32, usize, usize, &str, &str)> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert((*token).to_string(), json!(id));
        let kind = types.get(id).copied().unwrap_or(1);
        match kind {
            CONTROL | USER_DEFINED => added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": kind == CONTROL,
            })),
            UNKNOWN => unk = Some((*token).to_string()),
            BYTE => {}
            _ => {
                let score = scores.get(id).copied().unwrap_or(0.0);
                let bounds: Vec<usize> = token.char_indices().map(|(at, _)| at).skip(1).collect();
                for at in bounds {
                    let (Some(left), Some(right)) = (token.get(..at), token.get(at..)) else {
                        continue;
                    };
                    if let (Some(&l), Some(&r)) = (ids.get(left), ids.get(right)) {
                        candidates.push((score, l, r, left, right));
                    }
                }
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let merges: Vec<Json> = candidates
        .iter()
        .map(|(_, _, _, left, right)| json!([left, right]))
        .collect();
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"});
    let normalizer = if add_space_prefix {
        json!({"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u{2581}"}, replace]})
    } else {
        replace
    };
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": unk,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": merges,
        },
    });
    Ok(tokenizer.to_string())
}

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
    match model {
        "gpt2" => {}
        "llama" => return sentencepiece_json(metadata),
        other => {
            return Err(TokenizerError::Unexpected {
                key: "tokenizer.ggml.model",
                message: format!(
                    "`{other}`: LocalGPT rebuilds byte-level BPE (`gpt2`) and SentencePiece (`llama`) tokenizers"
                ),
            });
        }
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

    fn sentencepiece(add_space_prefix: bool) -> tokenizers::Tokenizer {
        let mut tokens = vec!["<unk>", "\u{2581}", "h", "i", "\u{2581}h", "\u{2581}hi"];
        let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
        tokens.extend(bytes.iter().map(String::as_str));
        let types: Vec<Value> = tokens
            .iter()
            .enumerate()
            .map(|(id, _)| {
                Value::I32(if id == 0 {
                    2
                } else if id > 5 {
                    6
                } else {
                    1
                })
            })
            .collect();
        let metadata: HashMap<String, Value> = [
            ("tokenizer.ggml.model", Value::String("llama".into())),
            (
                "tokenizer.ggml.tokens",
                Value::Array(
                    tokens
                        .iter()
                        .map(|t| Value::String(t.to_string()))
                        .collect(),
                ),
            ),
            ("tokenizer.ggml.token_type", Value::Array(types)),
            (
                "tokenizer.ggml.scores",
                Value::Array(
                    (0..tokens.len())
                        .map(|id| Value::F32(-(id as f32)))
                        .collect(),
                ),
            ),
            (
                "tokenizer.ggml.add_space_prefix",
                Value::Bool(add_space_prefix),
            ),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
        tokenizers::Tokenizer::from_bytes(tokenizer_json(&metadata).unwrap().as_bytes()).unwrap()
    }

    #[test]
    fn sentencepiece_vocabularies_merge_by_score_and_fall_back_to_bytes() {
        let prefixed = sentencepiece(true);
        let pieces = prefixed.encode("hi", false).unwrap();
        assert_eq!(pieces.get_tokens(), ["\u{2581}hi"]);
        let plain = sentencepiece(false);
        assert_eq!(plain.encode("hi", false).unwrap().get_tokens(), ["h", "i"]);
        // "é" is not a piece: its two UTF-8 bytes stand in, and decode back to it.
        let accented = plain.encode("hé", false).unwrap();
        assert_eq!(accented.get_tokens(), ["h", "<0xC3>", "<0xA9>"]);
        assert_eq!(plain.decode(accented.get_ids(), false).unwrap(), "hé");
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
