//! The generation loop of the built-in chat model: candle's quantized Llama over a
//! converted GGUF, the tokenizer rebuilt at install time, the file's own chat template
//! (see [`super::template`]), temperature/top-p
//! sampling with a repeat penalty. The key/value cache of the previous answer is kept,
//! so a follow-up turn only feeds what is new when the conversation merely grew.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tokenizers::Tokenizer;

pub use super::gguf::architecture;
pub use super::weights::{
    ARCHITECTURES, CONTEXT_TOKENS, FALLBACK_TOOLS_FROM_PARAMETERS, Header, header_of,
};
use super::weights::{Weights, context_length, load_weights};

use super::grammar::CallFormat;
use super::guide::ToolGuide;
use super::template::{CHATML, ChatTemplate, Piece, TemplateMessage};

/// The threads the chat model runs on: `CANDLE_NUM_THREADS` (which `main` sets per
/// command), else every core.
fn chat_threads() -> usize {
    std::env::var("CANDLE_NUM_THREADS")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|&threads| threads > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Tokens that end a turn in the families people run (ChatML, Llama 3, Gemma, Phi-3),
/// besides the model's own end-of-sequence token.
const END_OF_TURN: [&str; 6] = [
    "<|im_end|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|endoftext|>",
    "<end_of_turn>",
    "<|end|>",
];

/// Repeat penalty looks this far back, as llama.cpp's default does.
const REPEAT_WINDOW: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the chat model is not installed ({0} is missing); see `localgpt models install`")]
    NotInstalled(PathBuf),
    #[error("cannot load the chat model from {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("the conversation is {tokens} tokens; the built-in model takes at most {limit}")]
    TooLong { tokens: usize, limit: usize },
    #[error("generation failed: {0}")]
    Run(String),
}

fn run_error(err: impl std::fmt::Display) -> EngineError {
    EngineError::Run(err.to_string())
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    /// 0 picks the most likely token every time.
    pub temperature: f64,
    pub top_p: f64,
    /// Above 1 makes repeating a recent token less likely.
    pub repeat_penalty: f32,
    pub seed: u64,
}

impl Sampler {
    /// SmolLM2's recommended settings (temperature 0.2, top-p 0.9).
    pub fn recommended(seed: u64) -> Sampler {
        Sampler {
            temperature: 0.2,
            top_p: 0.9,
            repeat_penalty: 1.1,
            seed,
        }
    }

    fn processor(&self) -> LogitsProcessor {
        let sampling = if self.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::TopP {
                p: self.top_p,
                temperature: self.temperature,
            }
        };
        LogitsProcessor::from_sampling(self.seed, sampling)
    }
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub prompt_tokens: usize,
    pub output_tokens: usize,
    /// False when the token limit, not the model, ended it.
    pub finished: bool,
    /// Prompt tokens that were already in the cache and were not fed again.
    pub reused_tokens: usize,
}

/// One turn of a conversation, as the chat template renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

pub struct Engine {
    model: Weights,
    /// The longest conversation it takes, in tokens.
    context: usize,
    tokenizer: Tokenizer,
    device: Device,
    /// The model file's own chat template, and the special tokens it may write.
    template: ChatTemplate,
    specials: Vec<String>,
    stops: Vec<u32>,
    /// The tokens whose keys and values are in the model's cache, in order.
    cached: Vec<u32>,
    /// Each token's text, for guided decoding (made on first use): `None` for special
    /// tokens and pieces of a character.
    token_texts: Option<Arc<Vec<Option<String>>>>,
}

impl Engine {
    pub fn load(dir: &Path) -> Result<Engine, EngineError> {
        let model_path = dir.join("model.gguf");
        let tokenizer_path = dir.join("tokenizer.json");
        for path in [&model_path, &tokenizer_path] {
            if !path.is_file() {
                return Err(EngineError::NotInstalled(path.clone()));
            }
        }
        let fail = |message: String| EngineError::Load {
            path: dir.to_path_buf(),
            message,
        };
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|err| fail(format!("tokenizer.json: {err}")))?;
        // Text from people and files is text: a "<|im_end|>" typed into a message must
        // not end the turn.
        tokenizer.set_encode_special_tokens(true);
        let specials: Vec<String> = tokenizer
            .get_added_tokens_decoder()
            .values()
            .filter(|token| token.special)
            .map(|token| token.content.clone())
            .collect();

