//! The Llama forward pass (SmolLM2, Llama 3.x, Mistral; Qwen 2, 2.5 and 3, which differ
//! from it in a few places: [`FAMILIES`]) on the mapped file, with no
//! tensor allocated per operation: for models whose matrices are all Q8_0 — what
//! installing converts the built-in model to — and for the block formats people
//! download (the Q4_K_M and Q5_K_M mixes, Q4_0), read in place. candle's quantized Llama, which the engine runs for
//! every other model, spends half a token's time outside the matrix products and reads
//! a prompt one token row at a time; this one reads a prompt with int8 products on
//! weight tiles packed for VNNI (gemm on floats on CPUs without it) and keeps a
//! key/value cache that can be cut back to any length, so a conversation that changed
//! near its end is not read again from the start.
//!
//! - [`matrix`]: a weight matrix, Q8_0 ([`q8`]) or of any block format ([`blocks`]).
//! - [`q8`]: the Q8_0 matrices, and dot products on quantized tokens.
//! - [`blocks`]: matrices of the downloaded block formats, with candle's dot products.
//! - [`products`]: a layer's products, shared over threads.
//! - [`tiles`]: int8 products of a prompt with weight tiles packed for VNNI.
//! - [`attention`]: rotary positions and attention over the key/value cache.

mod attention;
mod blocks;
mod matrix;
mod products;
mod q4k;
mod q6k;
mod q8;
mod tiles;
mod wide;

use std::fs::File;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, gguf_file};
use memmap2::Mmap;

use crate::denormals::DenormalsFlushed;
use crate::kernels::{rms_norm, silu_times};
use blocks::{BlockMatrix, Format};
use matrix::Matrix;
use products::Products;
use q8::Q8Matrix;

/// The families this forward pass runs, by `general.architecture`: Llama (Llama 3.x,
/// SmolLM2, Mistral), Qwen 2/2.5 (biases on Q, K and V, rotation by halves) and Qwen 3
/// (no biases; each head's query and key RMS-normalised before rotation).
const FAMILIES: [&str; 3] = ["llama", "qwen2", "qwen3"];

/// Whether this forward pass runs the model in `content`: a dense model of one of the
/// [`FAMILIES`], heads rotated whole, every matrix in a format [`Format`] reads. Others
/// are left to candle.
pub(super) fn reads(content: &gguf_file::Content) -> bool {
    let arch = crate::chat::gguf::architecture(content);
    let number = |key: &str| {
        content
            .metadata
            .get(&format!("{arch}.{key}"))
            .and_then(|value| value.to_u32().ok())
    };
    let head_width = number("attention.key_length")
        .or_else(|| Some(number("embedding_length")? / number("attention.head_count")?.max(1)));
    let whole_heads = match (head_width, number("rope.dimension_count")) {
        (Some(head), Some(rotated)) => rotated == head,
        _ => true,
    };
    FAMILIES.contains(&arch.as_str())
        && number("attention.head_count").is_some()
        && number("expert_count").unwrap_or(0) <= 1
        && whole_heads
        && matrices(content).all(|(_, info)| Format::of(info.ggml_dtype).is_some())
}

/// The model's matrices: its two-dimensional weights.
fn matrices(
    content: &gguf_file::Content,
) -> impl Iterator<Item = (&String, &gguf_file::TensorInfo)> {
    content
        .tensor_infos
        .iter()
        .filter(|(name, info)| name.ends_with(".weight") && info.shape.rank() == 2)
}

struct Layer {
    attention_norm: Vec<f32>,
    query: Matrix,
    key: Matrix,
    value: Matrix,
    /// Qwen 2's biases of the query, key and value.
    biases: Option<[Vec<f32>; 3]>,
    /// Qwen 3's gains of each head's query and key normalisation.
    head_norms: Option<[Vec<f32>; 2]>,
    output: Matrix,
    feed_forward_norm: Vec<f32>,
    gate: Matrix,
    up: Matrix,
    down: Matrix,
    /// Keys and values of every cached position, `kv_width` values each.
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// The shape of the model, from the file's metadata.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub(super) width: usize,
    pub(super) heads: usize,
    pub(super) kv_heads: usize,
    pub(super) head_width: usize,
    pub(super) vocabulary: usize,
    pub(super) eps: f32,
    /// Rotation by halves (Qwen), not by interleaved pairs (Llama).
    pub(super) rotate_halves: bool,
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
    /// Query or key heads normalised (Qwen 3).
    heads: Vec<f32>,
}

