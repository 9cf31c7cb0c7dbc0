//! Prompt products in int8, as llama.cpp multiplies Q8_0 prompts: the activations are
//! quantized to Q8_0 and each weight tile is repacked so one VNNI instruction (or, with
//! AVX2 alone, four) multiplies four bytes of a token with four bytes of 8 or 16 weight
//! rows at once. A lane of a
//! register is a weight row, so a block's scales apply lane by lane and a token's results
//! for consecutive rows are stored together — no sums across lanes, no per-block
//! dequantizing to floats (which cost a short prompt more than its arithmetic).
//!
//! A packed group of `lanes` rows holds, per block of 32 columns, ten vectors of `lanes`
//! 32-bit lanes: eight with the rows' bytes `4j..4j + 4` for `j` in `0..8`, then −128 × the
//! rows' byte sums (the activations are stored unsigned, +128, because the instruction
//! multiplies unsigned by signed bytes), then the rows' scales.

use std::ops::Range;

use super::blocks::Requantized;
use super::matrix::Matrix;
use super::q8::{BLOCK, Quantized};

/// Weight rows packed (or, for gemm, dequantized) at a time: the tile of the widest rows
/// (1,536 values) stays in a core's L2 cache while every token goes past it.
pub(super) const TILE_ROWS: usize = 128;

/// Vectors per packed block: eight of weight bytes, the correction, the scales.
const VECTORS: usize = 10;

/// The instruction set the tiles run on, chosen once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TileKernel {
    /// 512-bit registers, 16 rows a group; 32 registers hold more tokens at once.
    Avx512Vnni,
    /// 256-bit registers, 8 rows a group.
    AvxVnni,
    /// AVX2 without VNNI, 8 rows a group: unsigned-by-signed byte products would
    /// overflow their 16-bit pairs with the +128 tokens, so the tokens stay signed and
    /// each product is |token| × (weight with the token's sign), as llama.cpp's AVX2
    /// Q8_0 product does — four instructions where VNNI takes one, still some twice
    /// gemm's rate on floats.
    Avx2,
}

impl TileKernel {
    pub(super) fn detect() -> Option<TileKernel> {
        let cpu = crate::kernels::cpu();
        if cpu.avx512_vnni {
            Some(TileKernel::Avx512Vnni)
        } else if cpu.avx_vnni {
            Some(TileKernel::AvxVnni)
        } else if cpu.avx2 {
            Some(TileKernel::Avx2)
        } else {
            None
        }
    }

    fn lanes(self) -> usize {
        match self {
            TileKernel::Avx512Vnni => 16,
            TileKernel::AvxVnni | TileKernel::Avx2 => 8,
        }
    }

    /// Whether the kernel takes the tokens' bytes +128 (unsigned), or as they are.
    fn unsigned_tokens(self) -> bool {
        self != TileKernel::Avx2
    }
}

/// Quantized tokens laid out block by block: for each block, every token's 32 bytes
/// (+128, unsigned, for the VNNI kernels) and its scale, so the tokens a tile takes at
/// once are together.
#[derive(Default)]
pub(super) struct Columns {
    bytes: Vec<u8>,
    scales: Vec<f32>,
    tokens: usize,
    blocks: usize,
    kernel: Option<TileKernel>,
}

impl Columns {
    pub(super) fn arrange(&mut self, acts: &Quantized, kernel: TileKernel) {
        let (tokens, blocks) = (acts.rows(), acts.blocks());
        self.tokens = tokens;
        self.blocks = blocks;
        self.kernel = Some(kernel);
        let flip = if kernel.unsigned_tokens() { 0x80 } else { 0 };
        self.bytes.resize(tokens * blocks * BLOCK, 0);
        self.scales.resize(tokens * blocks, 0.0);
        for (t, (quants, scales)) in acts
            .quants()
            .chunks_exact(blocks * BLOCK)
            .zip(acts.scales().chunks_exact(blocks))
            .enumerate()
        {
            for (b, (block, &scale)) in quants.chunks_exact(BLOCK).zip(scales).enumerate() {
                let at = b * tokens + t;
                for (to, &q) in self.bytes[at * BLOCK..(at + 1) * BLOCK]
                    .iter_mut()
                    .zip(block)
                {
                    *to = (q as u8) ^ flip;
                }
                self.scales[at] = scale;
            }
        }
    }
}

