//! Q6_K rows times a few tokens with 512-bit registers — the embeddings and output of
//! the Q4_K_M mix, a third of its bytes — as [`super::q4k`] does for Q4_K: a block's
//! 6-bit values are made whole (unsigned, 0..63) from their low and high bits 64 at a
//! time, multiplied with the token's bytes, and the 32 subtracted from each value is
//! taken off once per 16 values through the token's sums. [`avx2`] does the same in
//! 256-bit registers; without AVX2 the rows go through candle's product
//! ([`super::blocks`]).
//!
//! A Q6_K block (210 bytes): 128 bytes of low nibbles `ql`, 64 bytes of high bit pairs
//! `qh`, sixteen i8 scales, and an f16 `d`. Each half of 128 values reads 64 bytes of `ql`
//! and 32 of `qh`: values 0..32 and 32..64 are the low nibbles of `ql[0..32]` and
//! `ql[32..64]` with `qh` bits 0-1 and 2-3; values 64..96 and 96..128 their high nibbles
//! with bits 4-5 and 6-7. A value is `d · scale[16 values] · (q − 32)`.

#[cfg(any(test, not(target_arch = "x86_64")))]
use super::q8::f16_to_f32;
use super::wide::Wide;

pub(super) const BLOCK: usize = 256;
pub(super) const BLOCK_BYTES: usize = 210;

/// Tokens quantized for [`rows_times`]: per 256 values one scale, the bytes in order, and
/// the sum of each 16.
#[derive(Default)]
pub(super) struct Q6kTokens {
    tokens: usize,
    blocks: usize,
    scales: Vec<f32>,
    /// |sum| ≤ 16 · 127, within i16.
    sums: Vec<i16>,
    quants: Vec<i8>,
}