pub(super) struct Llama {
    shape: Shape,
    embeddings: Matrix,
    output: Matrix,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    /// 1 / base^(2i / head width), for the rotary position embedding.
    frequencies: Vec<f32>,
    /// Positions whose keys and values are cached.
    cached: usize,
    products: Products,
    scratch: Scratch,
}

impl Llama {
    /// The model in `content`, when it is one this forward pass runs (a dense Llama whose
    /// matrices are all in formats [`Format`] reads); `Ok(None)` leaves it to candle.
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
        if !reads(content) {
            return Ok(None);
        }
        let all_q8 = matrices(content).all(|(_, info)| info.ggml_dtype == GgmlDType::Q8_0);
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

        // SAFETY: the file is the installed model, which LocalGPT writes once and
        // replaces by renaming, never in place; a mapping sees its first contents.
        let map = Arc::new(unsafe { Mmap::map(file) }.map_err(|err| format!("mapping: {err}"))?);
        let tensors = Tensors {
            content,
            map: &map,
            all_q8,
        };
        let embeddings = tensors.matrix("token_embd.weight")?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            tensors.matrix("output.weight")?
        } else {
            tensors.matrix("token_embd.weight")?
        };
        let shape = Shape {
            width,
            heads,
            kv_heads,
            head_width,
            vocabulary: output.rows(),
            eps,
            rotate_halves: arch != "llama",
        };
        if embeddings.columns() != width || output.columns() != width {
            return Err(format!(
                "the embeddings are {} wide, the model {width}",
                embeddings.columns()
            ));
        }
        let mut layers = Vec::with_capacity(block_count);
        for i in 0..block_count {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let (query_width, kv_width) = (shape.query_width(), shape.kv_width());
            let biases = if content
                .tensor_infos
                .contains_key(&format!("blk.{i}.attn_q.bias"))
            {
                let bias =
                    |part: &str, length| tensors.vector(&format!("blk.{i}.{part}.bias"), length);
                Some([
                    bias("attn_q", query_width)?,
                    bias("attn_k", kv_width)?,
                    bias("attn_v", kv_width)?,
                ])
            } else {
                None
            };
            let head_norms = if content
                .tensor_infos
                .contains_key(&format!("blk.{i}.attn_q_norm.weight"))
            {
                Some([
                    tensors.vector(&name("attn_q_norm"), head_width)?,
                    tensors.vector(&name("attn_k_norm"), head_width)?,
                ])
            } else {
                None
            };
            let layer = Layer {
                attention_norm: tensors.vector(&name("attn_norm"), width)?,
                query: tensors.matrix(&name("attn_q"))?,
                key: tensors.matrix(&name("attn_k"))?,
                value: tensors.matrix(&name("attn_v"))?,
                biases,
                head_norms,
                output: tensors.matrix(&name("attn_output"))?,
                feed_forward_norm: tensors.vector(&name("ffn_norm"), width)?,
                gate: tensors.matrix(&name("ffn_gate"))?,
                up: tensors.matrix(&name("ffn_up"))?,
                down: tensors.matrix(&name("ffn_down"))?,
                keys: Vec::new(),
                values: Vec::new(),
            };
            let fits = [
                (&layer.query, query_width, width),
                (&layer.key, kv_width, width),
                (&layer.value, kv_width, width),
                (&layer.output, width, query_width),
                (&layer.up, layer.gate.rows(), width),
                (&layer.down, width, layer.gate.rows()),
            ]
            .iter()
            .all(|(matrix, rows, columns)| matrix.rows() == *rows && matrix.columns() == *columns)
                && layer.gate.columns() == width;
            if !fits {
                return Err(format!("layer {i}'s matrices do not fit the model's shape"));
            }
            layers.push(layer);
        }
        // As candle computes them, so both give the same rotations; Llama 3.1 and 3.2
        // files stretch the slow ones for long contexts by the factors they carry
        // (`rope_freqs`, which llama.cpp divides by and candle ignores).
        let mut frequencies: Vec<f32> = (0..head_width)
            .step_by(2)
            .map(|i| 1.0 / base.powf(i as f32 / head_width as f32))
            .collect();
        if content.tensor_infos.contains_key("rope_freqs.weight") {
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
        attention::rotations(&self.frequencies, self.cached, n, &mut s.rotation);
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
                    s.heads.resize(values.len(), 0.0);
                    rms_norm(values, gain, shape.eps, &mut s.heads);
                    std::mem::swap(values, &mut s.heads);
                }
            }
            let halves = shape.rotate_halves;
            attention::rotate(&mut s.query, &s.rotation, shape.head_width, halves);
            attention::rotate(&mut s.key, &s.rotation, shape.head_width, halves);
            layer.keys.extend_from_slice(&s.key);
            layer.values.extend_from_slice(&s.value);
            s.attended.resize(n * query_width, 0.0);
            attention::attend(
                &shape,
                &s.query,
                (&layer.keys, &layer.values),
                n,
                &mut s.scores,
                &mut s.attended,
            );
            s.projected.resize(n * width, 0.0);
            self.products
                .apply(&s.attended, n, &mut [(&layer.output, &mut s.projected)]);
            add(&mut s.x, &s.projected);

            rms_norm(&s.x, &layer.feed_forward_norm, shape.eps, &mut s.normed);
            let hidden = layer.gate.rows();
            s.gate.resize(n * hidden, 0.0);
            s.up.resize(n * hidden, 0.0);
            self.products.apply(
                &s.normed,
                n,
                &mut [(&layer.gate, &mut s.gate), (&layer.up, &mut s.up)],
            );
            silu_times(&mut s.gate, &s.up);
            self.products
                .apply(&s.gate, n, &mut [(&layer.down, &mut s.projected)]);
            add(&mut s.x, &s.projected);
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