/// Room for one packed tile, aligned for the widest registers, and for the tile's rows
/// re-expressed as Q8_0 where the matrix is in another block format.
#[derive(Default)]
pub(super) struct Pack(Vec<Line>, Requantized);

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// `out (tokens × rows, row stride out_row) = tokens · matrix[rows]ᵀ`, a packed tile of
/// rows at a time.
pub(super) fn tile_products(
    kernel: TileKernel,
    tokens: &Columns,
    matrix: &Matrix,
    rows: Range<usize>,
    out: &mut [f32],
    out_row: usize,
    pack: &mut Pack,
) {
    let blocks = matrix.columns() / BLOCK;
    assert_eq!(tokens.blocks, blocks);
    assert_eq!(
        tokens.kernel,
        Some(kernel),
        "tokens arranged for another kernel"
    );
    assert!(tokens.bytes.len() >= tokens.tokens * blocks * BLOCK);
    assert!(tokens.scales.len() >= tokens.tokens * blocks);
    if tokens.tokens == 0 || rows.is_empty() {
        return;
    }
    assert!(rows.len() <= out_row);
    assert!(out.len() >= (tokens.tokens - 1) * out_row + rows.len());
    let lanes = kernel.lanes();
    let mut first = rows.start;
    while first < rows.end {
        let end = (first + TILE_ROWS).min(rows.end);
        let groups = (end - first).div_ceil(lanes);
        let size = groups * blocks * VECTORS * lanes * 4;
        let Pack(lines, requantized) = pack;
        lines.resize(size.div_ceil(size_of::<Line>()), Line([0; 64]));
        #[cfg(target_arch = "x86_64")]
        {
            let packed = lines.as_mut_ptr().cast::<u8>();
            let tile = match matrix {
                Matrix::Q8(matrix) => matrix.bytes(first..end),
                Matrix::Blocks(matrix) => requantized.rows(matrix, first..end),
            };
            let out = &mut out[first - rows.start..];
            // SAFETY: `detect` chose the kernel for features this CPU has; the pack holds
            // `groups` groups of `blocks` blocks, the asserts above bound every token and
            // output the kernels touch, and a group's rows past the tile are never read.
            unsafe {
                x86::pack(tile, end - first, blocks, lanes, packed);
                match kernel {
                    TileKernel::Avx512Vnni => {
                        x86::times_avx512(packed, end - first, tokens, out, out_row)
                    }
                    TileKernel::AvxVnni => {
                        x86::times_avx(packed, end - first, tokens, out, out_row)
                    }
                    TileKernel::Avx2 => x86::times_avx2(packed, end - first, tokens, out, out_row),
                }
            }
        }
        first = end;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Columns, VECTORS};
    use crate::chat::llama::q8::{BLOCK, BLOCK_BYTES};

    /// Packs `rows` rows of `blocks` Q8_0 blocks into groups of `lanes` rows; the rows
    /// missing from the last group are zeros, weights and scales alike.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `lanes` is 8 or 16; `tile` holds `rows` rows of
    /// `blocks` blocks; `packed` has room for `rows.div_ceil(lanes)` groups of `blocks`
    /// blocks of VECTORS × `lanes` × 4 bytes.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn pack(
        tile: &[u8],
        rows: usize,
        blocks: usize,
        lanes: usize,
        packed: *mut u8,
    ) {
        let row_bytes = blocks * BLOCK_BYTES;
        let vector = lanes * 4;
        for g in 0..rows.div_ceil(lanes) {
            // A group's rows are read side by side, more streams than the hardware
            // prefetcher follows; the next group's rows lie together, so they are fetched
            // in order, a share with each block.
            let next = tile.get((g + 1) * lanes * row_bytes..).unwrap_or_default();
            let next = &next[..next.len().min(lanes * row_bytes)];
            let share = next.len().div_ceil(blocks).next_multiple_of(64);
            for b in 0..blocks {
                for line in next.iter().skip(b * share).take(share).step_by(64) {
                    _mm_prefetch::<_MM_HINT_T0>((line as *const u8).cast());
                }
                // SAFETY: the caller gives `packed` room for `rows.div_ceil(lanes)` groups
                // of `blocks` blocks of VECTORS vectors (its # Safety); g and b are below
                // those counts.
                let at = unsafe { packed.add((g * blocks + b) * VECTORS * vector) };
                for half in 0..lanes / 8 {
                    let first = g * lanes + half * 8;
                    let mut bytes = [_mm256_setzero_si256(); 8];
                    let mut scales = [0u16; 8];
                    for (i, (bytes, scale)) in bytes.iter_mut().zip(&mut scales).enumerate() {
                        if first + i < rows {
                            let row = &tile[(first + i) * row_bytes..][..row_bytes];
                            let block = &row[b * BLOCK_BYTES..][..BLOCK_BYTES];
                            *scale = u16::from_le_bytes([block[0], block[1]]);
                            // SAFETY: `block` is a whole Q8_0 block (sliced with bounds
                            // checks): its 32 quants after the scale are one unaligned
                            // 256-bit load.
                            *bytes = unsafe { _mm256_loadu_si256(block[2..].as_ptr().cast()) };
                        }
                    }
                    // SAFETY: this function is compiled with AVX2, which `transpose` needs.
                    let words = unsafe { transpose(bytes) };
                    // Byte sums in 16 bits (each at most 8 × 2 × 128) before the last widening.
                    let mut pairs = _mm256_setzero_si256();
                    for (j, words) in words.iter().enumerate() {
                        // SAFETY: j < 8 and `half` × 32 + 32 ≤ `vector`: inside the block
                        // `at` points to, which has VECTORS vectors of `vector` bytes.
                        unsafe {
                            _mm256_storeu_si256(at.add(j * vector + half * 32).cast(), *words)
                        };
                        pairs = _mm256_add_epi16(
                            pairs,
                            _mm256_maddubs_epi16(_mm256_set1_epi8(1), *words),
                        );
                    }
                    let sums = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
                    let correction =
                        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7));
                    let scales =
                        // SAFETY: `scales` is eight u16: one 128-bit load.
                        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(scales.as_ptr().cast()) });
                    // SAFETY: vectors 8 and 9 of the block `at` points to, inside the room
                    // the caller gives.
                    unsafe {
                        _mm256_storeu_si256(at.add(8 * vector + half * 32).cast(), correction);
                        _mm256_storeu_ps(at.add(9 * vector + half * 32).cast(), scales);
                    }
                }
            }
        }
    }

    /// Eight rows of eight 32-bit words to eight vectors of one word from each row.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[inline(always)]
    unsafe fn transpose(rows: [__m256i; 8]) -> [__m256i; 8] {
        // SAFETY: callers run with AVX2 (this function's # Safety).
        unsafe { transposed(rows) }
    }

    #[target_feature(enable = "avx2")]
    fn transposed(rows: [__m256i; 8]) -> [__m256i; 8] {
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
        let (t0, t1) = (_mm256_unpacklo_epi32(r0, r1), _mm256_unpackhi_epi32(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_epi32(r2, r3), _mm256_unpackhi_epi32(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_epi32(r4, r5), _mm256_unpackhi_epi32(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_epi32(r6, r7), _mm256_unpackhi_epi32(r6, r7));
        let (u0, u1) = (_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2));
        let (u2, u3) = (_mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3));
        let (u4, u5) = (_mm256_unpacklo_epi64(t4, t6), _mm256_unpackhi_epi64(t4, t6));
        let (u6, u7) = (_mm256_unpacklo_epi64(t5, t7), _mm256_unpackhi_epi64(t5, t7));
        [
            _mm256_permute2x128_si256(u0, u4, 0x20),
            _mm256_permute2x128_si256(u1, u5, 0x20),
            _mm256_permute2x128_si256(u2, u6, 0x20),
            _mm256_permute2x128_si256(u3, u7, 0x20),
            _mm256_permute2x128_si256(u0, u4, 0x31),
            _mm256_permute2x128_si256(u1, u5, 0x31),
            _mm256_permute2x128_si256(u2, u6, 0x31),
            _mm256_permute2x128_si256(u3, u7, 0x31),
        ]
    }

    /// A register of one 32-bit lane per weight row.
    trait Wide {
        type Ints: Copy;
        type Floats: Copy;
        const LANES: usize;
        /// Tokens taken at once: as many running sums as the registers leave room for.
        const TOKENS: usize;
        /// # Safety
        /// `at` points at `LANES` × 4 readable bytes; the CPU has the type's instructions.
        unsafe fn load(at: *const u8) -> Self::Ints;
        /// # Safety
        /// `at` points at `LANES` readable floats; the CPU has the type's instructions.
        unsafe fn load_floats(at: *const u8) -> Self::Floats;
        fn zero() -> Self::Floats;
        /// A token's running sums before its first product: the block's correction for
        /// the +128 tokens, or zero where the tokens are signed.
        fn initial(correction: Self::Ints) -> Self::Ints {
            correction
        }
        /// `sums` plus, per lane, four token bytes times the lane's four bytes.
        ///
        /// # Safety
        /// The CPU has the type's instructions (AVX-512 VNNI, or AVX-VNNI).
        unsafe fn dot(sums: Self::Ints, token: i32, weights: Self::Ints) -> Self::Ints;
        /// `total + sums × scales × token_scale`, lane by lane.
        ///
        /// # Safety
        /// The CPU has the type's instructions (AVX-512F, or AVX2 with FMA).
        unsafe fn scaled(
            total: Self::Floats,
            sums: Self::Ints,
            scales: Self::Floats,
            token_scale: f32,
        ) -> Self::Floats;
        /// # Safety
        /// `to` points at `LANES` writable floats; the CPU has the type's instructions.
        unsafe fn store(to: *mut f32, values: Self::Floats);
    }

    struct Zmm;
    struct Ymm;
    /// 256-bit registers without VNNI; the tokens signed.
    struct SignedYmm;

    impl Wide for Zmm {
        type Ints = __m512i;
        type Floats = __m512;
        const LANES: usize = 16;
        const TOKENS: usize = 8;
        #[inline(always)]
        unsafe fn load(at: *const u8) -> __m512i {
            // SAFETY: the caller points `at` at 64 readable bytes and runs with AVX-512
            // (the trait's # Safety).
            unsafe { _mm512_loadu_si512(at.cast()) }
        }
        #[inline(always)]
        unsafe fn load_floats(at: *const u8) -> __m512 {
            // SAFETY: the caller points `at` at 64 readable bytes and runs with AVX-512
            // (the trait's # Safety).
            unsafe { _mm512_loadu_ps(at.cast()) }
        }
        #[inline(always)]
        fn zero() -> __m512 {
            // SAFETY: `Zmm` is used only by `times_avx512`, which runs where the CPU has
            // AVX-512F.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn dot(sums: __m512i, token: i32, weights: __m512i) -> __m512i {
            // SAFETY: register arithmetic; the caller runs with AVX-512 VNNI.
            unsafe { _mm512_dpbusd_epi32(sums, _mm512_set1_epi32(token), weights) }
        }
        #[inline(always)]
        unsafe fn scaled(total: __m512, sums: __m512i, scales: __m512, token_scale: f32) -> __m512 {
            // SAFETY: register arithmetic; the caller runs with AVX-512F.
            unsafe {
                let scales = _mm512_mul_ps(scales, _mm512_set1_ps(token_scale));
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scales, total)
            }
        }
        #[inline(always)]
        unsafe fn store(to: *mut f32, values: __m512) {
            // SAFETY: the caller points `to` at 16 writable floats (the trait's # Safety).
            unsafe { _mm512_storeu_ps(to, values) }
        }
    }

    impl Wide for Ymm {
        type Ints = __m256i;
        type Floats = __m256;
        const LANES: usize = 8;
        const TOKENS: usize = 4;
        #[inline(always)]
        unsafe fn load(at: *const u8) -> __m256i {
            // SAFETY: the caller points `at` at 32 readable bytes and runs with AVX2 (the
            // trait's # Safety).
            unsafe { _mm256_loadu_si256(at.cast()) }
        }
        #[inline(always)]
        unsafe fn load_floats(at: *const u8) -> __m256 {
            // SAFETY: the caller points `at` at 32 readable bytes and runs with AVX2 (the
            // trait's # Safety).
            unsafe { _mm256_loadu_ps(at.cast()) }
        }
        #[inline(always)]
        fn zero() -> __m256 {
            // SAFETY: `Ymm` is used only by `times_avx`, which runs where the CPU has AVX2.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn dot(sums: __m256i, token: i32, weights: __m256i) -> __m256i {
            // SAFETY: register arithmetic; the caller runs with AVX-VNNI.
            unsafe { _mm256_dpbusd_avx_epi32(sums, _mm256_set1_epi32(token), weights) }
        }
        #[inline(always)]
        unsafe fn scaled(total: __m256, sums: __m256i, scales: __m256, token_scale: f32) -> __m256 {
            // SAFETY: register arithmetic; the caller runs with AVX2 and FMA.
            unsafe {
                let scales = _mm256_mul_ps(scales, _mm256_set1_ps(token_scale));
                _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scales, total)
            }
        }
        #[inline(always)]
        unsafe fn store(to: *mut f32, values: __m256) {
            // SAFETY: the caller points `to` at 8 writable floats (the trait's # Safety).
            unsafe { _mm256_storeu_ps(to, values) }
        }
    }

    impl Wide for SignedYmm {
        type Ints = __m256i;
        type Floats = __m256;
        const LANES: usize = 8;
        const TOKENS: usize = 4;
        #[inline(always)]
        unsafe fn load(at: *const u8) -> __m256i {
            // SAFETY: as for `Ymm`.
            unsafe { Ymm::load(at) }
        }
        #[inline(always)]
        unsafe fn load_floats(at: *const u8) -> __m256 {
            // SAFETY: as for `Ymm`.
            unsafe { Ymm::load_floats(at) }
        }
        #[inline(always)]
        fn zero() -> __m256 {
            Ymm::zero()
        }
        #[inline(always)]
        fn initial(_correction: __m256i) -> __m256i {
            // SAFETY: `SignedYmm` is used only by `times_avx2`, which runs where the CPU
            // has AVX2.
            unsafe { _mm256_setzero_si256() }
        }
        #[inline(always)]
        unsafe fn dot(sums: __m256i, token: i32, weights: __m256i) -> __m256i {
            // SAFETY: register arithmetic; the caller runs with AVX2. The tokens are within
            // ±127 (Q8_0), so |token| × weight pairs stay within i16 (≤ 2 × 127 × 128).
            unsafe {
                let token = _mm256_set1_epi32(token);
                let pairs = _mm256_maddubs_epi16(
                    _mm256_sign_epi8(token, token),
                    _mm256_sign_epi8(weights, token),
                );
                _mm256_add_epi32(sums, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
            }
        }
        #[inline(always)]
        unsafe fn scaled(total: __m256, sums: __m256i, scales: __m256, token_scale: f32) -> __m256 {
            // SAFETY: as for `Ymm`.
            unsafe { Ymm::scaled(total, sums, scales, token_scale) }
        }
        #[inline(always)]
        unsafe fn store(to: *mut f32, values: __m256) {
            // SAFETY: as for `Ymm`.
            unsafe { Ymm::store(to, values) }
        }
    }

    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `packed` is what `pack` wrote (8 lanes) for `rows`
    /// rows of `tokens.blocks` blocks; `tokens` are arranged signed; `out` holds `rows`
    /// values per token, a token every `out_row`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn times_avx2(
        packed: *const u8,
        rows: usize,
        tokens: &Columns,
        out: &mut [f32],
        out_row: usize,
    ) {
        // SAFETY: this function enables the features `times::<SignedYmm>` uses; its caller
        // checked the CPU has them and passes what `times` asks for.
        unsafe { times::<SignedYmm>(packed, rows, tokens, out, out_row) }
    }

    /// # Safety
    /// The CPU has AVX2, FMA, F16C, AVX-512F and AVX-512 VNNI; `packed` is what `pack`
    /// wrote (16 lanes) for `rows` rows of `tokens.blocks` blocks; `out` holds `rows` values
    /// per token, a token every `out_row`.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vnni")]
    pub(super) unsafe fn times_avx512(
        packed: *const u8,
        rows: usize,
        tokens: &Columns,
        out: &mut [f32],
        out_row: usize,
    ) {
        // SAFETY: this function enables the features `times::<Zmm>` uses; its caller
        // checked the CPU has them and passes what `times` asks for.
        unsafe { times::<Zmm>(packed, rows, tokens, out, out_row) }
    }

    /// # Safety
    /// The CPU has AVX2, FMA, F16C and AVX-VNNI; `packed` is what `pack` wrote (8 lanes)
    /// for `rows` rows of `tokens.blocks` blocks; `out` holds `rows` values per token, a
    /// token every `out_row`.
    #[target_feature(enable = "avx2,fma,f16c,avxvnni")]
    pub(super) unsafe fn times_avx(
        packed: *const u8,
        rows: usize,
        tokens: &Columns,
        out: &mut [f32],
        out_row: usize,
    ) {
        // SAFETY: this function enables the features `times::<Ymm>` uses; its caller
        // checked the CPU has them and passes what `times` asks for.
        unsafe { times::<Ymm>(packed, rows, tokens, out, out_row) }
    }

    /// Every packed group against every token, `W::TOKENS` tokens at a time.
    ///
    /// # Safety
    /// As the `times_*` functions that call it, with `W`'s instructions on the CPU.
    #[inline(always)]
    unsafe fn times<W: Wide>(
        packed: *const u8,
        rows: usize,
        tokens: &Columns,
        out: &mut [f32],
        out_row: usize,
    ) {
        let group_bytes = tokens.blocks * VECTORS * W::LANES * 4;
        for g in 0..rows.div_ceil(W::LANES) {
            // SAFETY: `packed` holds `rows.div_ceil(W::LANES)` groups of `group_bytes`
            // (this function's # Safety).
            let group = unsafe { packed.add(g * group_bytes) };
            let valid = (rows - g * W::LANES).min(W::LANES);
            let out = &mut out[g * W::LANES..];
            let mut first = 0;
            while first < tokens.tokens {
                let take = (tokens.tokens - first).min(W::TOKENS);
                // SAFETY: `group` is a whole packed group; `take` ≤ tokens left from
                // `first`, so the N tokens exist; `out` starts at this group's rows.
                unsafe {
                    match take {
                        1 => group_times::<W, 1>(group, tokens, first, valid, out, out_row),
                        2 => group_times::<W, 2>(group, tokens, first, valid, out, out_row),
                        3 => group_times::<W, 3>(group, tokens, first, valid, out, out_row),
                        4 => group_times::<W, 4>(group, tokens, first, valid, out, out_row),
                        5 => group_times::<W, 5>(group, tokens, first, valid, out, out_row),
                        6 => group_times::<W, 6>(group, tokens, first, valid, out, out_row),
                        7 => group_times::<W, 7>(group, tokens, first, valid, out, out_row),
                        _ => group_times::<W, 8>(group, tokens, first, valid, out, out_row),
                    }
                }
                first += take;
            }
        }
    }

    /// One group's rows against tokens `first..first + N`: the group's block is loaded
    /// once for the N tokens, each token's running sums stay in a register.
    ///
    /// # Safety
    /// `group` points at one packed group of `tokens.blocks` blocks; tokens
    /// `first..first + N` exist in `tokens`; `out` holds the group's `valid` rows for those
    /// tokens, a token every `out_row`; the CPU has `W`'s instructions.
    #[inline(always)]
    unsafe fn group_times<W: Wide, const N: usize>(
        group: *const u8,
        tokens: &Columns,
        first: usize,
        valid: usize,
        out: &mut [f32],
        out_row: usize,
    ) {
        let vector = W::LANES * 4;
        let count = tokens.tokens;
        let mut totals = [W::zero(); N];
        for b in 0..tokens.blocks {
            // SAFETY: b < `tokens.blocks` keeps `block` and its VECTORS vectors inside the
            // group; tokens `first..first + N` of block b lie inside `tokens.bytes` and
            // `tokens.scales` (blocks × tokens of each).
            unsafe {
                let block = group.add(b * VECTORS * vector);
                let weights: [W::Ints; 8] = std::array::from_fn(|j| W::load(block.add(j * vector)));
                let correction = W::load(block.add(8 * vector));
                let scales = W::load_floats(block.add(9 * vector));
                let bytes = tokens.bytes.as_ptr().add((b * count + first) * BLOCK);
                let token_scales = tokens.scales.as_ptr().add(b * count + first);
                for (i, total) in totals.iter_mut().enumerate() {
                    let token = bytes.add(i * BLOCK).cast::<i32>();
                    let mut sums = W::initial(correction);
                    for (j, weights) in weights.iter().enumerate() {
                        sums = W::dot(sums, token.add(j).read_unaligned(), *weights);
                    }
                    *total = W::scaled(*total, sums, scales, *token_scales.add(i));
                }
            }
        }
        for (i, total) in totals.iter().enumerate() {
            let out = &mut out[(first + i) * out_row..];
            if valid == W::LANES {
                assert!(out.len() >= W::LANES);
                // SAFETY: the assert above: `out` holds at least W::LANES floats.
                unsafe { W::store(out.as_mut_ptr(), *total) };
            } else {
                let mut lanes = [0.0f32; 16];
                // SAFETY: `lanes` holds 16 floats, as many as the widest register.
                unsafe { W::store(lanes.as_mut_ptr(), *total) };
                out[..valid].copy_from_slice(&lanes[..valid]);
            }
        }
    }
}

#[cfg(test)]
#[path = "tiles_tests.rs"]
mod tests;
