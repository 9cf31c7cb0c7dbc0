//! Matrices in the block formats people download — the K-quants of the Q4_K_M and Q5_K_M
//! mixes (Q4_K, Q5_K, Q6_K), Q4_0, Q5_0 and Q8_0 beside them — read in place from the
//! mapped file. Each weight row is a run of candle's block structs, so candle's dot
//! products (AVX2 or NEON, chosen when the program runs; portable code elsewhere) take
//! them as they lie, against activations quantized the way each format's product wants:
//! 32-value Q8_0 blocks for the 32-value formats, 256-value Q8_K blocks for the K-quants.

use std::mem::{align_of, size_of};
use std::ops::Range;
use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::k_quants::{
    BlockQ4_0, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8K, GgmlType,
};
use half::f16;
use memmap2::Mmap;

use super::q4k::{self, Q4kTokens};
use super::q6k::{self, Q6kTokens};
use super::q8::{BLOCK, Kernel, Quantized, SmallBlocks};
use super::wide::Wide;

/// The block formats this forward pass reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Q4_0,
    Q5_0,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

impl Format {
    pub(super) fn of(dtype: GgmlDType) -> Option<Format> {
        Some(match dtype {
            GgmlDType::Q4_0 => Format::Q4_0,
            GgmlDType::Q5_0 => Format::Q5_0,
            GgmlDType::Q8_0 => Format::Q8_0,
            GgmlDType::Q4K => Format::Q4K,
            GgmlDType::Q5K => Format::Q5K,
            GgmlDType::Q6K => Format::Q6K,
            _ => return None,
        })
    }

    /// Values per block.
    fn block_values(self) -> usize {
        match self {
            Format::Q4_0 | Format::Q5_0 | Format::Q8_0 => 32,
            Format::Q4K | Format::Q5K | Format::Q6K => 256,
        }
    }

    fn block_bytes(self) -> usize {
        match self {
            Format::Q4_0 => size_of::<BlockQ4_0>(),
            Format::Q5_0 => size_of::<BlockQ5_0>(),
            Format::Q8_0 => size_of::<BlockQ8_0>(),
            Format::Q4K => size_of::<BlockQ4K>(),
            Format::Q5K => size_of::<BlockQ5K>(),
            Format::Q6K => size_of::<BlockQ6K>(),
        }
    }

    fn block_align(self) -> usize {
        match self {
            Format::Q4_0 => align_of::<BlockQ4_0>(),
            Format::Q5_0 => align_of::<BlockQ5_0>(),
            Format::Q8_0 => align_of::<BlockQ8_0>(),
            Format::Q4K => align_of::<BlockQ4K>(),
            Format::Q5K => align_of::<BlockQ5K>(),
            Format::Q6K => align_of::<BlockQ6K>(),
        }
    }

    /// The bytes of a row of `columns` values; `None` when the row is not whole blocks.
    pub(super) fn row_bytes(self, columns: usize) -> Option<usize> {
        let values = self.block_values();
        columns
            .is_multiple_of(values)
            .then(|| (columns / values).checked_mul(self.block_bytes()))
            .flatten()
    }

    /// Whether its dot products take 256-value Q8_K activations (else 32-value Q8_0).
    fn wants_q8k(self) -> bool {
        self.block_values() == 256
    }
}

/// A `rows × columns` matrix of one block format in the mapped model file.
pub(super) struct BlockMatrix {
    map: Arc<Mmap>,
    start: usize,
    pub(super) rows: usize,
    pub(super) columns: usize,
    pub(super) format: Format,
}

impl BlockMatrix {
    /// The matrix whose blocks start at byte `start` of `map`; refused when its rows are
    /// not whole blocks, its bytes run past the file's end, or they do not lie where the
    /// format's blocks can be read in place.
    pub(super) fn new(
        map: Arc<Mmap>,
        start: usize,
        rows: usize,
        columns: usize,
        format: Format,
    ) -> Result<BlockMatrix, String> {
        let values = format.block_values();
        if columns == 0 || !columns.is_multiple_of(values) {
            return Err(format!(
                "a {format:?} row of {columns} values is not whole blocks of {values}"
            ));
        }
        let end = (columns / values)
            .checked_mul(format.block_bytes())
            .and_then(|row| row.checked_mul(rows))
            .and_then(|size| size.checked_add(start));
        if end.is_none_or(|end| end > map.len()) {
            return Err(format!(
                "a {rows}×{columns} {format:?} matrix at byte {start} runs past the end of the file"
            ));
        }
        // The mapping starts on a page; the file's tensor alignment (32 by default) keeps
        // the blocks, whose sizes are multiples of their alignment, on theirs.
        if !(map.as_ptr() as usize + start).is_multiple_of(format.block_align()) {
            return Err(format!(
                "the {format:?} matrix at byte {start} is not aligned for reading in place"
            ));
        }
        Ok(BlockMatrix {
            map,
            start,
            rows,
            columns,
            format,
        })
    }