/// The model file's tensors by name.
struct Tensors<'a> {
    content: &'a gguf_file::Content,
    map: &'a Arc<Mmap>,
    /// Whether the matrices take the Q8_0 fast path, or are read as blocks.
    all_q8: bool,
}

impl Tensors<'_> {
    fn info(&self, name: &str) -> Result<(&gguf_file::TensorInfo, usize), String> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("the file has no tensor {name}"))?;
        let start = self
            .content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|start| usize::try_from(start).ok())
            .ok_or_else(|| format!("tensor {name} lies past the end of the file"))?;
        Ok((info, start))
    }

    fn matrix(&self, name: &str) -> Result<Matrix, String> {
        let (info, start) = self.info(name)?;
        let dims = info.shape.dims();
        let &[rows, columns] = dims else {
            return Err(format!("tensor {name} is {dims:?}, not a matrix"));
        };
        let format = Format::of(info.ggml_dtype).ok_or_else(|| {
            format!(
                "tensor {name} is {:?}, which this forward pass does not read",
                info.ggml_dtype
            )
        })?;
        let map = Arc::clone(self.map);
        let matrix = if self.all_q8 {
            Q8Matrix::new(map, start, rows, columns).map(Matrix::Q8)
        } else {
            BlockMatrix::new(map, start, rows, columns, format).map(Matrix::Blocks)
        };
        matrix.map_err(|err| format!("tensor {name}: {err}"))
    }

    fn vector(&self, name: &str, length: usize) -> Result<Vec<f32>, String> {
        let (info, start) = self.info(name)?;
        if info.ggml_dtype != GgmlDType::F32 || info.shape.elem_count() != length {
            return Err(format!(
                "tensor {name} is a {:?} {:?}, not {length} f32 values",
                info.ggml_dtype,
                info.shape.dims()
            ));
        }
        let bytes = start
            .checked_add(length * 4)
            .and_then(|end| self.map.get(start..end))
            .ok_or_else(|| format!("tensor {name} runs past the end of the file"))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests;
