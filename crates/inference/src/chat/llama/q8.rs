//! Q8_0 matrices read in place from the mapped GGUF file (blocks of 32 signed bytes
//! after an f16 scale): dequantizing rows, quantizing activations the way llama.cpp and
//! candle quantize them, and a dot product per weight row against a few quantized
//! tokens, with AVX-VNNI or AVX2 where the CPU has them.

use std::ops::Range;
use std::sync::Arc;

use half::f16;
use memmap2::Mmap;

pub(super) const BLOCK: usize = 32;
pub(super) const BLOCK_BYTES: usize = 2 + BLOCK;

/// A `rows × columns` Q8_0 matrix in the mapped model file.
pub(super) struct Q8Matrix {
    map: Arc<Mmap>,
    start: usize,
    pub(super) rows: usize,
    pub(super) columns: usize,
}

impl Q8Matrix {
    /// The matrix whose blocks start at byte `start` of `map`; refused when its columns
    /// are not whole blocks or its bytes run past the file's end.
    pub(super) fn new(
        map: Arc<Mmap>,
        start: usize,
        rows: usize,
        columns: usize,
    ) -> Result<Q8Matrix, String> {
        if columns == 0 || !columns.is_multiple_of(BLOCK) {
            return Err(format!(
                "a Q8_0 row of {columns} values is not whole blocks of {BLOCK}"
            ));
        }
        let end = (columns / BLOCK)
            .checked_mul(BLOCK_BYTES)
            .and_then(|row| row.checked_mul(rows))
            .and_then(|size| size.checked_add(start));
        match end {
            Some(end) if end <= map.len() => Ok(Q8Matrix {
                map,
                start,
                rows,
                columns,
            }),
            _ => Err(format!(
                "a {rows}×{columns} Q8_0 matrix at byte {start} runs past the end of the file"
            )),
        }
    }

    fn blocks(&self) -> usize {
        self.columns / BLOCK
    }

    fn row_bytes(&self) -> usize {
        self.blocks() * BLOCK_BYTES
    }

    /// The bytes of rows `rows`.
    pub(super) fn bytes(&self, rows: Range<usize>) -> &[u8] {
        let row = self.row_bytes();
        &self.map[self.start + rows.start * row..self.start + rows.end * row]
    }

    /// Rows `rows` as floats, one after another, into `out`.
    pub(super) fn dequantize(&self, rows: Range<usize>, out: &mut [f32]) {
        dequantize(self.bytes(rows), out);
    }
}

/// An f16's value, inlined where `half` would call out per block: the f16's exponent and
/// mantissa moved into an f32's and rescaled by 2^112, which also makes its subnormals
/// normal; infinities and NaNs keep an all-ones exponent.
#[inline(always)]
pub(super) fn f16_to_f32(bytes: [u8; 2]) -> f32 {
    let bits = u32::from(u16::from_le_bytes(bytes));
    let magnitude = (bits & 0x7fff) << 13;
    let value = if magnitude >= 0x7c00 << 13 {
        f32::from_bits(magnitude | 0x7f80_0000)
    } else {
        f32::from_bits(magnitude) * f32::from_bits(0x7780_0000)
    };
    f32::from_bits(value.to_bits() | (bits & 0x8000) << 16)
}

crate::kernels::vectorised!(dequantize => dequantize_portable(bytes: &[u8], out: &mut [f32]));

#[inline(always)]
fn dequantize_portable(bytes: &[u8], out: &mut [f32]) {
    for (block, out) in bytes
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(BLOCK))
    {
        let scale = f16_to_f32([block[0], block[1]]);
        for (value, &q) in out.iter_mut().zip(&block[2..]) {
            *value = scale * f32::from(q as i8);
        }
    }
}

/// Activation rows quantized for a Q8_0 product: per block of 32, the bytes and a scale
/// (rounded to f16, as the file's own blocks are).
#[derive(Default)]
pub(super) struct Quantized {
    quants: Vec<i8>,
    scales: Vec<f32>,
    rows: usize,
    blocks: usize,
}

impl Quantized {
    /// How many token rows it holds.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Blocks per row.
    pub(super) fn blocks(&self) -> usize {
        self.blocks
    }

