//! The forward pass of all-MiniLM-L6-v2, a 6-layer BERT encoder, on plain slices and
//! gemm's matrix kernels (the ones candle uses), with the weights read in place from the
//! mapped safetensors file.
//!
//! Why not candle's tensors: a hybrid search starts a process, loads the model and embeds
//! one short query. Tensors own their storage, so loading copied all 90 MB of weights
//! (and transposed them) — most of the search's time and memory — when a query touches
//! 42 MB of layer weights and a few rows of the 47 MB token table. Here nothing is
//! copied: products read PyTorch's `(out, in)` matrices through strides, the token table
//! is read row by row. And each text is its own sequence: no padding to the longest in a
//! batch (a batch of chunks of mixed lengths spent much of its time on padding).
//! GELU runs over a plain slice with a rational `erf` (error under 1e-7) that the
//! compiler vectorises.

use std::path::Path;

use memmap2::Mmap;

use super::weights::{Param, Weights};

use crate::kernels::{
    FEW_ROWS, Strides, add_and_norm, attention, few_rows_times_transposed, gelu_in_place,
    layer_norm, product,
};
use safetensors::{Dtype, SafeTensors};

/// The model's shape, from its config.json.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_eps() -> f64 {
    1e-12
}

#[derive(Debug, thiserror::Error)]
pub enum BertError {
    #[error("{0}")]
    Read(#[from] std::io::Error),
    #[error("not a safetensors file: {0}")]
    Format(String),
    #[error("tensor {name}: {problem}")]
    Tensor { name: String, problem: String },
    #[error("the config does not fit: {0}")]
    Config(String),
}

struct Dense {
    /// `(out, in)`, as PyTorch stores it.
    weight: Param,
    bias: Param,
    inputs: usize,
    outputs: usize,
}

struct Norm {
    gain: Param,
    bias: Param,
}

struct Layer {
    /// Where its weights lie, in floats: [start, end).
    floats: (usize, usize),
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

pub struct Bert {
    weights: Weights,
    word: Param,
    position: Param,
    token_type: Param,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    config: Config,
    /// Whether a query's pass lets each layer's weights go after it (see
    /// [`Bert::release_weights_after_each_query`]).
    release_after_query: bool,
}

/// One text, tokenized: its word-piece ids and their segment (type) ids.
pub struct Sequence<'a> {
    pub ids: &'a [u32],
    pub types: &'a [u32],
}

impl Bert {
    /// Maps `model.safetensors` and checks every weight the forward pass reads.
    pub fn open(path: &Path, config: Config) -> Result<Bert, BertError> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the file is never changed in place: installing removes the old folder
        // and renames a new one into place, so a mapping keeps the file it was made from.
        let map = unsafe { Mmap::map(&file)? };
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|err| BertError::Format(err.to_string()))?;
        let data_start = 8 + header_len;
        let prefix = if metadata
            .info("bert.embeddings.word_embeddings.weight")
            .is_some()
        {
            "bert."
        } else {
            ""
        };
        let param = |name: &str, shape: &[usize]| -> Result<Param, BertError> {
            let full = format!("{prefix}{name}");
            let problem = |problem: String| BertError::Tensor {
                name: full.clone(),
                problem,
            };
            let info = metadata
                .info(&full)
                .ok_or_else(|| problem("missing".to_string()))?;
            if info.dtype != Dtype::F32 {
                return Err(problem(format!("{:?}, not F32", info.dtype)));
            }
            if info.shape != shape {
                return Err(problem(format!(
                    "shape {:?}, expected {shape:?}",
                    info.shape
                )));
            }
            let (begin, end) = info.data_offsets;
            if !begin.is_multiple_of(4)
                || end.checked_sub(begin) != Some(shape.iter().product::<usize>() * 4)
            {
                return Err(problem("misplaced data".to_string()));
            }
            Ok(Param {
                start: begin / 4,
                len: (end - begin) / 4,
            })
        };
        let hidden = config.hidden_size;
        if config.num_attention_heads == 0 || !hidden.is_multiple_of(config.num_attention_heads) {
            return Err(BertError::Config(format!(
                "{} heads do not divide {hidden}",
                config.num_attention_heads
            )));
        }
        let dense = |name: String, inputs: usize, outputs: usize| -> Result<Dense, BertError> {
            Ok(Dense {
                weight: param(&format!("{name}.weight"), &[outputs, inputs])?,
                bias: param(&format!("{name}.bias"), &[outputs])?,
                inputs,
                outputs,
            })
        };
        let norm = |name: String| -> Result<Norm, BertError> {
            Ok(Norm {
                gain: param(&format!("{name}.weight"), &[hidden])?,
                bias: param(&format!("{name}.bias"), &[hidden])?,
            })
        };
        let inner = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|index| {
                let layer = format!("encoder.layer.{index}");
                Ok(Layer {
                    floats: (0, 0),
                    query: dense(format!("{layer}.attention.self.query"), hidden, hidden)?,
                    key: dense(format!("{layer}.attention.self.key"), hidden, hidden)?,
                    value: dense(format!("{layer}.attention.self.value"), hidden, hidden)?,
                    attention_out: dense(
                        format!("{layer}.attention.output.dense"),
                        hidden,
                        hidden,
                    )?,
                    attention_norm: norm(format!("{layer}.attention.output.LayerNorm"))?,
                    intermediate: dense(format!("{layer}.intermediate.dense"), hidden, inner)?,
                    output: dense(format!("{layer}.output.dense"), inner, hidden)?,
                    output_norm: norm(format!("{layer}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>, BertError>>()?;
        let mut layers = layers;
        for layer in &mut layers {
            layer.floats = layer_span(layer);
        }
        let word = param(
            "embeddings.word_embeddings.weight",
            &[config.vocab_size, hidden],
        )?;
        let position = param(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, hidden],
        )?;
        let token_type = param(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, hidden],
        )?;
        let embedding_norm = norm("embeddings.LayerNorm".to_string())?;
        let weights = Weights::new(map, data_start);
        let end = [
            word,
            position,
            token_type,
            embedding_norm.gain,
            embedding_norm.bias,
        ]
        .iter()
        .map(|param| param.start + param.len)
        .fold(layers_end(&layers), usize::max);
        if weights.floats().len() < end {
            return Err(BertError::Format(
                "the data section is cut short".to_string(),
            ));
        }
        Ok(Bert {
            weights,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            config,
            release_after_query: false,
        })
    }

    /// For a process that embeds one query and exits (a `memory search` command): each
    /// layer's weights are let go after the query's pass, so it never holds all 42 MB at
    /// once (32 MB at its peak instead of 67). A long-lived process keeps them: mapping
    /// them again would cost every later query about 3 ms. (Mapping a layer ahead with
    /// MADV_POPULATE_READ was tried: slower than the kernel's fault-around.)
    pub fn release_weights_after_each_query(&mut self) {
        self.release_after_query = true;
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The most tokens one sequence may have (its position table's length).
    pub fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// The last layer's hidden states of every token of every sequence, the sequences'
    /// rows one after another: `(Σ tokens) × hidden`. Ids outside the vocabulary are
    /// read as id 0 ([PAD]); sequences longer than [`Bert::max_tokens`] are cut.
    ///
    /// With more than one thread, the sequences are split into that many groups of about
    /// as many tokens, each run whole on its own thread: sequences are independent, so
    /// this scales with the cores where splitting each product did not (a 256-token
    /// chunk's products are too small to share well, and the attention and the norms
    /// between them ran on one thread).
    pub fn forward(&self, sequences: &[Sequence<'_>], threads: usize) -> Vec<f32> {
        let groups = token_balanced_groups(sequences, self.max_tokens(), threads);
        if groups.len() <= 1 {
            return self.forward_group(sequences, threads);
        }
        use rayon::prelude::*;
        groups
            .par_iter()
            .map(|group| self.forward_group(group, 1))
            .collect::<Vec<_>>()
            .concat()
    }

    fn forward_group(&self, sequences: &[Sequence<'_>], threads: usize) -> Vec<f32> {
        let hidden = self.config.hidden_size;
        let lengths: Vec<usize> = sequences
            .iter()
            .map(|s| s.ids.len().min(self.max_tokens()))
            .collect();
        let rows: usize = lengths.iter().sum();
        let mut x = vec![0.0f32; rows * hidden];
        self.embed_tokens(sequences, &lengths, &mut x);
        let inner = self.config.intermediate_size;
        let mut qkv = vec![0.0f32; rows * 3 * hidden];
        let mut attended = vec![0.0f32; rows * hidden];
        let mut projected = vec![0.0f32; rows * hidden];
        let mut expanded = vec![0.0f32; rows * inner];
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let mut scores = vec![0.0f32; longest * longest];
        let one_pass = self.release_after_query && rows <= FEW_ROWS;
        for layer in &self.layers {
            for (column, dense) in [&layer.query, &layer.key, &layer.value]
                .into_iter()
                .enumerate()
            {
                self.dense(
                    dense,
                    &x,
                    rows,
                    &mut qkv[column * hidden..],
                    3 * hidden,
                    threads,
                );
            }
            attention(
                &qkv,
                &lengths,
                hidden,
                self.config.num_attention_heads,
                &mut scores,
                &mut attended,
            );
            self.dense(
                &layer.attention_out,
                &attended,
                rows,
                &mut projected,
                hidden,
                threads,
            );
            add_and_norm(
                &mut projected,
                &x,
                self.norm(&layer.attention_norm),
                self.eps(),
                hidden,
            );
            self.dense(
                &layer.intermediate,
                &projected,
                rows,
                &mut expanded,
                inner,
                threads,
            );
            gelu_in_place(&mut expanded);
            self.dense(&layer.output, &expanded, rows, &mut x, hidden, threads);
            add_and_norm(
                &mut x,
                &projected,
                self.norm(&layer.output_norm),
                self.eps(),
                hidden,
            );
            if one_pass {
                self.weights.release(layer.floats);
            }
        }
        x
    }

    fn eps(&self) -> f32 {
        self.config.layer_norm_eps as f32
    }

    fn norm(&self, norm: &Norm) -> (&[f32], &[f32]) {
        (self.weights.get(norm.gain), self.weights.get(norm.bias))
    }

    /// Word + position + segment embeddings, normalised.
    fn embed_tokens(&self, sequences: &[Sequence<'_>], lengths: &[usize], x: &mut [f32]) {
        let hidden = self.config.hidden_size;
        let row_of = |table: Param, rows: usize, index: usize| -> &[f32] {
            let index = if index < rows { index } else { 0 };
            &self.weights.get(table)[index * hidden..(index + 1) * hidden]
        };
        let mut out = x.chunks_exact_mut(hidden);
        for (sequence, &length) in sequences.iter().zip(lengths) {
            for position in 0..length {
                let Some(row) = out.next() else { return };
                let word = row_of(
                    self.word,
                    self.config.vocab_size,
                    sequence.ids[position] as usize,
                );
                let kind = sequence.types.get(position).copied().unwrap_or(0) as usize;
                let kind = row_of(self.token_type, self.config.type_vocab_size, kind);
                let place = row_of(self.position, self.config.max_position_embeddings, position);
                for (i, value) in row.iter_mut().enumerate() {
                    *value = word[i] + kind[i] + place[i];
                }
            }
        }
        let (gain, bias) = self.norm(&self.embedding_norm);
        for row in x.chunks_exact_mut(hidden) {
            layer_norm(row, gain, bias, self.eps());
        }
    }

    /// `out[r, 0..outputs] = input[r] · Wᵀ + b` for `rows` rows; `out`'s rows are
    /// `out_stride` apart (Q, K and V share one buffer side by side).
    fn dense(
        &self,
        dense: &Dense,
        input: &[f32],
        rows: usize,
        out: &mut [f32],
        out_stride: usize,
        threads: usize,
    ) {
        let (k, n) = (dense.inputs, dense.outputs);
        if rows == 0 {
            return;
        }
        let weight = self.weights.get(dense.weight);
        let bias = self.weights.get(dense.bias);
        assert!(input.len() >= rows * k && weight.len() == n * k && bias.len() == n);
        assert!(out.len() >= (rows - 1) * out_stride + n);
        if rows <= FEW_ROWS {
            if threads > 1 && n * k >= SHARED_FROM {
                few_rows_shared(input, rows, (weight, k, bias), out, out_stride, threads);
            } else {
                few_rows_times_transposed(input, rows, weight, k, bias, out, out_stride);
            }
            return;
        }
        let parallelism = if threads > 1 && rows * n * k >= 1 << 20 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        // The weight is n × k; read as its k × n transpose.
        product(
            (rows, n, k),
            out,
            out_stride,
            input,
            k,
            weight,
            Strides::transposed(k),
            1.0,
            parallelism,
        );
        for row in out.chunks_mut(out_stride).take(rows) {
            for (value, b) in row[..n].iter_mut().zip(bias) {
                *value += b;
            }
        }
    }
}

/// A few rows' product is as big as this (weights) before its output columns are shared
/// among threads: a query reads every weight once, from memory it first has to map, so
/// two cores read and map twice as fast; a small product is not worth the hand-over.
const SHARED_FROM: usize = 1 << 16;

/// [`few_rows_times_transposed`] with the weight rows (output columns) split among
/// `threads`, each part into its own buffer, then laid into `out`.
fn few_rows_shared(
    input: &[f32],
    rows: usize,
    (weight, k, bias): (&[f32], usize, &[f32]),
    out: &mut [f32],
    out_stride: usize,
    threads: usize,
) {
    use rayon::prelude::*;
    let n = bias.len();
    let per_part = n.div_ceil(threads.max(1));
    let parts: Vec<(usize, Vec<f32>)> = (0..n)
        .step_by(per_part.max(1))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let end = (start + per_part).min(n);
            let width = end - start;
            let mut part = vec![0.0f32; rows * width];
            few_rows_times_transposed(
                input,
                rows,
                &weight[start * k..end * k],
                k,
                &bias[start..end],
                &mut part,
                width,
            );
            (start, part)
        })
        .collect();
    for (start, part) in parts {
        let width = part.len() / rows.max(1);
        for (row, values) in part.chunks_exact(width.max(1)).enumerate() {
            out[row * out_stride + start..row * out_stride + start + width].copy_from_slice(values);
        }
    }
}

/// Consecutive runs of `sequences`, at most `groups` of them, cut where the running
/// token count passes each equal share (order kept, so the rows concatenate back).
fn token_balanced_groups<'s, 'a>(
    sequences: &'s [Sequence<'a>],
    max_tokens: usize,
    groups: usize,
) -> Vec<&'s [Sequence<'a>]> {
    let groups = groups.min(sequences.len()).max(1);
    let tokens = |s: &Sequence<'_>| s.ids.len().min(max_tokens);
    let total: usize = sequences.iter().map(tokens).sum();
    let mut cuts = Vec::with_capacity(groups);
    let (mut start, mut running) = (0, 0);
    for (index, sequence) in sequences.iter().enumerate() {
        running += tokens(sequence);
        let share = total * (cuts.len() + 1) / groups;
        if running >= share && cuts.len() + 1 < groups {
            cuts.push(&sequences[start..=index]);
            start = index + 1;
        }
    }
    if start < sequences.len() {
        cuts.push(&sequences[start..]);
    }
    cuts
}

fn layer_span(layer: &Layer) -> (usize, usize) {
    let params = [
        &layer.query,
        &layer.key,
        &layer.value,
        &layer.attention_out,
        &layer.intermediate,
        &layer.output,
    ]
    .into_iter()
    .flat_map(|dense| [dense.weight, dense.bias])
    .chain([
        layer.attention_norm.gain,
        layer.attention_norm.bias,
        layer.output_norm.gain,
        layer.output_norm.bias,
    ]);
    params.fold((usize::MAX, 0), |(start, end), param| {
        (start.min(param.start), end.max(param.start + param.len))
    })
}

/// Where the last layer weight ends, to check the file holds them all.
fn layers_end(layers: &[Layer]) -> usize {
    layers.iter().map(|layer| layer.floats.1).max().unwrap_or(0)
}

#[cfg(test)]
#[path = "bert_tests.rs"]
mod tests;
