//! Q4_K rows times a few tokens with 512-bit registers: each 256-value block takes 4 byte
//! products and 4 multiply-adds, where candle's 256-bit product takes some 80 operations,
//! and the weights are fetched ahead across page boundaries, where the hardware's
//! prefetcher stops. On CPUs without AVX-512 BW the rows go through candle's product
//! ([`super::blocks`]).
//!
//! A Q4_K block (144 bytes): f16 scale `d`, f16 `dmin`, 12 bytes of eight 6-bit scales
//! and eight 6-bit mins, then 128 bytes of nibbles — bytes 32k..32k+32 hold sub-block 2k
//! in their low nibbles and 2k+1 in their high ones. A value is `d·scale·q − dmin·min`.
//! Tokens are quantized per 256 values to int8 with one scale (as Q8_K), their bytes
//! ordered so one 64-byte load meets the nibbles of two sub-blocks: 0 2 1 3 4 6 5 7.

use super::q8::f16_to_f32;
use super::wide::{self, Wide};

/// Values and bytes of a Q4_K block.
pub(super) const BLOCK: usize = 256;
pub(super) const BLOCK_BYTES: usize = 144;

/// Tokens quantized for [`rows_times`].
#[derive(Default)]
pub(super) struct Q4kTokens {
    tokens: usize,
    blocks: usize,
    /// Per token and block: the scale.
    scales: Vec<f32>,
    /// Per token and block: the sum of each 32 values' bytes, sub-blocks 0..8.
    sums: Vec<i32>,
    /// Per token and block: 256 bytes in the order above.
    quants: Vec<i8>,
}

impl Q4kTokens {
    /// Quantizes `tokens` rows of `x`, `columns` (whole blocks) each.
    pub(super) fn quantize(&mut self, x: &[f32], tokens: usize, columns: usize) {
        let blocks = columns / BLOCK;
        self.tokens = tokens;
        self.blocks = blocks;
        self.scales.resize(tokens * blocks, 0.0);
        self.sums.resize(tokens * blocks * 8, 0);
        self.quants.resize(tokens * blocks * BLOCK, 0);
        for (i, values) in x[..tokens * columns].chunks_exact(BLOCK).enumerate() {
            let amax = values.iter().fold(0.0f32, |max, v| max.max(v.abs()));
            let scale = amax / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            self.scales[i] = scale;
            let quants = &mut self.quants[i * BLOCK..(i + 1) * BLOCK];
            for (sub, chunk) in values.chunks_exact(32).enumerate() {
                // Sub-block order 0 2 1 3 4 6 5 7: pairs (2k, 2k+2) low, (2k+1, 2k+3) high.
                let slot = [0, 2, 1, 3, 4, 6, 5, 7][sub];
                let mut sum = 0i32;
                for (q, v) in quants[slot * 32..slot * 32 + 32].iter_mut().zip(chunk) {
                    let rounded = (v * inverse).round().clamp(-127.0, 127.0) as i8;
                    *q = rounded;
                    sum += i32::from(rounded);
                }
                self.sums[i * 8 + sub] = sum;
            }
        }
    }
}

/// The eight 6-bit scales and eight 6-bit mins of a block's 12 bytes, as llama.cpp's
/// `get_scale_min_k4` reads them.
#[inline(always)]
fn scales_and_mins(bytes: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut scales = [0u8; 8];
    let mut mins = [0u8; 8];
    for j in 0..4 {
        scales[j] = bytes[j] & 63;
        mins[j] = bytes[j + 4] & 63;
        scales[j + 4] = (bytes[j + 8] & 0xF) | ((bytes[j] >> 6) << 4);
        mins[j + 4] = (bytes[j + 8] >> 4) | ((bytes[j + 4] >> 6) << 4);
    }
    (scales, mins)
}

/// The product of one Q4_K row with token `t`, value by value: the reference the vector
/// kernel is held to.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(super) fn row_portable(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
    let mut total = 0.0f32;
    for (b, block) in row.chunks_exact(BLOCK_BYTES).enumerate() {
        let at = t * tokens.blocks + b;
        let x_scale = tokens.scales[at];
        let d = f16_to_f32([block[0], block[1]]) * x_scale;
        let dmin = f16_to_f32([block[2], block[3]]) * x_scale;
        let (scales, mins) = scales_and_mins(&block[4..16]);
        let quants = &tokens.quants[at * BLOCK..(at + 1) * BLOCK];
        let mut dots = 0.0f32;
        let mut min_total = 0i32;
        for sub in 0..8 {
            let bytes = &block[16 + (sub / 2) * 32..16 + (sub / 2) * 32 + 32];
            let slot = [0, 2, 1, 3, 4, 6, 5, 7][sub];
            let x = &quants[slot * 32..slot * 32 + 32];
            let dot: i32 = bytes
                .iter()
                .zip(x)
                .map(|(&byte, &x)| {
                    let nibble = if sub % 2 == 0 { byte & 0xF } else { byte >> 4 };
                    i32::from(nibble) * i32::from(x)
                })
                .sum();
            dots += f32::from(scales[sub]) * dot as f32;
            min_total += i32::from(mins[sub]) * tokens.sums[at * 8 + sub];
        }
        total += d * dots - dmin * min_total as f32;
    }
    total
}