    /// Each row's blocks' bytes, row after row.
    pub(super) fn quants(&self) -> &[i8] {
        &self.quants[..self.rows * self.blocks * BLOCK]
    }

    /// Each row's blocks' scales, row after row.
    pub(super) fn scales(&self) -> &[f32] {
        &self.scales[..self.rows * self.blocks]
    }

    /// Quantizes `x`, rows of `columns` values (a whole number of blocks).
    pub(super) fn quantize(&mut self, x: &[f32], columns: usize) {
        self.blocks = columns / BLOCK;
        self.rows = x.len() / columns.max(1);
        self.quants.resize(self.rows * columns, 0);
        self.scales.resize(self.rows * self.blocks, 0.0);
        quantize(x, &mut self.quants, &mut self.scales);
    }
}

fn quantize(x: &[f32], quants: &mut [i8], scales: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::cpu().avx2 {
        // SAFETY: the CPU has the features the kernel is compiled for.
        unsafe { x86::quantize_avx2(x, quants, scales) };
        return;
    }
    quantize_portable(x, quants, scales);
}

/// candle's and llama.cpp's rounding, so a product matches theirs.
fn quantize_portable(x: &[f32], quants: &mut [i8], scales: &mut [f32]) {
    for ((block, quants), scale) in x
        .chunks_exact(BLOCK)
        .zip(quants.chunks_exact_mut(BLOCK))
        .zip(scales.iter_mut())
    {
        let amax = block.iter().fold(0.0f32, |max, v| max.max(v.abs()));
        let d = amax / 127.0;
        let inverse = if d != 0.0 { 1.0 / d } else { 0.0 };
        *scale = f16::from_f32(d).to_f32();
        for (q, v) in quants.iter_mut().zip(block) {
            *q = (v * inverse).round() as i8;
        }
    }
}

/// The 32-value block formats whose products take Q8_0 activations: Q8_0 itself, and
/// Q4_0 and Q5_0 (what llama.cpp's quantizer writes for Q4_K and Q6_K where a row is not
/// whole 256-value blocks: most of Gemma-3-1B) unpacked to signed bytes as they are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SmallBlocks {
    Q8_0,
    Q4_0,
    Q5_0,
}

impl SmallBlocks {
    pub(super) fn bytes(self) -> usize {
        match self {
            SmallBlocks::Q8_0 => BLOCK_BYTES,
            SmallBlocks::Q4_0 => 2 + BLOCK / 2,
            SmallBlocks::Q5_0 => 2 + 4 + BLOCK / 2,
        }
    }

    /// A block's scale and its 32 values as signed bytes.
    fn unpack(self, block: &[u8]) -> (f32, [i8; BLOCK]) {
        let scale = f16_to_f32([block[0], block[1]]);
        let mut values = [0i8; BLOCK];
        match self {
            SmallBlocks::Q8_0 => {
                for (v, &b) in values.iter_mut().zip(&block[2..]) {
                    *v = b as i8;
                }
            }
            SmallBlocks::Q4_0 | SmallBlocks::Q5_0 => {
                let (high, nibbles) = if self == SmallBlocks::Q5_0 {
                    let bits = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
                    (bits, &block[6..])
                } else {
                    (0, &block[2..])
                };
                let offset = if self == SmallBlocks::Q5_0 { 16 } else { 8 };
                for (j, &byte) in nibbles.iter().enumerate() {
                    let fifth = |bit: usize| (((high >> bit) & 1) << 4) as i16;
                    values[j] = ((byte & 0x0F) as i16 | fifth(j)).wrapping_sub(offset) as i8;
                    values[j + 16] =
                        ((byte >> 4) as i16 | fifth(j + 16)).wrapping_sub(offset) as i8;
                }
            }
        }
        (scale, values)
    }
}

/// The dot-product kernel this CPU runs, chosen once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    AvxVnni,
    Avx512Vnni,
    Avx2,
    Portable,
}

