//! Q6_K rows times a few tokens with 512-bit registers — the embeddings and output of
//! the Q4_K_M mix, a third of its bytes — as [`super::q4k`] does for Q4_K: a block's
//! 6-bit values are made whole (unsigned, 0..63) from their low and high bits 64 at a
//! time, multiplied with the token's bytes, and the 32 subtracted from each value is
//! taken off once per 16 values through the token's sums. On CPUs without AVX-512 BW the
//! rows go through candle's product ([`super::blocks`]).
//!
//! A Q6_K block (210 bytes): 128 bytes of low nibbles `ql`, 64 bytes of high bit pairs
//! `qh`, sixteen i8 scales, and an f16 `d`. Each half of 128 values reads 64 bytes of `ql`
//! and 32 of `qh`: values 0..32 and 32..64 are the low nibbles of `ql[0..32]` and
//! `ql[32..64]` with `qh` bits 0-1 and 2-3; values 64..96 and 96..128 their high nibbles
//! with bits 4-5 and 6-7. A value is `d · scale[16 values] · (q − 32)`.

use super::q8::f16_to_f32;
use super::wide::{self, Wide};

pub(super) const BLOCK: usize = 256;
pub(super) const BLOCK_BYTES: usize = 210;

/// Tokens quantized for [`rows_times`]: per 256 values one scale, the bytes in order, and
/// the sum of each 16.
#[derive(Default)]
pub(super) struct Q6kTokens {
    tokens: usize,
    blocks: usize,
    scales: Vec<f32>,
    sums: Vec<i32>,
    quants: Vec<i8>,
}

impl Q6kTokens {
    /// Quantizes `tokens` rows of `x`, `columns` (whole blocks) each.
    pub(super) fn quantize(&mut self, x: &[f32], tokens: usize, columns: usize) {
        let blocks = columns / BLOCK;
        self.tokens = tokens;
        self.blocks = blocks;
        self.scales.resize(tokens * blocks, 0.0);
        self.sums.resize(tokens * blocks * 16, 0);
        self.quants.resize(tokens * blocks * BLOCK, 0);
        for (i, values) in x[..tokens * columns].chunks_exact(BLOCK).enumerate() {
            let amax = values.iter().fold(0.0f32, |max, v| max.max(v.abs()));
            let scale = amax / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            self.scales[i] = scale;
            let quants = &mut self.quants[i * BLOCK..(i + 1) * BLOCK];
            for (k, (q, v)) in quants.iter_mut().zip(values).enumerate() {
                *q = (v * inverse).round().clamp(-127.0, 127.0) as i8;
                if k % 16 == 0 {
                    self.sums[i * 16 + k / 16] = 0;
                }
                self.sums[i * 16 + k / 16] += i32::from(*q);
            }
        }
    }
}

/// A value of a Q6_K block, 0..63 (the stored number, 32 above the value).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn stored(block: &[u8], k: usize) -> (i32, usize) {
    let (half, l) = (k / 128, k % 128);
    let ql = &block[half * 64..];
    let qh = &block[128 + half * 32..];
    let (part, l) = (l / 32, l % 32);
    let low = match part {
        0 => ql[l] & 0xF,
        1 => ql[l + 32] & 0xF,
        2 => ql[l] >> 4,
        _ => ql[l + 32] >> 4,
    };
    let high = (qh[l] >> (2 * part)) & 3;
    let scale_index = half * 8 + part * 2 + l / 16;
    (i32::from(low | (high << 4)), scale_index)
}

/// The product of one Q6_K row with token `t`, value by value: the reference the vector
/// kernel is held to.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(super) fn row_portable(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
    let mut total = 0.0f32;
    for (b, block) in row.chunks_exact(BLOCK_BYTES).enumerate() {
        let at = t * tokens.blocks + b;
        let d = f16_to_f32([block[208], block[209]]) * tokens.scales[at];
        let mut sum = 0i32;
        for k in 0..BLOCK {
            let (q, s) = stored(block, k);
            let scale = i32::from(block[192 + s] as i8);
            sum += scale * (q - 32) * i32::from(tokens.quants[at * BLOCK + k]);
        }
        total += d * sum as f32;
    }
    total
}

