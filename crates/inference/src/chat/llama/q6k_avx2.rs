//! The Q6_K product of [`super`] in 256-bit registers, for CPUs with AVX2 and no AVX-512
//! BW: the same block reading (16-value scales applied in integers, the offset of 32
//! taken off through the token's sums, one conversion a block) and the same prefetch
//! across pages, which candle's AVX2 product has not.

use std::arch::x86_64::*;

use super::super::wide::{self, fetch_ahead, sum_lanes};
use super::x86::block_head;
use super::{BLOCK, BLOCK_BYTES, Q6kTokens};

/// Every row of `rows` times every token, into `out` as [`super::rows_times`] says; the
/// loop over rows compiled into the kernel, as in the 512-bit one.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; `rows` holds whole rows of `tokens.blocks` blocks,
/// and the tokens hold that many blocks each.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn rows_times(rows: &[u8], tokens: &Q6kTokens, out: &mut [f32]) {
    let row_bytes = tokens.blocks * BLOCK_BYTES;
    wide::rows_times(rows, row_bytes, tokens.tokens, out, |row, t| {
        // SAFETY: this function enables what `row` uses; its caller checked the CPU has
        // it and bounded the slices (its # Safety).
        unsafe { row_times(row, tokens, t) }
    });
}

/// `row` times token `t`.
///
/// # Safety
/// As [`rows_times`].
#[inline(always)]
unsafe fn row_times(row: &[u8], tokens: &Q6kTokens, t: usize) -> f32 {
    let blocks = tokens.blocks;
    let (x_scales, x_sums, x_quants) = tokens.token(t);
    let row = &row[..blocks * BLOCK_BYTES];
    // SAFETY: this function enables every instruction used here and its caller checked
    // the CPU has them; each load reads inside a slice bounded above (a token's 256
    // bytes and 16 sums, a block's 210 bytes).
    unsafe {
        let mut sums = _mm256_setzero_ps();
        let mut offsets = _mm256_setzero_ps();
        let low = _mm256_set1_epi8(0xF);
        // 32 values take two 16-value scales: i16 scale 2p of the half's eight in the
        // low 128 bits, 2p + 1 in the high.
        let pick = |p: i8| {
            let (a, b, c, d) = (4 * p, 4 * p + 1, 4 * p + 2, 4 * p + 3);
            _mm256_setr_epi8(
                a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, c, d, c, d, c, d, c, d, c, d, c, d,
                c, d, c, d,
            )
        };
        let picks = [pick(0), pick(1), pick(2), pick(3)];
        for b in 0..blocks {
            let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
            fetch_ahead::<4>(block.as_ptr());
            let (d, block_scales) = block_head(
                block,
                x_scales[b],
                &x_sums[b * 16..b * 16 + 16],
                &mut offsets,
            );
            let x = x_quants[b * BLOCK..(b + 1) * BLOCK].as_ptr();
            let mut scaled = _mm256_setzero_si256();
            for half in 0..2 {
                let half_scales = _mm256_broadcastsi128_si256(if half == 0 {
                    _mm256_castsi256_si128(block_scales)
                } else {
                    _mm256_extracti128_si256::<1>(block_scales)
                });
                let ql = block[half * 64..].as_ptr();
                let ql_first = _mm256_loadu_si256(ql.cast());
                let ql_second = _mm256_loadu_si256(ql.add(32).cast());
                let qh = _mm256_loadu_si256(block[128 + half * 32..].as_ptr().cast());
                // Each value's two high bits moved to bits 4-5 of its byte: masked first,
                // so the 16-bit shifts carry nothing across bytes.
                let bits = |mask: i8| _mm256_and_si256(qh, _mm256_set1_epi8(mask));
                let high = [
                    _mm256_slli_epi16(bits(0x03), 4),
                    _mm256_slli_epi16(bits(0x0C), 2),
                    bits(0x30),
                    _mm256_srli_epi16(bits(0xC0u8 as i8), 2),
                ];
                let values = [
                    _mm256_or_si256(_mm256_and_si256(ql_first, low), high[0]),
                    _mm256_or_si256(_mm256_and_si256(ql_second, low), high[1]),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql_first, 4), low),
                        high[2],
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql_second, 4), low),
                        high[3],
                    ),
                ];
                for (part, values) in values.into_iter().enumerate() {
                    let xs = _mm256_loadu_si256(x.add(half * 128 + part * 32).cast());
                    // Values ≤ 63 times bytes |x| ≤ 127: pairs stay within i16, and times
                    // a scale (|s| ≤ 128) within i32.
                    let pairs = _mm256_maddubs_epi16(values, xs);
                    let scale = _mm256_shuffle_epi8(half_scales, picks[part]);
                    scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(pairs, scale));
                }
            }
            sums = _mm256_fmadd_ps(_mm256_cvtepi32_ps(scaled), _mm256_broadcastss_ps(d), sums);
        }
        let total = _mm256_fnmadd_ps(offsets, _mm256_set1_ps(32.0), sums);
        let total = _mm_add_ps(
            _mm256_castps256_ps128(total),
            _mm256_extractf128_ps::<1>(total),
        );
        sum_lanes(total)
    }
}