impl Kernel {
    pub(super) fn detect() -> Kernel {
        let cpu = crate::kernels::cpu();
        if cpu.avx_vnni {
            Kernel::AvxVnni
        } else if cpu.avx512_vnni {
            Kernel::Avx512Vnni
        } else if cpu.avx2 {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    /// `out[j · n + t] = row j of `rows` · activation row t`, over the matrix rows
    /// `rows` (the output is transposed, so a share of the rows is a share of `out`).
    pub(super) fn rows_times(
        self,
        matrix: &Q8Matrix,
        rows: Range<usize>,
        acts: &Quantized,
        out: &mut [f32],
    ) {
        assert_eq!(acts.blocks, matrix.blocks());
        self.blocks_times(SmallBlocks::Q8_0, matrix.bytes(rows), acts, out);
    }

    /// The same for whole rows of `format`'s blocks, `bytes` (each row as many blocks
    /// as the activations have).
    pub(super) fn blocks_times(
        self,
        format: SmallBlocks,
        bytes: &[u8],
        acts: &Quantized,
        out: &mut [f32],
    ) {
        assert_eq!(
            bytes.len() * acts.rows,
            out.len() * acts.blocks * format.bytes()
        );
        assert!(acts.quants.len() >= acts.rows * acts.blocks * BLOCK);
        assert!(acts.scales.len() >= acts.rows * acts.blocks);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `detect` chose the kernel for features this CPU has; the asserts above
        // bound every block the kernels read.
        unsafe {
            use x86::{Q4_0, Q5_0, Q8_0};
            match (self, format) {
                (Kernel::AvxVnni, SmallBlocks::Q8_0) => {
                    return x86::rows_avx_vnni::<Q8_0>(bytes, acts, out);
                }
                (Kernel::AvxVnni, SmallBlocks::Q4_0) => {
                    return x86::rows_avx_vnni::<Q4_0>(bytes, acts, out);
                }
                (Kernel::AvxVnni, SmallBlocks::Q5_0) => {
                    return x86::rows_avx_vnni::<Q5_0>(bytes, acts, out);
                }
                (Kernel::Avx512Vnni, SmallBlocks::Q8_0) => {
                    return x86::rows_avx512_vnni::<Q8_0>(bytes, acts, out);
                }
                (Kernel::Avx512Vnni, SmallBlocks::Q4_0) => {
                    return x86::rows_avx512_vnni::<Q4_0>(bytes, acts, out);
                }
                (Kernel::Avx512Vnni, SmallBlocks::Q5_0) => {
                    return x86::rows_avx512_vnni::<Q5_0>(bytes, acts, out);
                }
                (Kernel::Avx2, SmallBlocks::Q8_0) => {
                    return x86::rows_avx2::<Q8_0>(bytes, acts, out);
                }
                (Kernel::Avx2, SmallBlocks::Q4_0) => {
                    return x86::rows_avx2::<Q4_0>(bytes, acts, out);
                }
                (Kernel::Avx2, SmallBlocks::Q5_0) => {
                    return x86::rows_avx2::<Q5_0>(bytes, acts, out);
                }
                (Kernel::Portable, _) => {}
            }
        }
        rows_portable(format, bytes, acts, out);
    }
}

fn rows_portable(format: SmallBlocks, bytes: &[u8], acts: &Quantized, out: &mut [f32]) {
    let blocks = acts.blocks;
    let block_bytes = format.bytes();
    for (row, out) in bytes
        .chunks_exact(blocks * block_bytes)
        .zip(out.chunks_exact_mut(acts.rows))
    {
        for (t, out) in out.iter_mut().enumerate() {
            let mut sum = 0.0f32;
            for (b, block) in row.chunks_exact(block_bytes).enumerate() {
                let (scale, weights) = format.unpack(block);
                let x = &acts.quants[(t * blocks + b) * BLOCK..][..BLOCK];
                let dot: i32 = weights
                    .iter()
                    .zip(x)
                    .map(|(&w, &x)| i32::from(w) * i32::from(x))
                    .sum();
                sum += scale * acts.scales[t * blocks + b] * dot as f32;
            }
            *out = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::wide::fetch_ahead;
    use super::{BLOCK, Quantized};

    /// A weight block format: its size, and a block's f16 scale bits and 32 values as
    /// signed bytes in a register.
    pub(super) trait Weights {
        const BYTES: usize;
        /// # Safety
        /// `block` points at a whole block; the CPU has AVX2.
        unsafe fn load(block: *const u8) -> (u16, __m256i);
    }

    pub(super) struct Q8_0;
    pub(super) struct Q4_0;
    pub(super) struct Q5_0;

    impl Weights for Q8_0 {
        const BYTES: usize = super::BLOCK_BYTES;
        #[inline(always)]
        unsafe fn load(block: *const u8) -> (u16, __m256i) {
            // SAFETY: the block's 2 + 32 bytes (the caller's contract), read unaligned.
            unsafe {
                (
                    block.cast::<u16>().read_unaligned(),
                    _mm256_loadu_si256(block.add(2).cast()),
                )
            }
        }
    }

    /// Sixteen bytes' low nibbles, then their high nibbles: values 0–15 and 16–31.
    ///
    /// # Safety
    /// `quants` points at 16 bytes; the CPU has AVX2.
    #[inline(always)]
    unsafe fn nibbles(quants: *const u8) -> __m256i {
        // SAFETY: one unaligned 16-byte load inside the block; register arithmetic.
        unsafe {
            let packed = _mm_loadu_si128(quants.cast());
            let low = _mm_set1_epi8(0x0F);
            _mm256_set_m128i(
                _mm_and_si128(_mm_srli_epi16(packed, 4), low),
                _mm_and_si128(packed, low),
            )
        }
    }

    impl Weights for Q4_0 {
        const BYTES: usize = 2 + BLOCK / 2;
        #[inline(always)]
        unsafe fn load(block: *const u8) -> (u16, __m256i) {
            // SAFETY: the block's 2 + 16 bytes (the caller's contract).
            unsafe {
                let values = _mm256_sub_epi8(nibbles(block.add(2)), _mm256_set1_epi8(8));
                (block.cast::<u16>().read_unaligned(), values)
            }
        }
    }

    impl Weights for Q5_0 {
        const BYTES: usize = 2 + 4 + BLOCK / 2;
        #[inline(always)]
        unsafe fn load(block: *const u8) -> (u16, __m256i) {
            // SAFETY: the block's 2 + 4 + 16 bytes (the caller's contract); register
            // arithmetic otherwise.
            unsafe {
                let bits = block.add(2).cast::<i32>().read_unaligned();
                // Byte i of the register gets byte i / 8 of the bits; or-ing in every bit
                // but bit i % 8 leaves all ones exactly where value i's fifth bit is set.
                let spread = _mm256_shuffle_epi8(
                    _mm256_set1_epi32(bits),
                    _mm256_set_epi64x(
                        0x0303_0303_0303_0303,
                        0x0202_0202_0202_0202,
                        0x0101_0101_0101_0101,
                        0,
                    ),
                );
                let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
                let set = _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi8(-1));
                // Without the fifth bit a value is its nibble − 16: the nibble with the
                // high four bits set, read as a signed byte.
                let negative = _mm256_andnot_si256(set, _mm256_set1_epi8(0xF0_u8 as i8));
                let values = _mm256_or_si256(nibbles(block.add(6)), negative);
                (block.cast::<u16>().read_unaligned(), values)
            }
        }
    }

    /// Unsigned × signed bytes, summed in fours into eight i32 lanes.
    trait ByteDot {
        /// # Safety
        /// The CPU has the implementing type's instructions: AVX-VNNI, AVX-512 VNNI with
        /// VL, or AVX2.
        unsafe fn dot(unsigned: __m256i, signed: __m256i) -> __m256i;
    }

    struct AvxVnni;
    struct Avx512Vnni;
    struct Avx2;

    impl ByteDot for AvxVnni {
        #[inline(always)]
        unsafe fn dot(unsigned: __m256i, signed: __m256i) -> __m256i {
            // SAFETY: only called from code compiled with AVX-VNNI (`rows_avx_vnni`);
            // register arithmetic, no memory.
            unsafe { _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), unsigned, signed) }
        }
    }

    impl ByteDot for Avx512Vnni {
        #[inline(always)]
        unsafe fn dot(unsigned: __m256i, signed: __m256i) -> __m256i {
            // SAFETY: only called from code compiled with AVX-512 VNNI and VL
            // (`rows_avx512_vnni`); register arithmetic, no memory.
            unsafe { _mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned, signed) }
        }
    }