        let device = Device::Cpu;
        let file = File::open(&model_path).map_err(|err| fail(format!("model.gguf: {err}")))?;
        let mut reader = BufReader::new(file);
        let content = super::gguf::read_content(&mut reader)
            .map_err(|err| fail(format!("model.gguf: {err}")))?;
        let token_of = |key: &str| {
            content
                .metadata
                .get(key)
                .and_then(|value| value.to_u32().ok())
                .and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let (bos, eos) = (
            token_of("tokenizer.ggml.bos_token_id"),
            token_of("tokenizer.ggml.eos_token_id"),
        );
        let source = content
            .metadata
            .get("tokenizer.chat_template")
            .and_then(|value| value.to_string().ok())
            .map_or(CHATML, String::as_str);
        let template = ChatTemplate::new(source, &bos, &eos).map_err(fail)?;
        // The end of a turn, whichever of the usual names this model gives it.
        let stops: Vec<u32> = std::iter::once(eos.as_str())
            .chain(END_OF_TURN)
            .filter_map(|token| tokenizer.token_to_id(token))
            .collect();
        let context = context_length(&content);
        let model = load_weights(content, &mut reader, chat_threads())
            .map_err(|err| fail(format!("model.gguf: {err}")))?;

        Ok(Engine {
            model,
            context,
            tokenizer,
            device,
            template,
            specials,
            stops,
            cached: Vec::new(),
            token_texts: None,
        })
    }

    /// Forgets the cached conversation, so the next prompt is read from its start.
    pub fn clear_cache(&mut self) {
        self.model.truncate_cache(0);
        self.cached.clear();
    }

    /// The longest conversation the model takes, in tokens.
    pub fn context(&self) -> usize {
        self.context
    }