impl Q6kTokens {
    /// Token `t`'s block scales, sums and bytes, as the kernels read them.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn token(&self, t: usize) -> (&[f32], &[i16], &[i8]) {
        let (blocks, first) = (self.blocks, t * self.blocks);
        (
            &self.scales[first..first + blocks],
            &self.sums[first * 16..(first + blocks) * 16],
            &self.quants[first * BLOCK..(first + blocks) * BLOCK],
        )
    }

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
                self.sums[i * 16 + k / 16] += i16::from(*q);
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
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `Wide::detect` chose the kernel for features this CPU has; the asserts
    // above and the rows' slices (whole blocks) bound every byte the kernels read.
    unsafe {
        match kernel {
            Wide::Avx512Vnni => x86::rows_times_vnni(rows, tokens, out),
            Wide::Avx512 => x86::rows_times(rows, tokens, out),
            Wide::Avx2 => avx2::rows_times(rows, tokens, out),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kernel;
        super::wide::rows_times(rows, tokens.blocks * BLOCK_BYTES, n, out, |row, t| {
            row_portable(row, tokens, t)
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::wide::{self, fetch_ahead, sum_lanes};
    use super::{BLOCK, BLOCK_BYTES, Q6kTokens};

    /// Every row of `rows` times every token, into `out` as [`super::rows_times`] says.
    /// The loop over rows is compiled into the kernel: a row is only 8–56 blocks, and a
    /// call and its setup per row cost a tenth of the time.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL; `rows` holds whole rows of `tokens.blocks`
    /// blocks, and the tokens hold that many blocks each.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub(super) unsafe fn rows_times(rows: &[u8], tokens: &Q6kTokens, out: &mut [f32]) {
        let row_bytes = tokens.blocks * BLOCK_BYTES;
        wide::rows_times(rows, row_bytes, tokens.tokens, out, |row, t| {
            // SAFETY: this function enables what `body` uses; its caller checked the CPU
            // has it and bounded the slices (its # Safety).
            unsafe { body::<false>(row, tokens, t) }
        });
    }

    /// # Safety
    /// As [`rows_times`], with AVX-512 VNNI besides.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    pub(super) unsafe fn rows_times_vnni(rows: &[u8], tokens: &Q6kTokens, out: &mut [f32]) {
        let row_bytes = tokens.blocks * BLOCK_BYTES;
        wide::rows_times(rows, row_bytes, tokens.tokens, out, |row, t| {
            // SAFETY: as in `rows_times`.
            unsafe { body::<true>(row, tokens, t) }
        });
    }

    /// What both widths do with a block's scales: `d` times the token's scale
    /// (lane 0), the sixteen scales as i16, and `d · Σ scale × token sum` (the 32 taken
    /// off each value, through the token's sums of 16) added to `offsets`.
    ///
    /// # Safety
    /// The CPU has AVX2, F16C and FMA, and the caller is compiled for them; `block` is a
    /// whole block and `x_sums` the token's sixteen sums for it.
    #[inline(always)]
    pub(super) unsafe fn block_head(
        block: &[u8],
        x_scale: f32,
        x_sums: &[i16],
        offsets: &mut __m256,
    ) -> (__m128, __m256i) {
        let x_sums = &x_sums[..16];
        // SAFETY: register arithmetic on features the caller has; the loads read the
        // block's 16 scale bytes and the sixteen sums, both bounded above.
        unsafe {
            let d = _mm_mul_ss(
                _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(u16::from_le_bytes([
                    block[208], block[209],
                ])))),
                _mm_set_ss(x_scale),
            );
            let block_scales =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(block[192..208].as_ptr().cast()));
            let x_sums16 = _mm256_loadu_si256(x_sums.as_ptr().cast());
            *offsets = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(_mm256_madd_epi16(block_scales, x_sums16)),
                _mm256_broadcastss_ps(d),
                *offsets,
            );
            (d, block_scales)
        }
    }

    /// `row` times token `t`. Each 64 values meet the token's bytes in one byte product
    /// to pairs of i16, which the 16-value scales multiply in integers (still exact), so a
    /// block ends in a single conversion and multiply-add.
    ///
    /// # Safety
    /// As the entries that call it.
    #[inline(always)]
    unsafe fn body<const VNNI: bool>(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
        let blocks = tokens.blocks;
        let (x_scales, x_sums, x_quants) = tokens.token(t);
        let row = &row[..blocks * BLOCK_BYTES];
        // SAFETY: the entry enables every instruction used here and its caller checked the
        // CPU has them; each load reads inside a slice bounded above (a token's 256 bytes
        // and 16 sums, a block's 210 bytes).
        unsafe {
            let mut sums = _mm512_setzero_ps();
            let mut offsets = _mm256_setzero_ps();
            let low = _mm512_set1_epi8(0xF);
            let high_bits = _mm512_set1_epi8(0x30);
            // Shifts that bring each half of a 512-bit vector's qh bits to bits 4-5 of
            // their byte: bits 0-1 / 2-3 for the low nibbles' values (left by 4 / 2),
            // 4-5 / 6-7 for the high ones' (right by 0 / 2). Masked after, so the 64-bit
            // shifts' carries across bytes fall outside bits 4-5.
            let low_shift = _mm512_setr_epi64(4, 4, 4, 4, 2, 2, 2, 2);
            let high_shift = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
            // Each 16 values' scale over their 8 i16 lanes.
            let spread = |f: i16| {
                let (a, b, c, d) = (f, f + 1, f + 2, f + 3);
                _mm512_set_epi16(
                    d, d, d, d, d, d, d, d, c, c, c, c, c, c, c, c, b, b, b, b, b, b, b, b, a, a,
                    a, a, a, a, a, a,
                )
            };
            let spreads = [spread(0), spread(4), spread(8), spread(12)];
            for b in 0..blocks {
                let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
                fetch_ahead::<4>(block.as_ptr());
                let (d, block_scales) = block_head(
                    block,
                    x_scales[b],
                    &x_sums[b * 16..b * 16 + 16],
                    &mut offsets,
                );
                let scales16 = _mm512_castsi256_si512(block_scales);
                let x = x_quants[b * BLOCK..(b + 1) * BLOCK].as_ptr();
                let mut scaled = _mm512_setzero_si512();
                for half in 0..2 {
                    let ql = _mm512_loadu_si512(block[half * 64..].as_ptr().cast());
                    let qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(
                        block[128 + half * 32..].as_ptr().cast(),
                    ));
                    let high_low = _mm512_and_si512(_mm512_sllv_epi64(qh, low_shift), high_bits);
                    let high_high = _mm512_and_si512(_mm512_srlv_epi64(qh, high_shift), high_bits);
                    // (nibbles & 0xF) | high bits in one three-input logic operation.
                    const LOW_AND_OR_HIGH: i32 = 0xEA;
                    let values = [
                        _mm512_ternarylogic_epi32::<LOW_AND_OR_HIGH>(ql, low, high_low),
                        _mm512_ternarylogic_epi32::<LOW_AND_OR_HIGH>(
                            _mm512_srli_epi16(ql, 4),
                            low,
                            high_high,
                        ),
                    ];
                    for (part, values) in values.iter().enumerate() {
                        let xs = _mm512_loadu_si512(x.add(half * 128 + part * 64).cast());
                        // Values ≤ 63 times bytes |x| ≤ 127: pairs stay within i16, and
                        // times a scale (|s| ≤ 128) within i32.
                        let pairs = _mm512_maddubs_epi16(*values, xs);
                        let scale = _mm512_permutexvar_epi16(spreads[half * 2 + part], scales16);
                        scaled = if VNNI {
                            _mm512_dpwssd_epi32(scaled, pairs, scale)
                        } else {
                            _mm512_add_epi32(scaled, _mm512_madd_epi16(pairs, scale))
                        };
                    }
                }
                sums = _mm512_fmadd_ps(_mm512_cvtepi32_ps(scaled), _mm512_broadcastss_ps(d), sums);
            }
            let offsets = _mm_add_ps(
                _mm256_castps256_ps128(offsets),
                _mm256_extractf128_ps::<1>(offsets),
            );
            _mm512_reduce_add_ps(sums) - 32.0 * sum_lanes(offsets)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "q6k_avx2.rs"]
mod avx2;

#[cfg(test)]
#[path = "q6k_tests.rs"]
mod tests;
