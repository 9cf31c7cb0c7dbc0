//! The Q4_K product of [`super`] in 256-bit registers, for CPUs with AVX2 and no AVX-512
//! BW: the same block reading (scales unpacked four at a time, sub-block scales applied
//! in integers, one conversion a block) and the same prefetch across pages, which
//! candle's AVX2 product has not.

use std::arch::x86_64::*;

use super::super::wide::{self, fetch_ahead, sum_lanes};
use super::x86::block_head;
use super::{BLOCK, BLOCK_BYTES, Q4kTokens};

/// Every row of `rows` times every token, into `out` as [`super::rows_times`] says; the
/// loop over rows compiled into the kernel, as in the 512-bit one.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; `rows` holds whole rows of `tokens.blocks` blocks,
/// and the tokens hold that many blocks each.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn rows_times(rows: &[u8], tokens: &Q4kTokens, out: &mut [f32]) {
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
unsafe fn row_times(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
    let blocks = tokens.blocks;
    let (x_scales, x_sums, x_quants) = tokens.token(t);
    let row = &row[..blocks * BLOCK_BYTES];
    // SAFETY: this function enables every instruction used here and its caller checked
    // the CPU has them; each load reads inside a slice bounded above (a token's 256
    // bytes and 8 sums, a block's 144 bytes).
    unsafe {
        let mut sums = _mm256_setzero_ps();
        let mut mins_total = _mm_setzero_ps();
        let low = _mm256_set1_epi8(0xF);
        // Sub-block k's i16 scale in every lane: bytes 2k and 2k+1 of the eight.
        let pick = |k: i8| {
            let (a, b) = (2 * k, 2 * k + 1);
            _mm256_setr_epi8(
                a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b, a, b,
                a, b, a, b,
            )
        };
        let picks = [
            pick(0),
            pick(1),
            pick(2),
            pick(3),
            pick(4),
            pick(5),
            pick(6),
            pick(7),
        ];
        // Hidden from the optimizer, which otherwise turns each shuffle into two (a shift
        // and a word broadcast) on the same ports: 4.3 ns a block instead of 4.15.
        let picks = std::hint::black_box(picks);
        for b in 0..blocks {
            let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
            // The hardware's prefetcher stops at each 4 KB page: fetch ahead across them.
            fetch_ahead::<3>(block.as_ptr());
            let (d_dmin, scales16) = block_head::<false>(
                block,
                x_scales[b],
                &x_sums[b * 8..b * 8 + 8],
                &mut mins_total,
            );
            let scales16 = _mm256_broadcastsi128_si256(scales16);
            let x = x_quants[b * BLOCK..(b + 1) * BLOCK].as_ptr();
            let q = block[16..].as_ptr();
            let mut scaled = _mm256_setzero_si256();
            for half in 0..2 {
                // Bytes 64·half.. hold sub-blocks 4·half + (0, 2) in their low nibbles and
                // 4·half + (1, 3) in their high ones; the token's bytes run 0 2 1 3.
                let first = _mm256_loadu_si256(q.add(64 * half).cast());
                let second = _mm256_loadu_si256(q.add(64 * half + 32).cast());
                let parts = [
                    (_mm256_and_si256(first, low), 0),
                    (_mm256_and_si256(second, low), 2),
                    (_mm256_and_si256(_mm256_srli_epi16(first, 4), low), 1),
                    (_mm256_and_si256(_mm256_srli_epi16(second, 4), low), 3),
                ];
                for (slot, (nibbles, sub)) in parts.into_iter().enumerate() {
                    let xs = _mm256_loadu_si256(x.add(128 * half + 32 * slot).cast());
                    // Nibbles (≤ 15) times bytes (|x| ≤ 127): pairs stay within i16, and
                    // times a scale (≤ 63) within i32.
                    let pairs = _mm256_maddubs_epi16(nibbles, xs);
                    let scale = _mm256_shuffle_epi8(scales16, picks[4 * half + sub]);
                    scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(pairs, scale));
                }
            }
            sums = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(scaled),
                _mm256_broadcastss_ps(d_dmin),
                sums,
            );
        }
        let sums = _mm_add_ps(
            _mm256_castps256_ps128(sums),
            _mm256_extractf128_ps::<1>(sums),
        );
        sum_lanes(_mm_sub_ps(sums, mins_total))
    }
}
