//! Our own forward pass on the mapped file, with no tensor allocated per operation, for
//! the families people run locally ([`family`]: Llama 3.x, SmolLM2, Mistral, Qwen 2/2.5
//! and 3, Gemma 3, Phi-3): for models whose matrices are all Q8_0 — what installing
//! converts the built-in model to — and for the block formats people download (the
//! Q4_K_M and Q5_K_M mixes, Q4_0), read in place. candle's quantized models, which the
//! engine runs for every other model, spend half a token's time outside the matrix
//! products and read a prompt one token row at a time; this one reads a prompt with int8
//! products on weight tiles packed for VNNI (gemm on floats on CPUs without it) and keeps
//! a key/value cache that can be cut back to any length, so a conversation that changed
//! near its end is not read again from the start.
//!
//! - [`family`]: what the families differ in.
//! - [`layer`] and [`tensors`]: a layer's weights, read from the file by name.
//! - [`matrix`]: a weight matrix, Q8_0 ([`q8`]) or of any block format ([`blocks`]).
//! - [`q8`]: the Q8_0 matrices, and dot products on quantized tokens.
//! - [`blocks`]: matrices of the downloaded block formats, with candle's dot products.
//! - [`products`]: a layer's products, shared over threads.
//! - [`tiles`]: int8 products of a prompt with weight tiles packed for VNNI.
//! - [`attention`]: rotary positions and attention over the key/value cache.

mod attention;
mod blocks;
mod family;
mod layer;
mod matrix;
mod products;
mod q4k;
mod q6k;
mod q8;
mod tensors;
mod tiles;
mod wide;

use std::fs::File;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, gguf_file};
use memmap2::Mmap;

use crate::denormals::DenormalsFlushed;
use crate::kernels::{gelu_times, rms_norm, silu_times};
use family::Family;
use layer::Layer;
use matrix::Matrix;
use products::Products;
use tensors::Tensors;

pub(super) use family::reads;

/// The shape of the model, from the file's metadata.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub(super) width: usize,
    pub(super) heads: usize,
    pub(super) kv_heads: usize,
    pub(super) head_width: usize,
    pub(super) vocabulary: usize,
    pub(super) eps: f32,
    /// Rotation by halves (all but Llama), not by interleaved pairs.
    pub(super) rotate_halves: bool,
    /// What a query·key product is multiplied by: 1/√(head width), but for Gemma 3 27B.
    pub(super) attention_scale: f32,
    /// What the embeddings are multiplied by (Gemma's √width; 1 for the others).
    pub(super) embedding_scale: f32,
    /// GELU gating (Gemma), not SiLU.
    pub(super) gelu: bool,
}

impl Shape {
    fn kv_width(&self) -> usize {
        self.kv_heads * self.head_width
    }

    /// All query heads side by side: the model's width, except where heads are wider.
    pub(super) fn query_width(&self) -> usize {
        self.heads * self.head_width
    }
}

/// Working buffers, kept between calls.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    normed: Vec<f32>,
    query: Vec<f32>,
    key: Vec<f32>,
    value: Vec<f32>,
    attended: Vec<f32>,
    projected: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    rotation: Vec<f32>,
    /// The rotations of Gemma 3's local layers.
    local_rotation: Vec<f32>,
    /// Query or key heads normalised (Qwen 3, Gemma 3); an output normalised (Gemma 3).
    normalised: Vec<f32>,
}

pub(super) struct Llama {
    shape: Shape,
    embeddings: Matrix,
    output: Matrix,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    /// 1 / base^(2i / head width), for the rotary position embedding.
    frequencies: Vec<f32>,
    /// Those of Gemma 3's local layers, which have a base of their own.
    local_frequencies: Option<Vec<f32>>,
    /// Positions whose keys and values are cached.
    cached: usize,
    products: Products,
    scratch: Scratch,
}