    impl ByteDot for Avx2 {
        #[inline(always)]
        unsafe fn dot(unsigned: __m256i, signed: __m256i) -> __m256i {
            // Pairs stay within i16: |w| ≤ 128 and |x| ≤ 127.
            // SAFETY: only called from code compiled with AVX2; register arithmetic, no
            // memory.
            unsafe {
                _mm256_madd_epi16(_mm256_maddubs_epi16(unsigned, signed), _mm256_set1_epi16(1))
            }
        }
    }

    /// # Safety
    /// The CPU has AVX2, FMA, F16C and AVX-VNNI; `bytes` holds whole weight rows of
    /// `acts.blocks` blocks, and `out` one slot per row and token.
    #[target_feature(enable = "avx2,fma,f16c,avxvnni")]
    pub(super) unsafe fn rows_avx_vnni<W: Weights>(
        bytes: &[u8],
        acts: &Quantized,
        out: &mut [f32],
    ) {
        // SAFETY: this function enables the features `rows::<AvxVnni>` uses, and its caller
        // checked the CPU has them and bounded the slices (its # Safety).
        unsafe { rows::<AvxVnni, W>(bytes, acts, out) }
    }

    /// # Safety
    /// The CPU has AVX2, FMA, F16C, AVX-512 VNNI and VL; `bytes` holds whole weight rows
    /// of `acts.blocks` blocks, and `out` one slot per row and token.
    #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
    pub(super) unsafe fn rows_avx512_vnni<W: Weights>(
        bytes: &[u8],
        acts: &Quantized,
        out: &mut [f32],
    ) {
        // SAFETY: this function enables the features `rows::<Avx512Vnni>` uses, and its
        // caller checked the CPU has them and bounded the slices (its # Safety).
        unsafe { rows::<Avx512Vnni, W>(bytes, acts, out) }
    }

    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `bytes` holds whole weight rows of `acts.blocks`
    /// blocks, and `out` one slot per row and token.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn rows_avx2<W: Weights>(bytes: &[u8], acts: &Quantized, out: &mut [f32]) {
        // SAFETY: this function enables the features `rows::<Avx2>` uses, and its caller
        // checked the CPU has them and bounded the slices (its # Safety).
        unsafe { rows::<Avx2, W>(bytes, acts, out) }
    }

    /// Every weight row against the activation rows, four at a time, so each weight
    /// block is loaded once for up to four tokens.
    ///
    /// # Safety
    /// As the `rows_*` functions that call it, with `D`'s instructions on the CPU.
    #[inline(always)]
    unsafe fn rows<D: ByteDot, W: Weights>(bytes: &[u8], acts: &Quantized, out: &mut [f32]) {
        let n = acts.rows;
        for (row, out) in bytes
            .chunks_exact(acts.blocks * W::BYTES)
            .zip(out.chunks_exact_mut(n))
        {
            let mut first = 0;
            while first < n {
                let row = row.as_ptr();
                let out = &mut out[first..];
                // SAFETY: `row` is a whole weight row (`acts.blocks` blocks, from
                // `chunks_exact`); tokens `first..first + N` exist because N ≤ n - first,
                // and `out` has a slot for each.
                unsafe {
                    match n - first {
                        1 => row_dots::<D, W, 1>(row, acts, first, out),
                        2 => row_dots::<D, W, 2>(row, acts, first, out),
                        3 => row_dots::<D, W, 3>(row, acts, first, out),
                        _ => row_dots::<D, W, 4>(row, acts, first, out),
                    }
                }
                first += (n - first).min(4);
            }
        }
    }

    /// One weight row against activation rows `first..first + N`; two running sums
    /// per token (even and odd blocks), so the additions do not wait on each other.
    ///
    /// # Safety
    /// `row` points at `acts.blocks` blocks of `W`; tokens `first..first + N` exist in
    /// `acts`; `out` has N slots; the CPU has AVX2, FMA, F16C and `D`'s instructions.
    #[inline(always)]
    unsafe fn row_dots<D: ByteDot, W: Weights, const N: usize>(
        row: *const u8,
        acts: &Quantized,
        first: usize,
        out: &mut [f32],
    ) {
        // SAFETY: blocks 0..`acts.blocks` lie in the row (the caller's contract); `at` <
        // `acts.rows` × `acts.blocks`, so each 32-byte load of quants and each scale is
        // inside `acts`; the f16 scale is read unaligned.
        unsafe {
            let blocks = acts.blocks;
            let mut sums = [[_mm256_setzero_ps(); 2]; N];
            for b in 0..blocks {
                let block = row.add(b * W::BYTES);
                // The hardware's prefetcher stops at each 4 KB page: fetch ahead across
                // them (a block is at most 34 bytes, so a line a block stays ahead).
                fetch_ahead::<1>(block);
                let (scale, weights) = W::load(block);
                let scale = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(scale))));
                let magnitudes = _mm256_sign_epi8(weights, weights);
                for (t, sums) in sums.iter_mut().enumerate() {
                    let at = (first + t) * blocks + b;
                    let x = _mm256_loadu_si256(acts.quants.as_ptr().add(at * BLOCK).cast());
                    let signed = _mm256_sign_epi8(x, weights);
                    let dot = _mm256_cvtepi32_ps(D::dot(magnitudes, signed));
                    let factor = _mm256_set1_ps(scale * *acts.scales.get_unchecked(at));
                    sums[b & 1] = _mm256_fmadd_ps(factor, dot, sums[b & 1]);
                }
            }
            for (t, sums) in sums.iter().enumerate() {
                out[t] = sum_lanes(_mm256_add_ps(sums[0], sums[1]));
            }
        }
    }

    /// [`super::quantize_portable`] eight lanes at a time: the rounding half away from
    /// zero is `x + (0.5 - ulp)·sign(x)` truncated, exact for the |x| ≤ 127.5 quantizing
    /// gives, and the scale is rounded to f16 by the same instruction `half` uses.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn quantize_avx2(x: &[f32], quants: &mut [i8], scales: &mut [f32]) {
        let sign = _mm256_set1_ps(-0.0);
        let almost_half = _mm256_set1_ps(0.499_999_97);
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for ((block, quants), scale) in x
            .chunks_exact(BLOCK)
            .zip(quants.chunks_exact_mut(BLOCK))
            .zip(scales.iter_mut())
        {
            let v: [__m256; 4] =
                // SAFETY: `block` is BLOCK (32) floats, so the four loads of eight at i × 8
                // stay inside it; this function is compiled with AVX2.
                std::array::from_fn(|i| unsafe { _mm256_loadu_ps(block[i * 8..].as_ptr()) });
            let magnitudes = v.map(|v| _mm256_andnot_ps(sign, v));
            let max = _mm256_max_ps(
                _mm256_max_ps(magnitudes[0], magnitudes[1]),
                _mm256_max_ps(magnitudes[2], magnitudes[3]),
            );
            let max = _mm_max_ps(_mm256_castps256_ps128(max), _mm256_extractf128_ps(max, 1));
            let max = _mm_max_ps(max, _mm_movehl_ps(max, max));
            let amax = _mm_cvtss_f32(_mm_max_ss(max, _mm_shuffle_ps(max, max, 1)));
            let d = amax / 127.0;
            let inverse = _mm256_set1_ps(if d != 0.0 { 1.0 / d } else { 0.0 });
            *scale = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(
                _mm_set_ss(d),
            )));
            let ints = v.map(|v| {
                let y = _mm256_mul_ps(v, inverse);
                let nudge = _mm256_or_ps(_mm256_and_ps(y, sign), almost_half);
                _mm256_cvttps_epi32(_mm256_add_ps(y, nudge))
            });
            let bytes = _mm256_packs_epi16(
                _mm256_packs_epi32(ints[0], ints[1]),
                _mm256_packs_epi32(ints[2], ints[3]),
            );
            let bytes = _mm256_permutevar8x32_epi32(bytes, order);
            // SAFETY: `quants` is one block of BLOCK (32) bytes: one unaligned 256-bit
            // store.
            unsafe { _mm256_storeu_si256(quants.as_mut_ptr().cast(), bytes) };
        }
    }

    /// # Safety
    /// The CPU has AVX.
    #[inline(always)]
    unsafe fn sum_lanes(v: __m256) -> f32 {
        // SAFETY: register arithmetic only; callers are compiled with AVX2.
        unsafe {
            let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let pairs = _mm_add_ps(half, _mm_movehl_ps(half, half));
            _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)))
        }
    }
}

#[cfg(test)]
#[path = "q8_tests.rs"]
pub(super) mod tests;
