//! Q4_K rows times a few tokens, in 512-bit registers (here) or 256-bit ones
//! ([`avx2`]): a block's scales unpacked four at a time, its nibbles multiplied with the
//! token's bytes and the sub-blocks' scales applied in integers, so each block ends in
//! one conversion and one multiply-add; the weights are fetched ahead across page
//! boundaries, where the hardware's prefetcher stops. Without AVX2 the rows go through
//! candle's product ([`super::blocks`]).
//!
//! A Q4_K block (144 bytes): f16 scale `d`, f16 `dmin`, 12 bytes of eight 6-bit scales
//! and eight 6-bit mins, then 128 bytes of nibbles — bytes 32k..32k+32 hold sub-block 2k
//! in their low nibbles and 2k+1 in their high ones. A value is `d·scale·q − dmin·min`.
//! Tokens are quantized per 256 values to int8 with one scale (as Q8_K), their bytes
//! ordered so one 64-byte load meets the nibbles of two sub-blocks: 0 2 1 3 4 6 5 7.

#[cfg(any(test, not(target_arch = "x86_64")))]
use super::q8::f16_to_f32;
use super::wide::Wide;

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
    /// Per token and block: the sum of each 32 values' bytes (|sum| ≤ 4,064), sub-blocks
    /// 0..8.
    sums: Vec<i16>,
    /// Per token and block: 256 bytes in the order above.
    quants: Vec<i8>,
}

impl Q4kTokens {
    /// Token `t`'s block scales, sums and bytes, as the kernels read them.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn token(&self, t: usize) -> (&[f32], &[i16], &[i8]) {
        let (blocks, first) = (self.blocks, t * self.blocks);
        (
            &self.scales[first..first + blocks],
            &self.sums[first * 8..(first + blocks) * 8],
            &self.quants[first * BLOCK..(first + blocks) * BLOCK],
        )
    }

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
                let mut sum = 0i16;
                for (q, v) in quants[slot * 32..slot * 32 + 32].iter_mut().zip(chunk) {
                    let rounded = (v * inverse).round().clamp(-127.0, 127.0) as i8;
                    *q = rounded;
                    sum += i16::from(rounded);
                }
                self.sums[i * 8 + sub] = sum;
            }
        }
    }
}

/// The eight 6-bit scales and eight 6-bit mins of a block's 12 bytes, as llama.cpp's
/// `get_scale_min_k4` reads them.
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

/// The scales (bytes 0..8) and mins (bytes 8..16) of a block's 12 packed bytes,
/// unpacked four at a time as llama.cpp's kernels do: the same values as
/// [`scales_and_mins`] in a dozen integer operations instead of some forty.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn packed_scales_and_mins(bytes: &[u8]) -> (u64, u64) {
    const SIX_BITS: u32 = 0x3f3f_3f3f;
    const LOW_NIBBLES: u32 = 0x0f0f_0f0f;
    const TWO_BITS: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (a, b, c) = (word(0), word(4), word(8));
    let scales_low = a & SIX_BITS;
    let scales_high = (c & LOW_NIBBLES) | (((a >> 6) & TWO_BITS) << 4);
    let mins_low = b & SIX_BITS;
    let mins_high = ((c >> 4) & LOW_NIBBLES) | (((b >> 6) & TWO_BITS) << 4);
    (
        u64::from(scales_low) | u64::from(scales_high) << 32,
        u64::from(mins_low) | u64::from(mins_high) << 32,
    )
}

/// Q4_K rows as the bytes of Q8_0 rows (per 32 values an f16 scale and 32 int8s), for
/// a prompt's int8 tiles: the values candle's dequantizing gives, quantized as the
/// activations are, without making them floats. A sub-block's 32 values share a scale
/// and a min, so they take at most 16 values, `d·scale·q − dmin·min` for q = 0..15:
/// those are computed and rounded once, and each nibble looks its byte up. The largest
/// magnitude, which sets the Q8_0 scale, lies at the smallest or largest nibble present,
/// the values being monotonic in q.
pub(super) fn as_q8_0(rows: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(rows.len() / BLOCK_BYTES * 8 * 34);
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::cpu().avx2 {
        // SAFETY: the CPU has the features the function is compiled for.
        unsafe { x86::as_q8_0(rows, out) };
        return;
    }
    as_q8_0_portable(rows, out);
}

