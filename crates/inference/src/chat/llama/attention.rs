//! Rotary position embedding and causal attention over the key/value cache, grouped
//! query heads included (several query heads share one key/value head).

use crate::kernels::{Strides, exp, product, softmax_rows, vectorised};

use super::Shape;

/// cos and sin of each position's angles (`first..first + count`), as
/// `[cos₀ … cos_{h/2-1}, sin₀ … sin_{h/2-1}]` per position.
pub(super) fn rotations(frequencies: &[f32], first: usize, count: usize, out: &mut Vec<f32>) {
    out.clear();
    for position in first..first + count {
        let angles = frequencies.iter().map(|f| position as f32 * f);
        out.extend(angles.clone().map(f32::cos));
        out.extend(angles.map(f32::sin));
    }
}

/// Rotates each head's pairs of every token's row: (2i, 2i+1) as GGUF Llama files expect
/// (their query and key rows are permuted for this interleaved form), or with `halves`
/// (i, i + h/2), as Qwen's are written (llama.cpp's "NeoX" rotation).
pub(super) fn rotate(rows: &mut [f32], rotation: &[f32], head_width: usize, halves: bool) {
    let tokens = rotation.len() / head_width;
    let width = rows.len() / tokens.max(1);
    let half = head_width / 2;
    for (row, angles) in rows
        .chunks_exact_mut(width)
        .zip(rotation.chunks_exact(head_width))
    {
        let (cos, sin) = angles.split_at(half);
        for head in row.chunks_exact_mut(head_width) {
            if halves {
                let (first, second) = head.split_at_mut(half);
                for (((x0, x1), c), s) in first.iter_mut().zip(second).zip(cos).zip(sin) {
                    let (a, b) = (*x0, *x1);
                    *x0 = a * c - b * s;
                    *x1 = a * s + b * c;
                }
                continue;
            }
            for ((pair, c), s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
                let (x0, x1) = (pair[0], pair[1]);
                pair[0] = x0 * c - x1 * s;
                pair[1] = x0 * s + x1 * c;
            }
        }
    }
}

/// Each head of the `tokens` newest positions attends to every cached position up to its
/// own — or, with a `window`, to the `window` positions ending at its own (Gemma 3's
/// local layers; llama.cpp's and Hugging Face's mask alike). `query` and `out` hold
/// `tokens` rows of `shape.query_width()`.
pub(super) fn attend(
    shape: &Shape,
    query: &[f32],
    (keys, values): (&[f32], &[f32]),
    tokens: usize,
    window: Option<usize>,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let kv_width = shape.kv_heads * shape.head_width;
    let positions = keys.len() / kv_width;
    let window = window.unwrap_or(usize::MAX).max(1);
    let scale = shape.attention_scale;
    if tokens == 1 {
        let start = positions.saturating_sub(window) * kv_width;
        scores.resize(positions - start / kv_width, 0.0);
        attend_one(
            query,
            &keys[start..],
            &values[start..],
            (shape.heads, shape.kv_heads, shape.head_width, scale),
            scores,
            out,
        );
        return;
    }
    let first = positions - tokens;
    let head_width = shape.head_width;
    let group = shape.heads / shape.kv_heads;
    scores.resize(tokens * positions, 0.0);
    for head in 0..shape.heads {
        let kv = (head / group) * head_width;
        let q = head * head_width;
        product(
            (tokens, positions, head_width),
            scores,
            positions,
            &query[q..],
            shape.query_width(),
            &keys[kv..],
            Strides::transposed(kv_width),
            scale,
            gemm::Parallelism::None,
        );
        for (t, row) in scores.chunks_exact_mut(positions).enumerate() {
            let end = first + t + 1;
            let (earlier, unseen) = row.split_at_mut(end);
            let (forgotten, seen) = earlier.split_at_mut(end.saturating_sub(window));
            softmax_rows(seen, seen.len());
            forgotten.fill(0.0);
            unseen.fill(0.0);
        }
        product(
            (tokens, head_width, positions),
            &mut out[q..],
            shape.query_width(),
            scores,
            positions,
            &values[kv..],
            Strides::rows(kv_width),
            1.0,
            gemm::Parallelism::None,
        );
    }
}

vectorised!(
    /// One new token's attention, each head to every position of `keys` and `values`.
    attend_one => attend_one_portable(
        query: &[f32],
        keys: &[f32],
        values: &[f32],
        heads: (usize, usize, usize, f32),
        scores: &mut [f32],
        out: &mut [f32],
    )
);

#[inline(always)]
fn attend_one_portable(
    query: &[f32],
    keys: &[f32],
    values: &[f32],
    (heads, kv_heads, head_width, scale): (usize, usize, usize, f32),
    scores: &mut [f32],
    out: &mut [f32],
) {
    let kv_width = kv_heads * head_width;
    let group = heads / kv_heads;
    for (head, (q, out)) in query
        .chunks_exact(head_width)
        .zip(out.chunks_exact_mut(head_width))
        .enumerate()
    {
        let kv = (head / group) * head_width;
        let mut max = f32::NEG_INFINITY;
        for (score, key) in scores.iter_mut().zip(keys.chunks_exact(kv_width)) {
            *score = dot16(q, &key[kv..kv + head_width]) * scale;
            max = max.max(*score);
        }
        let mut sum = 0.0;
        for score in scores.iter_mut() {
            *score = exp(*score - max);
            sum += *score;
        }
        out.fill(0.0);
        let inverse = 1.0 / sum;
        for (score, value) in scores.iter().zip(values.chunks_exact(kv_width)) {
            let weight = score * inverse;
            for (o, v) in out.iter_mut().zip(&value[kv..kv + head_width]) {
                *o += weight * v;
            }
        }
    }
}

/// Sixteen running sums: a head is 64 or 128 values, and a wider sum would spend more
/// adding its lanes together than multiplying.
#[inline(always)]
fn dot16(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut sums = [0.0f32; LANES];
    let mut pairs = a.chunks_exact(LANES).zip(b.chunks_exact(LANES));
    for (x, y) in pairs.by_ref() {
        for i in 0..LANES {
            sums[i] += x[i] * y[i];
        }
    }
    let done = a.len() - a.len() % LANES;
    let rest: f32 = a[done..].iter().zip(&b[done..]).map(|(x, y)| x * y).sum();
    sums.iter().sum::<f32>() + rest
}