/// `out[j · tokens + t] = row j · token t` for the rows in `rows` (whole blocks), with
/// `kernel`.
pub(super) fn rows_times(kernel: Wide, rows: &[u8], tokens: &Q4kTokens, out: &mut [f32]) {
    let n = tokens.tokens;
    assert!(tokens.quants.len() >= n * tokens.blocks * BLOCK);
    assert!(tokens.sums.len() >= n * tokens.blocks * 8);
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
    use super::{BLOCK, BLOCK_BYTES, Q4kTokens, f16_to_f32, scales_and_mins};

    /// u8 × i8 products of 64 bytes, summed in fours into sixteen i32 lanes.
    ///
    /// # Safety
    /// The CPU has AVX-512 BW (and VNNI when `VNNI`), and the calling code is compiled
    /// for them.
    #[inline(always)]
    unsafe fn dot<const VNNI: bool>(unsigned: __m512i, signed: __m512i) -> __m512i {
        // Nibbles (≤ 15) times bytes (|x| ≤ 127): pairs stay within i16.
        // SAFETY: register arithmetic only, on features the caller has (above).
        unsafe {
            if VNNI {
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), unsigned, signed)
            } else {
                _mm512_madd_epi16(_mm512_maddubs_epi16(unsigned, signed), _mm512_set1_epi16(1))
            }
        }
    }

    /// # Safety
    /// The CPU has AVX-512 F, BW and VL; `row` holds `tokens.blocks` blocks, and the
    /// tokens hold token `t`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub(super) unsafe fn row(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
        // SAFETY: this function enables what `body` uses; its caller checked the CPU has
        // it and bounded the slices (its # Safety).
        unsafe { body::<false>(row, tokens, t) }
    }

    /// # Safety
    /// As [`row`], with AVX-512 VNNI besides.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
    pub(super) unsafe fn row_vnni(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
        // SAFETY: as in `row`.
        unsafe { body::<true>(row, tokens, t) }
    }

    /// `row` times token `t`.
    ///
    /// # Safety
    /// As the entries that call it.
    #[inline(always)]
    unsafe fn body<const VNNI: bool>(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
        let mut min_total_scaled = 0.0f32;
        // SAFETY: the entry enables every instruction used here and its caller checked the
        // CPU has them; each load reads 64 bytes inside a slice bounded beforehand (a
        // token's 256 bytes, a block's 128 nibble bytes after its 16-byte head).
        unsafe {
            let mut sums = _mm512_setzero_ps();
            let low = _mm512_set1_epi8(0xF);
            // Each sub-block's scale over its 8 lanes: (0, 2), (1, 3), (4, 6), (5, 7).
            let spread = [
                _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
                _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
                _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
                _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7),
            ];
            for b in 0..tokens.blocks {
                let at = t * tokens.blocks + b;
                let x_scale = tokens.scales[at];
                let x_sums = &tokens.sums[at * 8..at * 8 + 8];
                let x = tokens.quants[at * BLOCK..(at + 1) * BLOCK].as_ptr();
                let xs = [
                    _mm512_loadu_si512(x.cast()),
                    _mm512_loadu_si512(x.add(64).cast()),
                    _mm512_loadu_si512(x.add(128).cast()),
                    _mm512_loadu_si512(x.add(192).cast()),
                ];
                {
                    let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
                    let d = f16_to_f32([block[0], block[1]]) * x_scale;
                    let dmin = f16_to_f32([block[2], block[3]]) * x_scale;
                    let (scales, block_mins) = scales_and_mins(&block[4..16]);
                    let mut min_total = 0i32;
                    for (m, s) in block_mins.iter().zip(x_sums) {
                        min_total += i32::from(*m) * s;
                    }
                    min_total_scaled += dmin * min_total as f32;
                    let scale_bytes = _mm_loadl_epi64(scales.as_ptr().cast());
                    let scales = _mm512_castps256_ps512(_mm256_mul_ps(
                        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scale_bytes)),
                        _mm256_set1_ps(d),
                    ));
                    // The hardware's prefetcher stops at each 4 KB page: fetch ahead
                    // across them (a prefetch never faults, wherever it points).
                    let ahead = block.as_ptr().wrapping_add(PREFETCH_AHEAD);
                    _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64).cast());
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(128).cast());
                    let q = block[16..].as_ptr();
                    let first = _mm512_loadu_si512(q.cast());
                    let second = _mm512_loadu_si512(q.add(64).cast());
                    let nibbles = [
                        _mm512_and_si512(first, low),
                        _mm512_and_si512(_mm512_srli_epi16(first, 4), low),
                        _mm512_and_si512(second, low),
                        _mm512_and_si512(_mm512_srli_epi16(second, 4), low),
                    ];
                    for k in 0..4 {
                        let products = dot::<VNNI>(nibbles[k], xs[k]);
                        sums = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(products),
                            _mm512_permutexvar_ps(spread[k], scales),
                            sums,
                        );
                    }
                }
            }
            _mm512_reduce_add_ps(sums) - min_total_scaled
        }
    }
}

#[cfg(test)]
#[path = "q4k_tests.rs"]
mod tests;
