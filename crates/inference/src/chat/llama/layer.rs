//! One transformer layer's weights, read from the file by the names llama.cpp gives them,
//! and its key/value cache.

use super::Shape;
use super::matrix::Matrix;
use super::tensors::Tensors;

pub(super) struct Layer {
    pub(super) attention_norm: Vec<f32>,
    pub(super) query: Matrix,
    pub(super) key: Matrix,
    pub(super) value: Matrix,
    /// Qwen 2's biases of the query, key and value.
    pub(super) biases: Option<[Vec<f32>; 3]>,
    /// Qwen 3's and Gemma 3's gains of each head's query and key normalisation.
    pub(super) head_norms: Option<[Vec<f32>; 2]>,
    pub(super) output: Matrix,
    /// Gemma 3's norms of the attention's and the feed-forward's outputs, each applied
    /// before the output is added back.
    pub(super) post_norms: Option<[Vec<f32>; 2]>,
    pub(super) feed_forward_norm: Vec<f32>,
    pub(super) gate: Matrix,
    pub(super) up: Matrix,
    pub(super) down: Matrix,
    /// Gemma 3's local layers: how many positions, its own included, each one attends to.
    pub(super) window: Option<usize>,
    /// Keys and values of every cached position, `kv_width` values each.
    pub(super) keys: Vec<f32>,
    pub(super) values: Vec<f32>,
}

impl Layer {
    /// Layer `i` of the file, checked against the model's shape.
    pub(super) fn load(
        tensors: &Tensors,
        i: usize,
        shape: &Shape,
        window: Option<usize>,
    ) -> Result<Layer, String> {
        let name = |part: &str| format!("blk.{i}.{part}.weight");
        let (width, query_width, kv_width) = (shape.width, shape.query_width(), shape.kv_width());
        let [query, key, value] = if tensors.has(&name("attn_qkv")) {
            let fused = name("attn_qkv");
            fused_rows(tensors, &fused, &[query_width, kv_width, kv_width])?
        } else {
            [
                tensors.matrix(&name("attn_q"))?,
                tensors.matrix(&name("attn_k"))?,
                tensors.matrix(&name("attn_v"))?,
            ]
        };
        let [gate, up] = if tensors.has(&name("ffn_gate")) {
            [
                tensors.matrix(&name("ffn_gate"))?,
                tensors.matrix(&name("ffn_up"))?,
            ]
        } else {
            // Phi-3: the gate's rows, then the up projection's, in one `ffn_up`.
            let fused = name("ffn_up");
            let rows = tensors.matrix(&fused)?.rows();
            if rows % 2 != 0 {
                return Err(format!("{fused} has {rows} rows, not a gate's and an up's"));
            }
            fused_rows(tensors, &fused, &[rows / 2, rows / 2])?
        };
        let biases = if tensors.has(&format!("blk.{i}.attn_q.bias")) {
            let bias = |part: &str, length| tensors.vector(&format!("blk.{i}.{part}.bias"), length);
            Some([
                bias("attn_q", query_width)?,
                bias("attn_k", kv_width)?,
                bias("attn_v", kv_width)?,
            ])
        } else {
            None
        };
        let head_norms = if tensors.has(&name("attn_q_norm")) {
            Some([
                tensors.vector(&name("attn_q_norm"), shape.head_width)?,
                tensors.vector(&name("attn_k_norm"), shape.head_width)?,
            ])
        } else {
            None
        };
        let post_norms = if tensors.has(&name("post_attention_norm")) {
            Some([
                tensors.vector(&name("post_attention_norm"), width)?,
                tensors.vector(&name("post_ffw_norm"), width)?,
            ])
        } else {
            None
        };
        let layer = Layer {
            attention_norm: tensors.vector(&name("attn_norm"), width)?,
            query,
            key,
            value,
            biases,
            head_norms,
            output: tensors.matrix(&name("attn_output"))?,
            post_norms,
            feed_forward_norm: tensors.vector(&name("ffn_norm"), width)?,
            gate,
            up,
            down: tensors.matrix(&name("ffn_down"))?,
            window,
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
        Ok(layer)
    }
}

/// The fused matrix `name` cut into parts of `rows` rows each, which must be all of it.
fn fused_rows<const PARTS: usize>(
    tensors: &Tensors,
    name: &str,
    rows: &[usize; PARTS],
) -> Result<[Matrix; PARTS], String> {
    let total = tensors.matrix(name)?.rows();
    if rows.iter().sum::<usize>() != total {
        return Err(format!(
            "{name} has {total} rows, not the {} its parts need",
            rows.iter().sum::<usize>()
        ));
    }
    let mut first = 0;
    let mut parts = Vec::with_capacity(PARTS);
    for &count in rows {
        parts.push(tensors.matrix_rows(name, Some(first..first + count))?);
        first += count;
    }
    parts
        .try_into()
        .map_err(|_| format!("{name} did not divide into {PARTS} parts"))
}