    fn blocks_per_row(&self) -> usize {
        self.columns / self.format.block_values()
    }

    /// The bytes of rows `rows`.
    fn bytes(&self, rows: Range<usize>) -> &[u8] {
        let row = self.blocks_per_row() * self.format.block_bytes();
        &self.map[self.start + rows.start * row..self.start + rows.end * row]
    }

    /// Rows `rows` as blocks of `T`, which must be this matrix's format.
    fn view<T: GgmlType>(&self, rows: Range<usize>) -> &[T] {
        assert_eq!(Format::of(T::DTYPE), Some(self.format));
        assert!(rows.end <= self.rows);
        let per_row = self.blocks_per_row();
        let bytes = &self.map[self.start..][..self.rows * per_row * size_of::<T>()];
        // SAFETY: `T` is the candle block struct of this format (asserted above):
        // `repr(C)` plain bytes, halves and floats, for which any bit pattern is a value.
        // `new` checked that the bytes lie inside the mapping and on `T`'s alignment;
        // the slice borrows the mapping, which lives as long as `self`.
        let all: &[T] =
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), self.rows * per_row) };
        &all[rows.start * per_row..rows.end * per_row]
    }

    /// Rows `rows` as floats, one after another, into `out`.
    pub(super) fn dequantize(&self, rows: Range<usize>, out: &mut [f32]) {
        let out = &mut out[..rows.len() * self.columns];
        match self.format {
            Format::Q4_0 => BlockQ4_0::to_float(self.view(rows), out),
            Format::Q5_0 => BlockQ5_0::to_float(self.view(rows), out),
            Format::Q8_0 => BlockQ8_0::to_float(self.view(rows), out),
            Format::Q4K => BlockQ4K::to_float(self.view(rows), out),
            Format::Q5K => BlockQ5K::to_float(self.view(rows), out),
            Format::Q6K => BlockQ6K::to_float(self.view(rows), out),
        }
    }

    /// `out[j · tokens + t] = row j of rows · token t`, over the matrix rows `rows` (the
    /// output transposed, so a share of the rows is a share of `out`). Row by row, each
    /// against every token, so a row is read from memory once per call.
    pub(super) fn dots(&self, rows: Range<usize>, acts: &Activations, out: &mut [f32]) {
        let tokens = acts.tokens;
        assert_eq!(out.len(), rows.len() * tokens);
        let columns = self.columns;
        match self.format {
            Format::Q4_0 => {
                acts.kernel
                    .blocks_times(SmallBlocks::Q4_0, self.bytes(rows), &acts.q8, out)
            }
            Format::Q5_0 => {
                acts.kernel
                    .blocks_times(SmallBlocks::Q5_0, self.bytes(rows), &acts.q8, out)
            }
            Format::Q8_0 => {
                acts.kernel
                    .blocks_times(SmallBlocks::Q8_0, self.bytes(rows), &acts.q8, out)
            }
            Format::Q4K => match acts.wide {
                Some(kernel) => q4k::rows_times(kernel, self.bytes(rows), &acts.q4k, out),
                None => dots::<BlockQ4K>(self.view(rows), &acts.q8k, tokens, columns, out),
            },
            Format::Q5K => dots::<BlockQ5K>(self.view(rows), &acts.q8k, tokens, columns, out),
            Format::Q6K => match acts.wide {
                Some(kernel) => q6k::rows_times(kernel, self.bytes(rows), &acts.q6k, out),
                None => dots::<BlockQ6K>(self.view(rows), &acts.q8k, tokens, columns, out),
            },
        }
    }
}

/// Rows of a block matrix re-expressed as Q8_0 blocks, so a prompt's products can take
/// the int8 tiles that Q8_0 models take. Exact for Q8_0 and within half a step of each
/// 32 values' own int8 scale otherwise: for a K-quant a sixteenth of its own rounding.
#[derive(Default)]
pub(super) struct Requantized {
    floats: Vec<f32>,
    quantized: Quantized,
    bytes: Vec<u8>,
}