    /// Token ids of plain text (special tokens in it are text too).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(run_error)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.tokenizer.decode(ids, true).map_err(run_error)
    }

    /// The prompt as the model's own chat template writes it, ending where the assistant
    /// speaks: the template's special tokens as such, the messages' text as text.
    pub fn chat_prompt(&self, turns: &[Turn<'_>]) -> Result<Vec<u32>, EngineError> {
        let messages: Vec<TemplateMessage<'_>> = turns
            .iter()
            .map(|turn| TemplateMessage {
                role: turn.role,
                content: turn.content,
                ..TemplateMessage::default()
            })
            .collect();
        self.prompt_with_tools(&messages, None)
    }

    /// Whether tools can be offered to this model (its template writes them out).
    pub fn takes_tools(&self) -> bool {
        self.template.takes_tools()
    }

    /// The prompt for messages that may carry tool traffic, with the `tools` offered.
    pub fn prompt_with_tools(
        &self,
        messages: &[TemplateMessage<'_>],
        tools: Option<&serde_json::Value>,
    ) -> Result<Vec<u32>, EngineError> {
        let pieces = self
            .template
            .render_messages(messages, tools, &self.specials)
            .map_err(EngineError::Run)?;
        let mut ids = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Special(token) => ids.extend(self.tokenizer.token_to_id(&token)),
                Piece::Text(text) => ids.extend(self.encode(&text)?),
            }
        }
        Ok(ids)
    }

    /// Generates an answer to `prompt`, handing text to `on_text` as it forms (never
    /// half a character). `on_text` returning false stops generation.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        max_new_tokens: usize,
        sampler: Sampler,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Outcome, EngineError> {
        self.generate_guided(prompt, max_new_tokens, sampler, None, on_text)
    }

    /// How this model's template writes tool calls, for [`ToolGuide`]: Qwen's and
    /// Hermes' tags, Llama 3's JSON, or — for a template with no tool format — the tags,
    /// which the caller then explains in the system prompt.
    pub fn call_format(&self) -> CallFormat {
        if self.template.takes_tools() && !self.template.tagged_calls() {
            CallFormat::Json
        } else {
            CallFormat::Tagged
        }
    }

    /// Each token's text (made once).
    fn token_texts(&mut self) -> Arc<Vec<Option<String>>> {
        if let Some(texts) = &self.token_texts {
            return Arc::clone(texts);
        }
        let count = self.tokenizer.get_vocab_size(true);
        let texts: Vec<Option<String>> = (0..count as u32)
            .map(|id| {
                let raw = self.tokenizer.id_to_token(id)?;
                if self.specials.contains(&raw) {
                    return None;
                }
                let text = self.tokenizer.decode(&[id], false).ok()?;
                if text.contains('\u{FFFD}') {
                    return None;
                }
                // SentencePiece decoders drop the space of a sequence's first "▁word".
                if raw.starts_with('\u{2581}') && !text.starts_with(' ') {
                    return Some(format!(" {text}"));
                }
                Some(text)
            })
            .collect();
        let texts = Arc::new(texts);
        self.token_texts = Some(Arc::clone(&texts));
        texts
    }

    /// [`Engine::generate`], with tool calls held to `guide`'s grammar.
    pub fn generate_guided(
        &mut self,
        prompt: &[u32],
        max_new_tokens: usize,
        sampler: Sampler,
        guide: Option<&ToolGuide>,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Outcome, EngineError> {
        if prompt.is_empty() || prompt.len() >= self.context {
            return Err(EngineError::TooLong {
                tokens: prompt.len(),
                limit: self.context - 1,
            });
        }
        let budget = max_new_tokens.min(self.context - prompt.len());
        let reused = self.reusable_prefix(prompt);
        if reused < self.cached.len() {
            self.model.truncate_cache(reused);
            self.cached.truncate(reused);
        }
        let mut logits = self.feed(&prompt[reused..], reused)?;
        let mut processor = sampler.processor();
        let texts = match guide {
            Some(_) => self.token_texts(),
            None => Arc::new(Vec::new()),
        };
        let mut guide = guide.map(ToolGuide::start);
        let mut generated: Vec<u32> = Vec::new();
        let mut unsent_from = 0;
        let mut said_anything = false;
        let mut finished = false;
        while generated.len() < budget {
            let recent = &generated[generated.len().saturating_sub(REPEAT_WINDOW)..];
            if sampler.repeat_penalty != 1.0 && !recent.is_empty() {
                logits = candle_transformers::utils::apply_repeat_penalty(
                    &logits,
                    sampler.repeat_penalty,
                    recent,
                )
                .map_err(run_error)?;
            }
            if let Some(guide) = &guide {
                let mut values: Vec<f32> = logits
                    .flatten_all()
                    .and_then(|logits| logits.to_vec1())
                    .map_err(run_error)?;
                guide.mask(&mut values, &texts, &self.stops);
                let count = values.len();
                logits = Tensor::from_vec(values, count, &self.device).map_err(run_error)?;
            }
            let next = processor.sample(&logits).map_err(run_error)?;
            if let Some(guide) = &mut guide {
                let text = match texts.get(next as usize).and_then(Option::as_deref) {
                    Some(text) => text.to_string(),
                    None => self.decode(&[next])?,
                };
                guide.advance(&text);
            }
            if self.stops.contains(&next) {
                finished = true;
                break;
            }
            generated.push(next);
            // Byte-level tokens can end inside a character: hold them back until it ends.
            let text = self.decode(&generated[unsent_from..])?;
            if !text.ends_with('\u{FFFD}') {
                unsent_from = generated.len();
                // SentencePiece models begin their answer with the space of "▁The".
                let text = if said_anything {
                    text.as_str()
                } else {
                    text.trim_start()
                };
                if !text.is_empty() {
                    said_anything = true;
                    if !on_text(text) {
                        break;
                    }
                }
            }
            if generated.len() < budget {
                logits = self.feed(&[next], prompt.len() + generated.len() - 1)?;
            }
        }
        Ok(Outcome {
            prompt_tokens: prompt.len(),
            output_tokens: generated.len(),
            finished,
            reused_tokens: reused,
        })
    }

    /// How much of `prompt` the cache already holds. At least the last prompt token is
    /// always fed again, since its logits are what the answer starts from.
    fn reusable_prefix(&self, prompt: &[u32]) -> usize {
        let common = self
            .cached
            .iter()
            .zip(prompt)
            .take_while(|(cached, wanted)| cached == wanted)
            .count();
        if self.model.cuts_cache() {
            return common.min(prompt.len() - 1);
        }
        // candle's caches cannot be cut short, so there only a cache that is all a
        // prefix of the new prompt is reused.
        if common == self.cached.len() && common < prompt.len() {
            common
        } else {
            0
        }
    }

    /// Runs `tokens` through the model at `position`, caching them, and returns the
    /// logits for what comes next.
    fn feed(&mut self, tokens: &[u32], position: usize) -> Result<Tensor, EngineError> {
        match self.model.forward(tokens, position, &self.device) {
            Ok(logits) => {
                self.cached.extend_from_slice(tokens);
                Ok(logits)
            }
            Err(err) => {
                // Some layers may have cached these tokens already: start afresh next time.
                self.model.truncate_cache(0);
                self.cached.clear();
                Err(EngineError::Run(err))
            }
        }
    }
}