impl Llama {
    /// The model in `content`, when it is one this forward pass runs ([`reads`]);
    /// `Ok(None)` leaves it to candle.
    pub(super) fn load(
        content: &gguf_file::Content,
        file: &File,
        threads: usize,
    ) -> Result<Option<Llama>, String> {
        let arch = crate::chat::gguf::architecture(content);
        let metadata = |key: &str| content.metadata.get(&format!("{arch}.{key}"));
        let number = |key: &str| {
            metadata(key)
                .and_then(|value| value.to_u32().ok())
                .map(|value| value as usize)
                .ok_or_else(|| format!("the file has no {arch}.{key}"))
        };
        let Some(family) = Family::of(&arch).filter(|_| reads(content)) else {
            return Ok(None);
        };
        let all_q8 = family::matrices(content).all(|(_, info)| info.ggml_dtype == GgmlDType::Q8_0);
        let heads = number("attention.head_count")?;
        let width = number("embedding_length")?;
        let kv_heads = number("attention.head_count_kv").unwrap_or(heads);
        let declared_head = number("attention.key_length").ok();
        if heads == 0
            || kv_heads == 0
            || heads % kv_heads != 0
            || (declared_head.is_none() && width % heads != 0)
        {
            return Err(format!(
                "{heads} heads of {kv_heads} key/value heads do not divide a width of {width}"
            ));
        }
        let head_width = declared_head.unwrap_or(width / heads);
        if head_width % 2 != 0 {
            return Err(format!(
                "heads of {head_width} values cannot be rotated in pairs"
            ));
        }
        let eps = metadata("attention.layer_norm_rms_epsilon")
            .and_then(|value| value.to_f32().ok())
            .ok_or_else(|| format!("the file has no {arch}.attention.layer_norm_rms_epsilon"))?;
        let base = metadata("rope.freq_base")
            .and_then(|value| value.to_f32().ok())
            .unwrap_or(10_000.0);
        let block_count = number("block_count")?;
        let gemma = family == Family::Gemma3;
        let window = if gemma {
            Some(number("attention.sliding_window")?.max(1))
        } else {
            None
        };

        // SAFETY: the file is the installed model, which LocalGPT writes once and
        // replaces by renaming, never in place; a mapping sees its first contents.
        let map = Arc::new(unsafe { Mmap::map(file) }.map_err(|err| format!("mapping: {err}"))?);
        let tensors = Tensors {
            content,
            map: &map,
            all_q8,
        };
        let embeddings = tensors.matrix("token_embd.weight")?;
        let output = if tensors.has("output.weight") {
            tensors.matrix("output.weight")?
        } else {
            tensors.matrix("token_embd.weight")?
        };
        let scaled_by = if gemma && block_count == family::GEMMA3_27B_LAYERS {
            width / heads
        } else {
            head_width
        };
        let shape = Shape {
            width,
            heads,
            kv_heads,
            head_width,
            vocabulary: output.rows(),
            eps,
            rotate_halves: family.rotates_halves(),
            attention_scale: 1.0 / (scaled_by as f32).sqrt(),
            embedding_scale: if gemma { (width as f32).sqrt() } else { 1.0 },
            gelu: gemma,
        };
        if embeddings.columns() != width || output.columns() != width {
            return Err(format!(
                "the embeddings are {} wide, the model {width}",
                embeddings.columns()
            ));
        }
        let layers = (0..block_count)
            .map(|i| {
                let local = gemma && i % family::GEMMA3_PATTERN < family::GEMMA3_PATTERN - 1;
                Layer::load(&tensors, i, &shape, window.filter(|_| local))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // As candle computes them, so both give the same rotations; Llama 3.1 and 3.2
        // files stretch the slow ones for long contexts by the factors they carry
        // (`rope_freqs`, which llama.cpp divides by and candle ignores); linear scaling
        // (Gemma 3's global layers) divides them all.
        let frequencies_from = |base: f32| -> Vec<f32> {
            (0..head_width)
                .step_by(2)
                .map(|i| 1.0 / base.powf(i as f32 / head_width as f32))
                .collect()
        };
        let linear = family::linear_rope_factor(content)?;
        let mut frequencies: Vec<f32> = frequencies_from(base)
            .into_iter()
            .map(|frequency| frequency / linear)
            .collect();
        if tensors.has("rope_freqs.weight") {
            let factors = tensors.vector("rope_freqs.weight", head_width / 2)?;
            for (frequency, factor) in frequencies.iter_mut().zip(factors) {
                if factor > 0.0 {
                    *frequency /= factor;
                }
            }
        }
        Ok(Some(Llama {
            shape,
            embeddings,
            output,
            output_norm: tensors.vector("output_norm.weight", width)?,
            layers,
            frequencies,
            local_frequencies: gemma.then(|| frequencies_from(family::GEMMA3_LOCAL_BASE)),
            cached: 0,
            products: Products::new(threads),
            scratch: Scratch::default(),
        }))
    }

    /// Forgets cached positions from `length` on.
    pub(super) fn truncate(&mut self, length: usize) {
        self.cached = self.cached.min(length);
        let kv = self.cached * self.shape.kv_width();
        for layer in &mut self.layers {
            layer.keys.truncate(kv);
            layer.values.truncate(kv);
        }
    }

    /// Runs `tokens` at `position`, right after the cached ones, caching them, and returns the
    /// logits for the token after the last.
    pub(super) fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Vec<f32>, String> {
        // On one of the pool's threads, so that thread takes a share of each product
        // itself and the others join it, rather than the caller waiting beside them all.
        // The pool's threads flush denormals from their start; the caller's thread only
        // while it runs the model.
        match self.products.pool.clone() {
            Some(pool) => pool.install(|| self.run(tokens, position)),
            None => {
                let _flushed = DenormalsFlushed::new();
                self.run(tokens, position)
            }
        }
    }

    fn run(&mut self, tokens: &[u32], position: usize) -> Result<Vec<f32>, String> {
        let shape = self.shape;
        let (n, width) = (tokens.len(), shape.width);
        if n == 0 {
            return Err("no tokens to run".to_string());
        }
        if position != self.cached {
            return Err(format!(
                "tokens fed at position {position}, but {} positions are cached",
                self.cached
            ));
        }
        if let Some(token) = tokens
            .iter()
            .find(|&&t| t as usize >= self.embeddings.rows())
        {
            return Err(format!(
                "token {token} is outside the model's vocabulary of {}",
                self.embeddings.rows()
            ));
        }
        let s = &mut self.scratch;
        s.x.resize(n * width, 0.0);
        for (row, &token) in s.x.chunks_exact_mut(width).zip(tokens) {
            let token = token as usize;
            self.embeddings.dequantize(token..token + 1, row);
        }
        if shape.embedding_scale != 1.0 {
            s.x.iter_mut().for_each(|x| *x *= shape.embedding_scale);
        }
        attention::rotations(&self.frequencies, self.cached, n, &mut s.rotation);
        if let Some(local) = &self.local_frequencies {
            attention::rotations(local, self.cached, n, &mut s.local_rotation);
        }
        let kv_width = shape.kv_width();
        for layer in &mut self.layers {
            s.normed.resize(n * width, 0.0);
            rms_norm(&s.x, &layer.attention_norm, shape.eps, &mut s.normed);
            let query_width = shape.query_width();
            s.query.resize(n * query_width, 0.0);
            s.key.resize(n * kv_width, 0.0);
            s.value.resize(n * kv_width, 0.0);
            self.products.apply(
                &s.normed,
                n,
                &mut [
                    (&layer.query, &mut s.query),
                    (&layer.key, &mut s.key),
                    (&layer.value, &mut s.value),
                ],
            );
            if let Some([query_bias, key_bias, value_bias]) = &layer.biases {
                add_to_rows(&mut s.query, query_bias);
                add_to_rows(&mut s.key, key_bias);
                add_to_rows(&mut s.value, value_bias);
            }
            if let Some([query_gain, key_gain]) = &layer.head_norms {
                // A row per head: the norm's rows are as wide as its gains.
                for (values, gain) in [(&mut s.query, query_gain), (&mut s.key, key_gain)] {
                    s.normalised.resize(values.len(), 0.0);
                    rms_norm(values, gain, shape.eps, &mut s.normalised);
                    std::mem::swap(values, &mut s.normalised);
                }
            }
            let halves = shape.rotate_halves;
            let rotation = match layer.window {
                Some(_) if self.local_frequencies.is_some() => &s.local_rotation,
                _ => &s.rotation,
            };
            attention::rotate(&mut s.query, rotation, shape.head_width, halves);
            attention::rotate(&mut s.key, rotation, shape.head_width, halves);
            layer.keys.extend_from_slice(&s.key);
            layer.values.extend_from_slice(&s.value);
            s.attended.resize(n * query_width, 0.0);
            attention::attend(
                &shape,
                &s.query,
                (&layer.keys, &layer.values),
                n,
                layer.window,
                &mut s.scores,
                &mut s.attended,
            );
            s.projected.resize(n * width, 0.0);
            self.products
                .apply(&s.attended, n, &mut [(&layer.output, &mut s.projected)]);
            let post_norms = layer.post_norms.as_ref();
            add_normalised(
                &mut s.x,
                &s.projected,
                post_norms.map(|[a, _]| a),
                shape.eps,
                &mut s.normalised,
            );

            rms_norm(&s.x, &layer.feed_forward_norm, shape.eps, &mut s.normed);
            let hidden = layer.gate.rows();
            s.gate.resize(n * hidden, 0.0);
            s.up.resize(n * hidden, 0.0);
            self.products.apply(
                &s.normed,
                n,
                &mut [(&layer.gate, &mut s.gate), (&layer.up, &mut s.up)],
            );
            if shape.gelu {
                gelu_times(&mut s.gate, &s.up);
            } else {
                silu_times(&mut s.gate, &s.up);
            }
            self.products
                .apply(&s.gate, n, &mut [(&layer.down, &mut s.projected)]);
            add_normalised(
                &mut s.x,
                &s.projected,
                post_norms.map(|[_, f]| f),
                shape.eps,
                &mut s.normalised,
            );
        }
        self.cached += n;
        // Only the last position's logits are wanted.
        let last = &s.x[(n - 1) * width..];
        s.normed.resize(width, 0.0);
        rms_norm(last, &self.output_norm, shape.eps, &mut s.normed);
        let mut logits = vec![0.0f32; shape.vocabulary];
        self.products
            .apply(&s.normed[..width], 1, &mut [(&self.output, &mut logits)]);
        Ok(logits)
    }
}

/// Adds `output` to the residual stream `x`, RMS-normalised by `gain` first when there is
/// one (Gemma 3's post-norms), through `scratch`.
fn add_normalised(
    x: &mut [f32],
    output: &[f32],
    gain: Option<&Vec<f32>>,
    eps: f32,
    scratch: &mut Vec<f32>,
) {
    match gain {
        Some(gain) => {
            scratch.resize(output.len(), 0.0);
            rms_norm(output, gain, eps, scratch);
            add(x, scratch);
        }
        None => add(x, output),
    }
}

/// Adds `bias` to each of `rows`' rows.
fn add_to_rows(rows: &mut [f32], bias: &[f32]) {
    for row in rows.chunks_exact_mut(bias.len()) {
        add(row, bias);
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    for (x, y) in x.iter_mut().zip(y) {
        *x += y;
    }
}

#[cfg(test)]
mod tests;
