//! How fast a GGUF model runs here, measured as llama-bench measures it: a prompt of P
//! tokens read in one go, then G tokens generated one at a time (the end of text not
//! honoured), after a warm-up; the median of a few repetitions. Token ids only, so any
//! GGUF file can be measured, installed or not, tokenizer or not.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use candle_core::quantized::{GgmlDType, gguf_file};

use super::engine::EngineError;
use super::gguf::architecture;
use super::weights::{context_length, load_weights};

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchSettings {
    pub threads: usize,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub repetitions: usize,
}

/// What was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub architecture: String,
    /// The file's quantization ("Q4_K_M"), or its matrices' most common format.
    pub quantization: String,
    /// `localgpt` where our own forward pass runs the model, `candle` otherwise.
    pub forward_pass: &'static str,
    pub threads: usize,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub prompt_tokens_per_s: f64,
    pub gen_tokens_per_s: f64,
    pub load_seconds: f64,
}

/// Measures the model in the GGUF file at `path`.
pub fn bench(path: &Path, settings: BenchSettings) -> Result<BenchReport, EngineError> {
    let fail = |message: String| EngineError::Load {
        path: path.to_path_buf(),
        message,
    };
    let started = Instant::now();
    let file = File::open(path).map_err(|err| fail(err.to_string()))?;
    let mut reader = BufReader::new(file);
    let content = super::gguf::read_content(&mut reader).map_err(|err| fail(err.to_string()))?;
    let context = context_length(&content);
    let vocabulary = vocabulary(&content);
    let architecture = architecture(&content);
    let quantization = quantization(&content);
    let mut model = load_weights(content, &mut reader, settings.threads.max(1)).map_err(fail)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let (prompt, generated) = (settings.prompt_tokens.max(1), settings.gen_tokens);
    if prompt + generated > context {
        return Err(EngineError::TooLong {
            tokens: prompt + generated,
            limit: context,
        });
    }
    // Spread over the vocabulary, away from the special tokens at its ends.
    let tokens: Vec<u32> = (0..prompt)
        .map(|i| (100 + (i * 7919) % vocabulary.saturating_sub(200).max(1)) as u32)
        .collect();
    let device = Device::Cpu;
    let mut once = |prompt: &[u32], generated: usize| -> Result<(f64, f64), EngineError> {
        model.truncate_cache(0);
        let read = Instant::now();
        let logits = model
            .forward(prompt, 0, &device)
            .map_err(EngineError::Run)?;
        let read = read.elapsed().as_secs_f64();
        let mut next = most_likely(&logits)?;
        let generation = Instant::now();
        for i in 0..generated {
            let logits = model
                .forward(&[next], prompt.len() + i, &device)
                .map_err(EngineError::Run)?;
            next = most_likely(&logits)?;
        }
        Ok((read, generation.elapsed().as_secs_f64()))
    };
    once(&tokens[..tokens.len().min(16)], generated.min(4))?;
    let mut runs = Vec::with_capacity(settings.repetitions.max(1));
    for _ in 0..settings.repetitions.max(1) {
        runs.push(once(&tokens, generated)?);
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let read = median(runs.iter().map(|run| run.0).collect());
    let generation = median(runs.iter().map(|run| run.1).collect());
    Ok(BenchReport {
        architecture,
        quantization,
        forward_pass: if model.cuts_cache() {
            "localgpt"
        } else {
            "candle"
        },
        threads: settings.threads,
        prompt_tokens: prompt,
        gen_tokens: generated,
        prompt_tokens_per_s: prompt as f64 / read.max(1e-9),
        gen_tokens_per_s: if generated == 0 {
            0.0
        } else {
            generated as f64 / generation.max(1e-9)
        },
        load_seconds,
    })
}

fn most_likely(logits: &candle_core::Tensor) -> Result<u32, EngineError> {
    let values: Vec<f32> = logits
        .flatten_all()
        .and_then(|logits| logits.to_vec1())
        .map_err(|err| EngineError::Run(err.to_string()))?;
    Ok(values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(id, _)| id as u32))
}

/// The number of tokens the model knows: its tokenizer's, else its output matrix's rows.
fn vocabulary(content: &gguf_file::Content) -> usize {
    if let Some(gguf_file::Value::Array(tokens)) = content.metadata.get("tokenizer.ggml.tokens") {
        return tokens.len();
    }
    ["output.weight", "token_embd.weight"]
        .iter()
        .find_map(|name| content.tensor_infos.get(*name))
        .and_then(|info| info.shape.dims().first().copied())
        .unwrap_or(256)
}

/// The quantization the file says it has (`general.file_type`, as llama.cpp numbers
/// them), else the format most of its matrices' bytes are in.
fn quantization(content: &gguf_file::Content) -> String {
    let named = content
        .metadata
        .get("general.file_type")
        .and_then(|value| value.to_u32().ok())
        .and_then(|kind| {
            Some(match kind {
                0 => "F32",
                1 => "F16",
                2 => "Q4_0",
                3 => "Q4_1",
                7 => "Q8_0",
                8 => "Q5_0",
                9 => "Q5_1",
                10 => "Q2_K",
                11 => "Q3_K_S",
                12 => "Q3_K_M",
                13 => "Q3_K_L",
                14 => "Q4_K_S",
                15 => "Q4_K_M",
                16 => "Q5_K_S",
                17 => "Q5_K_M",
                18 => "Q6_K",
                32 => "BF16",
                _ => return None,
            })
        });
    if let Some(named) = named {
        return named.to_string();
    }
    let mut bytes: Vec<(GgmlDType, usize)> = Vec::new();
    for info in content.tensor_infos.values() {
        let size =
            info.shape.elem_count() * info.ggml_dtype.type_size() / info.ggml_dtype.block_size();
        match bytes
            .iter_mut()
            .find(|(dtype, _)| *dtype == info.ggml_dtype)
        {
            Some((_, total)) => *total += size,
            None => bytes.push((info.ggml_dtype, size)),
        }
    }
    bytes
        .iter()
        .max_by_key(|(_, size)| *size)
        .map_or_else(|| "unknown".to_string(), |(dtype, _)| format!("{dtype:?}"))
}