impl Requantized {
    /// Rows `rows` of `matrix`, as the bytes of Q8_0 rows.
    pub(super) fn rows(&mut self, matrix: &BlockMatrix, rows: Range<usize>) -> &[u8] {
        if matrix.format == Format::Q4K {
            q4k::as_q8_0(matrix.bytes(rows), &mut self.bytes);
            return &self.bytes;
        }
        self.floats.resize(rows.len() * matrix.columns, 0.0);
        matrix.dequantize(rows, &mut self.floats);
        // The activations' vectorised quantizing: candle's rounds a value at a time.
        self.quantized.quantize(&self.floats, matrix.columns);
        self.bytes.clear();
        let blocks = self.quantized.quants().chunks_exact(BLOCK);
        for (quants, scale) in blocks.zip(self.quantized.scales()) {
            self.bytes
                .extend_from_slice(&f16::from_f32(*scale).to_le_bytes());
            self.bytes.extend(quants.iter().map(|&q| q as u8));
        }
        &self.bytes
    }
}

/// Four rows at a time where the format has a product that reads the token once for
/// four rows (Q6_K), one at a time otherwise.
fn dots<T: GgmlType>(
    blocks: &[T],
    acts: &[T::VecDotType],
    tokens: usize,
    columns: usize,
    out: &mut [f32],
) {
    let per_row = columns / T::BLCK_SIZE;
    assert!(acts.len() >= tokens * per_row);
    let token = |t: usize| &acts[t * per_row..(t + 1) * per_row];
    let row = |j: usize| &blocks[j * per_row..(j + 1) * per_row];
    let count = blocks.len() / per_row;
    let mut j = 0;
    while j + 4 <= count {
        let (r0, r1, r2, r3) = (row(j), row(j + 1), row(j + 2), row(j + 3));
        for t in 0..tokens {
            let (d0, d1, d2, d3) = T::vec_dot_4(columns, r0, r1, r2, r3, token(t));
            out[j * tokens + t] = d0;
            out[(j + 1) * tokens + t] = d1;
            out[(j + 2) * tokens + t] = d2;
            out[(j + 3) * tokens + t] = d3;
        }
        j += 4;
    }
    for j in j..count {
        for t in 0..tokens {
            out[j * tokens + t] = T::vec_dot(columns, row(j), token(t));
        }
    }
}

/// A few tokens' activations, quantized for the formats that will take them.
pub(super) struct Activations {
    tokens: usize,
    /// Q8_0 tokens for the 32-value formats, and the kernel their products take.
    q8: Quantized,
    kernel: Kernel,
    q8k: Vec<BlockQ8K>,
    /// Q4_K and Q6_K rows' own products (AVX2 or AVX-512), where the CPU has them, and their
    /// tokens.
    wide: Option<Wide>,
    q4k: Q4kTokens,
    q6k: Q6kTokens,
}

impl Default for Activations {
    fn default() -> Activations {
        Activations {
            tokens: 0,
            q8: Quantized::default(),
            kernel: Kernel::detect(),
            q8k: Vec::new(),
            wide: Wide::detect(),
            q4k: Q4kTokens::default(),
            q6k: Q6kTokens::default(),
        }
    }
}

impl Activations {
    /// Quantizes `tokens` rows of `x` (`columns` wide each) for each format in `formats`.
    pub(super) fn quantize(
        &mut self,
        x: &[f32],
        tokens: usize,
        columns: usize,
        formats: impl Iterator<Item = Format> + Clone,
    ) {
        self.tokens = tokens;
        let x = &x[..tokens * columns];
        if formats.clone().any(|format| !format.wants_q8k()) {
            self.q8.quantize(x, columns);
        }
        let own =
            |format: Format| self.wide.is_some() && matches!(format, Format::Q4K | Format::Q6K);
        if formats
            .clone()
            .any(|format| format.wants_q8k() && !own(format))
        {
            quantize_rows(x, columns, &mut self.q8k);
        }
        if own(Format::Q4K) && formats.clone().any(|format| format == Format::Q4K) {
            self.q4k.quantize(x, tokens, columns);
        }
        if own(Format::Q6K) && formats.clone().any(|format| format == Format::Q6K) {
            self.q6k.quantize(x, tokens, columns);
        }
    }
}

fn quantize_rows<T: GgmlType>(x: &[f32], columns: usize, out: &mut Vec<T>) {
    let per_row = columns / T::BLCK_SIZE;
    let tokens = x.len() / columns;
    out.resize_with(tokens * per_row, T::zeros);
    for (row, blocks) in x.chunks_exact(columns).zip(out.chunks_exact_mut(per_row)) {
        T::from_float(row, blocks);
    }
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
pub(super) mod tests;
