//! A chat model's weights, by architecture — our own forward pass where it reads the
//! model ([`super::llama`]), candle's quantized models otherwise — and what the file's
//! header says of it: architecture, context, tools, size.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::gguf::architecture;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::MAX_SEQ_LEN;
use candle_transformers::models::{
    quantized_gemma3, quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3,
};

/// The longest conversation a Llama-architecture model takes: candle's rotary table ends
/// here (SmolLM2's own is 8,192).
pub const CONTEXT_TOKENS: usize = MAX_SEQ_LEN;

/// The architectures the engine runs (`general.architecture`), on our own forward pass
/// where it reads the file, else on candle's quantized models: Llama (Llama 3.x, SmolLM2,
/// Mistral), Qwen 2/2.5/3, Gemma 3 and Phi-3.
pub const ARCHITECTURES: [&str; 5] = ["llama", "qwen2", "qwen3", "gemma3", "phi3"];

/// The model's weights, by architecture.
pub(super) enum Weights {
    /// A model our own forward pass reads (any of the architectures, in the built-in
    /// model's Q8_0 or the K-quant mixes people download), with no cap on its context but
    /// its own.
    OwnLlama(Box<super::llama::Llama>),
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
}

impl Weights {
    /// The logits after `tokens`, fed at `position` (the cache's length).
    pub(super) fn forward(
        &mut self,
        tokens: &[u32],
        position: usize,
        device: &Device,
    ) -> Result<Tensor, String> {
        let input = || {
            Tensor::new(tokens, device)
                .and_then(|input| input.unsqueeze(0))
                .map_err(|err| err.to_string())
        };
        let logits = match self {
            Weights::OwnLlama(model) => {
                let logits = model.forward(tokens, position)?;
                let count = logits.len();
                return Tensor::from_vec(logits, count, device).map_err(|err| err.to_string());
            }
            Weights::Llama(model) => model.forward(&input()?, position),
            Weights::Qwen2(model) => model.forward(&input()?, position),
            Weights::Qwen3(model) => model.forward(&input()?, position),
            Weights::Gemma3(model) => model.forward(&input()?, position),
            Weights::Phi3(model) => model.forward(&input()?, position),
        };
        logits
            .and_then(|logits| logits.squeeze(0))
            .map_err(|err| err.to_string())
    }

    /// Whether the cache can be cut back to any length (else only emptied).
    pub(super) fn cuts_cache(&self) -> bool {
        matches!(self, Weights::OwnLlama(_))
    }

    /// Keeps the first `length` cached positions: all of them, or none where the cache
    /// cannot be cut.
    pub(super) fn truncate_cache(&mut self, length: usize) {
        match self {
            Weights::OwnLlama(model) => model.truncate(length),
            Weights::Llama(model) => model.clear_kv_cache(),
            Weights::Qwen2(model) => model.clear_kv_cache(),
            Weights::Qwen3(model) => model.clear_kv_cache(),
            // These two start their caches afresh whenever a sequence starts at position
            // 0, which is where the engine feeds from after clearing.
            Weights::Gemma3(_) | Weights::Phi3(_) => {}
        }
    }
}

/// The model in `content`, on our own forward pass where it reads the model, else on
/// candle's, its products on `threads` threads.
pub(super) fn load_weights(
    content: gguf_file::Content,
    reader: &mut BufReader<File>,
    threads: usize,
) -> Result<Weights, String> {
    let device = Device::Cpu;
    if let Some(model) = super::llama::Llama::load(&content, reader.get_ref(), threads)? {
        return Ok(Weights::OwnLlama(Box::new(model)));
    }
    let loaded =
        match architecture(&content).as_str() {
            "llama" => quantized_llama::ModelWeights::from_gguf(content, reader, &device)
                .map(Weights::Llama),
            "qwen2" => quantized_qwen2::ModelWeights::from_gguf(content, reader, &device)
                .map(Weights::Qwen2),
            "qwen3" => quantized_qwen3::ModelWeights::from_gguf(content, reader, &device)
                .map(Weights::Qwen3),
            "gemma3" => quantized_gemma3::ModelWeights::from_gguf(content, reader, &device)
                .map(Weights::Gemma3),
            // candle's flash attention is for CUDA; this runs on the CPU.
            "phi3" => quantized_phi3::ModelWeights::from_gguf(false, content, reader, &device)
                .map(Weights::Phi3),
            other => {
                return Err(format!(
                    "its architecture is `{other}`; LocalGPT runs {}",
                    ARCHITECTURES.join(", ")
                ));
            }
        };
    loaded.map_err(|err| err.to_string())
}

/// The longest conversation the model in `content` takes: what it was trained on, and
/// for a Llama that candle runs no more than candle's rotary table covers.
pub(super) fn context_length(content: &gguf_file::Content) -> usize {
    let trained = trained_context(content);
    if architecture(content) == "llama" && !super::llama::reads(content) {
        trained.min(CONTEXT_TOKENS)
    } else {
        trained
    }
}

/// The context the model in `content` was trained for.
fn trained_context(content: &gguf_file::Content) -> usize {
    let arch = architecture(content);
    content
        .metadata
        .get(&format!("{arch}.context_length"))
        .and_then(|value| value.to_u32().ok())
        .map_or(CONTEXT_TOKENS, |length| length as usize)
}

/// What a model's file header declares.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// The longest conversation it takes, in tokens.
    pub context: usize,
    /// Whether its chat template writes tool definitions.
    pub takes_tools: bool,
    /// How many weights it has.
    pub parameters: u64,
}

/// Models this big take tools in LocalGPT's own call format when their template has
/// none; smaller ones (the built-in 135M) call tools at random, so they are offered none
/// unless a request demands a call.
pub const FALLBACK_TOOLS_FROM_PARAMETERS: u64 = 1_000_000_000;

impl Header {
    /// Whether tools are offered to the model (through its template, or the fallback).
    pub fn offers_tools(&self) -> bool {
        self.takes_tools || self.parameters >= FALLBACK_TOOLS_FROM_PARAMETERS
    }
}

/// What the installed model in `dir` declares in its file's header.
pub fn header_of(dir: &Path) -> Option<Header> {
    let mut reader = BufReader::new(File::open(dir.join("model.gguf")).ok()?);
    let content = super::gguf::read_content(&mut reader).ok()?;
    let takes_tools = content
        .metadata
        .get("tokenizer.chat_template")
        .and_then(|value| value.to_string().ok())
        .is_some_and(|template| template.contains("tools"));
    let parameters = content
        .tensor_infos
        .values()
        .map(|info| info.shape.elem_count() as u64)
        .sum();
    Some(Header {
        context: context_length(&content),
        takes_tools,
        parameters,
    })
}