/// `out[j · tokens + t] = row j · token t` for the rows in `rows` (whole blocks), with
/// `kernel`.
pub(super) fn rows_times(kernel: Wide, rows: &[u8], tokens: &Q6kTokens, out: &mut [f32]) {
    let n = tokens.tokens;
    assert!(tokens.quants.len() >= n * tokens.blocks * BLOCK);
    assert!(tokens.sums.len() >= n * tokens.blocks * 16);
    assert!(tokens.scales.len() >= n * tokens.blocks);
    wide::rows_times(rows, tokens.blocks * BLOCK_BYTES, n, out, |row, t| {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Wide::detect` chose the kernel for features this CPU has; the asserts
        // above and the row's slice (whole blocks) bound every byte the kernel reads.
        unsafe {
            match kernel {
                Wide::Avx512Vnni => x86::row_vnni(row, tokens, t),
                Wide::Avx512 => x86::row(row, tokens, t),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = kernel;
            row_portable(row, tokens, t)
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::wide::PREFETCH_AHEAD;
    use super::{BLOCK, BLOCK_BYTES, Q6kTokens, f16_to_f32};

    /// # Safety
    /// The CPU has AVX-512 F, BW and VL; `row` holds `tokens.blocks` blocks, and the
    /// tokens hold token `t`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn row(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
        // SAFETY: this function enables what `body` uses; its caller checked the CPU has
        // it and bounded the slices (its # Safety).
        unsafe { body::<false>(row, tokens, t) }
    }

    /// # Safety
    /// As [`row`], with AVX-512 VNNI besides.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    pub(super) unsafe fn row_vnni(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
        // SAFETY: as in `row`.
        unsafe { body::<true>(row, tokens, t) }
    }

    /// `row` times token `t`.
    ///
    /// # Safety
    /// As the entries that call it.
    #[inline(always)]
    unsafe fn body<const VNNI: bool>(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
        let mut offset_total = 0.0f32;
        // SAFETY: the entry enables every instruction used here and its caller checked the
        // CPU has them; each load reads inside a slice bounded beforehand (a token's 256
        // bytes, a block's 128 + 64 + 16 bytes).
        unsafe {
            let mut sums = _mm512_setzero_ps();
            let low = _mm512_set1_epi8(0xF);
            let two_bits = _mm512_set1_epi8(3);
            // The qh shifts of each half of a 512-bit vector: bits 0-1 / 2-3 for the
            // low nibbles' values, 4-5 / 6-7 for the high ones'.
            let low_shift = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
            let high_shift = _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6);
            // Each 16 values' scale over their 4 lanes.
            let spread = |first: i32| {
                _mm512_setr_epi32(
                    first,
                    first,
                    first,
                    first,
                    first + 1,
                    first + 1,
                    first + 1,
                    first + 1,
                    first + 2,
                    first + 2,
                    first + 2,
                    first + 2,
                    first + 3,
                    first + 3,
                    first + 3,
                    first + 3,
                )
            };
            let spreads = [spread(0), spread(4), spread(8), spread(12)];
            for b in 0..tokens.blocks {
                let at = t * tokens.blocks + b;
                let x = tokens.quants[at * BLOCK..(at + 1) * BLOCK].as_ptr();
                let x_sums = &tokens.sums[at * 16..at * 16 + 16];
                let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
                let ahead = block.as_ptr().wrapping_add(PREFETCH_AHEAD);
                for line in [0, 64, 128, 192] {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
                }
                let d = f16_to_f32([block[208], block[209]]) * tokens.scales[at];
                let block_scales =
                    _mm512_cvtepi8_epi32(_mm_loadu_si128(block[192..].as_ptr().cast()));
                // The 32 taken off each value, through the token's sums of 16.
                let x_sums16 = _mm512_loadu_si512(x_sums.as_ptr().cast());
                let offset = _mm512_reduce_add_epi32(_mm512_mullo_epi32(block_scales, x_sums16));
                offset_total += 32.0 * d * offset as f32;
                let scales = _mm512_mul_ps(_mm512_cvtepi32_ps(block_scales), _mm512_set1_ps(d));
                for half in 0..2 {
                    let ql = _mm512_loadu_si512(block[half * 64..].as_ptr().cast());
                    let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(
                        block[128 + half * 32..].as_ptr().cast(),
                    ));
                    let high_low = _mm512_and_si512(_mm512_srlv_epi64(qh, low_shift), two_bits);
                    let high_high = _mm512_and_si512(_mm512_srlv_epi64(qh, high_shift), two_bits);
                    let values = [
                        _mm512_or_si512(_mm512_and_si512(ql, low), _mm512_slli_epi16(high_low, 4)),
                        _mm512_or_si512(
                            _mm512_and_si512(_mm512_srli_epi16(ql, 4), low),
                            _mm512_slli_epi16(high_high, 4),
                        ),
                    ];
                    for (part, values) in values.iter().enumerate() {
                        let xs = _mm512_loadu_si512(x.add(half * 128 + part * 64).cast());
                        // Values ≤ 63 times bytes |x| ≤ 127: pairs stay within i16.
                        let products = if VNNI {
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), *values, xs)
                        } else {
                            _mm512_madd_epi16(
                                _mm512_maddubs_epi16(*values, xs),
                                _mm512_set1_epi16(1),
                            )
                        };
                        sums = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(products),
                            _mm512_permutexvar_ps(spreads[half * 2 + part], scales),
                            sums,
                        );
                    }
                }
            }
            _mm512_reduce_add_ps(sums) - offset_total
        }
    }
}

#[cfg(test)]
#[path = "q6k_tests.rs"]
mod tests;