/// [`as_q8_0`] a value at a time (its rounding is the activations' portable quantizer's).
fn as_q8_0_portable(rows: &[u8], out: &mut Vec<u8>) {
    for block in rows.chunks_exact(BLOCK_BYTES) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
        let (scales, mins) = scales_and_mins(&block[4..16]);
        for sub in 0..8 {
            let bytes = &block[16 + (sub / 2) * 32..][..32];
            let nibble = |byte: u8| if sub % 2 == 0 { byte & 0xF } else { byte >> 4 };
            let (step, offset) = (d * f32::from(scales[sub]), dmin * f32::from(mins[sub]));
            let value = |q: u8| step * f32::from(q) - offset;
            let (low, high) = bytes.iter().fold((15u8, 0u8), |(low, high), &byte| {
                (low.min(nibble(byte)), high.max(nibble(byte)))
            });
            let scale = value(low).abs().max(value(high).abs()) / 127.0;
            let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let table: [u8; 16] =
                std::array::from_fn(|q| (value(q as u8) * inverse).round() as i8 as u8);
            out.extend_from_slice(&half::f16::from_f32(scale).to_le_bytes());
            out.extend(bytes.iter().map(|&byte| table[usize::from(nibble(byte))]));
        }
    }
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
            min_total += i32::from(mins[sub]) * i32::from(tokens.sums[at * 8 + sub]);
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
    use super::{BLOCK, BLOCK_BYTES, Q4kTokens, packed_scales_and_mins};

    /// Every row of `rows` times every token, into `out` as [`super::rows_times`] says.
    /// The loop over rows is compiled into the kernel: a row is only 8–56 blocks, and a
    /// call and its setup per row cost a tenth of the time.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VL; `rows` holds whole rows of `tokens.blocks`
    /// blocks, and the tokens hold that many blocks each.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub(super) unsafe fn rows_times(rows: &[u8], tokens: &Q4kTokens, out: &mut [f32]) {
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
    pub(super) unsafe fn rows_times_vnni(rows: &[u8], tokens: &Q4kTokens, out: &mut [f32]) {
        let row_bytes = tokens.blocks * BLOCK_BYTES;
        wide::rows_times(rows, row_bytes, tokens.tokens, out, |row, t| {
            // SAFETY: as in `rows_times`.
            unsafe { body::<true>(row, tokens, t) }
        });
    }

    /// [`super::as_q8_0`] in 256-bit registers: each sub-block's sixteen possible values
    /// made, scaled and rounded eight at a time (as the activations' quantizer rounds),
    /// and its 32 nibbles turned into their bytes by one byte shuffle.
    ///
    /// # Safety
    /// The CPU has AVX2 and F16C.
    #[target_feature(enable = "avx2,f16c")]
    pub(super) unsafe fn as_q8_0(rows: &[u8], out: &mut Vec<u8>) {
        let low_nibbles = _mm256_set1_epi8(0xF);
        let sign = _mm256_set1_ps(-0.0);
        let almost_half = _mm256_set1_ps(0.499_999_97);
        let first_eight = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
        let last_eight = _mm256_add_ps(first_eight, _mm256_set1_ps(8.0));
        for block in rows.chunks_exact(BLOCK_BYTES) {
            let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
            let (scales, mins) = super::scales_and_mins(&block[4..16]);
            for pair in 0..4 {
                // SAFETY: a block's nibbles are bytes 16..144: the four 32-byte loads at
                // 16 + 32·pair stay inside it.
                let bytes = unsafe { _mm256_loadu_si256(block[16 + 32 * pair..].as_ptr().cast()) };
                let halves = [
                    _mm256_and_si256(bytes, low_nibbles),
                    _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_nibbles),
                ];
                for (half, nibbles) in halves.into_iter().enumerate() {
                    let sub = 2 * pair + half;
                    let (step, offset) = (d * f32::from(scales[sub]), dmin * f32::from(mins[sub]));
                    let value = |q: u8| step * f32::from(q) - offset;
                    let (low, high) = extremes(nibbles);
                    let scale = value(low).abs().max(value(high).abs()) / 127.0;
                    let inverse = _mm256_set1_ps(if scale != 0.0 { 1.0 / scale } else { 0.0 });
                    // Multiplied, then subtracted, as `value` and candle compute them.
                    let ints = [first_eight, last_eight].map(|q| {
                        let v = _mm256_sub_ps(
                            _mm256_mul_ps(q, _mm256_set1_ps(step)),
                            _mm256_set1_ps(offset),
                        );
                        let y = _mm256_mul_ps(v, inverse);
                        let nudge = _mm256_or_ps(_mm256_and_ps(y, sign), almost_half);
                        _mm256_cvttps_epi32(_mm256_add_ps(y, nudge))
                    });
                    // i32 0..8 and 8..16 to sixteen bytes in order.
                    let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(
                        ints[0], ints[1],
                    ));
                    let table = _mm_packs_epi16(
                        _mm256_castsi256_si128(words),
                        _mm256_extracti128_si256::<1>(words),
                    );
                    let quants = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), nibbles);
                    let mut block_out = [0u8; 34];
                    block_out[..2].copy_from_slice(&half::f16::from_f32(scale).to_le_bytes());
                    // SAFETY: bytes 2..34 of a 34-byte array: one 32-byte store.
                    unsafe { _mm256_storeu_si256(block_out[2..].as_mut_ptr().cast(), quants) };
                    out.extend_from_slice(&block_out);
                }
            }
        }
    }

    /// The smallest and largest of 32 nibbles.
    #[inline(always)]
    fn extremes(nibbles: __m256i) -> (u8, u8) {
        // SAFETY: register arithmetic in AVX2, which the caller is compiled for.
        unsafe {
            let (a, b) = (
                _mm256_castsi256_si128(nibbles),
                _mm256_extracti128_si256::<1>(nibbles),
            );
            let both = (_mm_min_epu8(a, b), _mm_max_epu8(a, b));
            let (low, high) = fold::<1>(fold::<2>(fold::<4>(fold::<8>(both))));
            (_mm_cvtsi128_si32(low) as u8, _mm_cvtsi128_si32(high) as u8)
        }
    }

    /// The running minimum and maximum with their upper `BYTES` bytes folded onto the
    /// lower.
    #[inline(always)]
    fn fold<const BYTES: i32>((low, high): (__m128i, __m128i)) -> (__m128i, __m128i) {
        // SAFETY: register arithmetic in SSE2, which every x86_64 CPU has.
        unsafe {
            (
                _mm_min_epu8(low, _mm_srli_si128::<BYTES>(low)),
                _mm_max_epu8(high, _mm_srli_si128::<BYTES>(high)),
            )
        }
    }

    /// What both widths do with a block's 16-byte head: d and dmin times the token's
    /// scale (lanes 0 and 1 of the first value), the eight sub-block scales as i16 (the
    /// second), and `dmin · Σ min × token sum` added to `mins_total`. The scales and mins
    /// are unpacked in vector registers where `IN_VECTORS` (the 512-bit kernels: a
    /// block from L2 in 2.95 ns instead of 3.2) and in general-purpose ones otherwise
    /// (the 256-bit kernels, whose vector ports are the bottleneck: 4.15 ns against
    /// 4.6 in vectors).
    ///
    /// # Safety
    /// The CPU has F16C and FMA, and the caller is compiled for them; `block` is a whole
    /// block and `x_sums` the token's eight sums for it.
    #[inline(always)]
    pub(super) unsafe fn block_head<const IN_VECTORS: bool>(
        block: &[u8],
        x_scale: f32,
        x_sums: &[i16],
        mins_total: &mut __m128,
    ) -> (__m128, __m128i) {
        let x_sums = &x_sums[..8];
        // SAFETY: register arithmetic on features the caller has; the loads read the
        // block's 16-byte head and the eight sums, both bounded above.
        unsafe {
            let sums16 = _mm_loadu_si128(x_sums.as_ptr().cast());
            let (d_dmin, scales16, mins16) = if IN_VECTORS {
                let head = _mm_loadu_si128(block[..16].as_ptr().cast());
                // d and dmin are the head's first two f16s.
                let d_dmin = _mm_mul_ps(_mm_cvtph_ps(head), _mm_set1_ps(x_scale));
                let scales_mins = scales_and_mins(head);
                (
                    d_dmin,
                    _mm_cvtepu8_epi16(scales_mins),
                    _mm_unpackhi_epi8(scales_mins, _mm_setzero_si128()),
                )
            } else {
                let d_dmin = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from_le_bytes([
                    block[0], block[1], block[2], block[3],
                ])));
                let d_dmin = _mm_mul_ps(d_dmin, _mm_set1_ps(x_scale));
                let (scales, mins) = packed_scales_and_mins(&block[4..16]);
                (
                    d_dmin,
                    _mm_cvtepu8_epi16(_mm_cvtsi64_si128(scales as i64)),
                    _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64)),
                )
            };
            let mins_by_sums = _mm_madd_epi16(mins16, sums16);
            *mins_total = _mm_fmadd_ps(
                _mm_cvtepi32_ps(mins_by_sums),
                _mm_permute_ps::<0x55>(d_dmin),
                *mins_total,
            );
            (d_dmin, scales16)
        }
    }

    /// The eight 6-bit scales (bytes 0..8) and eight 6-bit mins (bytes 8..16) packed in
    /// bytes 4..16 of a block's `head`, as llama.cpp's `get_scale_min_k4` reads them, in
    /// ten register operations: two byte shuffles put each value's low bits and its
    /// high two bits in its own byte, masks and shifts join them.
    ///
    /// # Safety
    /// The CPU has SSSE3.
    #[inline(always)]
    pub(super) unsafe fn scales_and_mins(head: __m128i) -> __m128i {
        // SAFETY: register arithmetic in SSSE3, which the caller has.
        unsafe {
            // Packed byte p is head byte 4 + p. Low bits: scales 0..4 are p 0..4,
            // scales 4..8 the low nibbles of p 8..12, mins 0..4 are p 4..8, mins 4..8
            // the high nibbles of p 8..12.
            let low = _mm_shuffle_epi8(
                head,
                _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15),
            );
            // High two bits of scales 4..8 and mins 4..8: the top bits of p 0..4, 4..8.
            let top = _mm_shuffle_epi8(
                head,
                _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11),
            );
            let six_or_four =
                _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0);
            let upper_nibbles = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15);
            // 16-bit shifts carry a neighbour's bits into a byte; the masks drop them.
            let low = _mm_or_si128(
                _mm_and_si128(low, six_or_four),
                _mm_and_si128(_mm_srli_epi16(low, 4), upper_nibbles),
            );
            _mm_or_si128(
                low,
                _mm_and_si128(_mm_srli_epi16(top, 2), _mm_set1_epi8(0x30)),
            )
        }
    }

    /// `row` times token `t`. Each 64 bytes of nibbles meet the token's bytes in one
    /// byte product to pairs of i16; the sub-blocks' scales multiply those in integers
    /// (still exact), so a block ends in a single conversion and multiply-add.
    ///
    /// # Safety
    /// As the entries that call it.
    #[inline(always)]
    unsafe fn body<const VNNI: bool>(row: &[u8], tokens: &Q4kTokens, t: usize) -> f32 {
        let blocks = tokens.blocks;
        let (x_scales, x_sums, x_quants) = tokens.token(t);
        let row = &row[..blocks * BLOCK_BYTES];
        // SAFETY: the entry enables every instruction used here and its caller checked the
        // CPU has them; each load reads inside a slice bounded above (a token's 256 bytes
        // and 8 sums, a block's 144 bytes).
        unsafe {
            let mut sums = _mm512_setzero_ps();
            let mut mins_total = _mm_setzero_ps();
            let low = _mm512_set1_epi8(0xF);
            // Each sub-block's scale over its 16 i16 lanes: (0, 2), (1, 3), (4, 6), (5, 7).
            let spread = |a: i16, b: i16| {
                _mm512_set_epi16(
                    b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, a, a, a, a, a, a, a, a, a, a,
                    a, a, a, a, a, a,
                )
            };
            let spread = [spread(0, 2), spread(1, 3), spread(4, 6), spread(5, 7)];
            for b in 0..blocks {
                let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
                let head = block.as_ptr();
                // The hardware's prefetcher stops at each 4 KB page: fetch ahead across
                // them.
                fetch_ahead::<3>(head);
                let (d_dmin, scales16) = block_head::<true>(
                    block,
                    x_scales[b],
                    &x_sums[b * 8..b * 8 + 8],
                    &mut mins_total,
                );
                let scales16 = _mm512_castsi128_si512(scales16);
                let x = x_quants[b * BLOCK..(b + 1) * BLOCK].as_ptr();
                let q = block[16..].as_ptr();
                let first = _mm512_loadu_si512(q.cast());
                let second = _mm512_loadu_si512(q.add(64).cast());
                let nibbles = [
                    _mm512_and_si512(first, low),
                    _mm512_and_si512(_mm512_srli_epi16(first, 4), low),
                    _mm512_and_si512(second, low),
                    _mm512_and_si512(_mm512_srli_epi16(second, 4), low),
                ];
                let mut scaled = _mm512_setzero_si512();
                for k in 0..4 {
                    // Nibbles (≤ 15) times bytes (|x| ≤ 127): pairs stay within i16, and
                    // times a scale (≤ 63) within i32.
                    let pairs =
                        _mm512_maddubs_epi16(nibbles[k], _mm512_loadu_si512(x.add(64 * k).cast()));
                    let scale = _mm512_permutexvar_epi16(spread[k], scales16);
                    scaled = if VNNI {
                        _mm512_dpwssd_epi32(scaled, pairs, scale)
                    } else {
                        _mm512_add_epi32(scaled, _mm512_madd_epi16(pairs, scale))
                    };
                }
                sums = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(scaled),
                    _mm512_broadcastss_ps(d_dmin),
                    sums,
                );
            }
            _mm512_reduce_add_ps(sums) - sum_lanes(mins_total)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "q4k_avx2.rs"]
mod avx2;

#[cfg(test)]
#[path = "q4k_tests.rs"]
mod tests;
