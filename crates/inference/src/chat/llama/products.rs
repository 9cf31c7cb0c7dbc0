//! Products of one input with the model's matrices, shared over the chat model's
//! threads: for one token (and a few) Q8_0 dot products per weight row ([`super::q8`]);
//! for a prompt, int8 products on packed weight tiles ([`super::tiles`]) where the CPU
//! has VNNI, else gemm's kernels on the weights dequantized a tile at a time. Models
//! in the formats people download take their block formats' own dot products
//! ([`super::blocks`]) for a few tokens, and gemm on dequantized tiles for prompts.

use std::ops::Range;
use std::sync::Arc;

use super::blocks::{Activations, BlockMatrix};
use super::matrix::Matrix;
use super::q8::{Kernel, Q8Matrix, Quantized};
use super::tiles::{Columns, Pack, TILE_ROWS, TileKernel, tile_products};
use crate::kernels::{Strides, product};

/// Up to this many tokens, a product is a dot product per weight row: packing the
/// matrix's tiles costs more than the int8 tiles save (a SmolLM2 forward pass, one
/// thread: 3 tokens 9.6 ms by dot products, 10.3 on tiles; 4 tokens 11.7 and 10.9).
pub(super) const FEW_TOKENS: usize = 3;

/// The same where prompts go through gemm, whose dequantized tiles cost more to make.
pub(super) const FEW_TOKENS_FOR_GEMM: usize = 8;

/// The same for block formats, whose tiles are made by re-expressing them as Q8_0.
pub(super) const FEW_TOKENS_FOR_BLOCKS: usize = 8;

/// Products of one input with several matrices (Q, K and V; gate and up), spread over
/// `threads` with one hand-off each.
pub(super) struct Products {
    pub(super) kernel: Kernel,
    /// How prompts are multiplied: int8 tiles, or (`None`) gemm on floats.
    pub(super) tiles: Option<TileKernel>,
    pub(super) threads: usize,
    /// The chat model's own threads: rayon's global pool is sized for embeddings, which
    /// get fewer cores than a person waiting for an answer.
    pub(super) pool: Option<Arc<rayon::ThreadPool>>,
    acts: Quantized,
    block_acts: Activations,
    columns: Columns,
    transposed: Vec<f32>,
    /// Per share: room for a tile and its part of the output.
    scratch: Vec<Scratch>,
}

#[derive(Default)]
struct Scratch {
    pack: Pack,
    floats: Vec<f32>,
    part: Vec<f32>,
}

/// A share of the rows of one job's matrix.
struct Piece {
    job: usize,
    rows: Range<usize>,
}

/// A prompt's input, as the way its products are taken wants it.
#[derive(Clone, Copy)]
enum Prompt<'a> {
    Int8(TileKernel, &'a Columns),
    Floats(&'a [f32]),
}

impl Prompt<'_> {
    /// `out (tokens × rows, row stride out_row) = input · matrix[rows]ᵀ`.
    fn products(
        self,
        tokens: usize,
        matrix: &Matrix,
        rows: Range<usize>,
        out: &mut [f32],
        out_row: usize,
        scratch: &mut Scratch,
    ) {
        match self {
            Prompt::Int8(kernel, columns) => tile_products(
                kernel,
                columns,
                matrix,
                rows,
                out,
                out_row,
                &mut scratch.pack,
            ),
            Prompt::Floats(x) => {
                float_products(x, tokens, matrix, rows, out, out_row, &mut scratch.floats)
            }
        }
    }
}

impl Products {
    /// Products on `threads` threads (one, if no more can be started).
    pub(super) fn new(threads: usize) -> Products {
        let pool = (threads > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("localgpt-chat-{i}"))
                    .start_handler(|_| crate::denormals::DenormalsFlushed::for_this_thread())
                    .build()
                    .ok()
            })
            .flatten()
            .map(Arc::new);
        let threads = if pool.is_some() { threads } else { 1 };
        Products {
            kernel: Kernel::detect(),
            // An unoptimised build runs the tiles' intrinsics as calls, far slower than
            // gemm, which the dev profile compiles optimised (a debug `ask` took 14.5 s
            // instead of 3.3): debug builds, the integration tests among them, read
            // prompts with gemm; the tiles' own tests choose them explicitly.
            tiles: TileKernel::detect().filter(|_| !cfg!(debug_assertions)),
            threads,
            pool,
            acts: Quantized::default(),
            block_acts: Activations::default(),
            columns: Columns::default(),
            transposed: Vec::new(),
            scratch: (0..threads).map(|_| Scratch::default()).collect(),
        }
    }

    /// `out_i (tokens × rows_i) = x (tokens × columns) · matrix_iᵀ` for each job.
    pub(super) fn apply(&mut self, x: &[f32], tokens: usize, jobs: &mut [(&Matrix, &mut [f32])]) {
        let Some(columns) = jobs.first().map(|(matrix, _)| matrix.columns()) else {
            return;
        };
        let x = &x[..tokens * columns];
        let q8: Option<Vec<&Q8Matrix>> = jobs.iter().map(|(matrix, _)| matrix.as_q8()).collect();
        let few = match (&q8, self.tiles) {
            (Some(_), Some(_)) => FEW_TOKENS,
            (Some(_), None) => FEW_TOKENS_FOR_GEMM,
            (None, _) => FEW_TOKENS_FOR_BLOCKS,
        };
        if tokens > few {
            let rows: Vec<usize> = jobs.iter().map(|(matrix, _)| matrix.rows()).collect();
            let shares = shares(&rows, self.threads);
            self.prompt(x, tokens, jobs, shares);
            return;
        }
        match q8 {
            Some(q8) => {
                let mut q8_jobs: Vec<(&Q8Matrix, &mut [f32])> = q8
                    .into_iter()
                    .zip(jobs.iter_mut().map(|(_, out)| &mut **out))
                    .collect();
                self.apply_q8(x, tokens, &mut q8_jobs);
            }
            None => {
                let blocks: Vec<&BlockMatrix> = jobs
                    .iter()
                    .filter_map(|(matrix, _)| matrix.as_blocks())
                    .collect();
                // `Llama::load` reads a model's matrices all as Q8_0 or all as blocks.
                assert_eq!(blocks.len(), jobs.len(), "Q8_0 and block matrices mixed");
                let mut block_jobs: Vec<(&BlockMatrix, &mut [f32])> = blocks
                    .into_iter()
                    .zip(jobs.iter_mut().map(|(_, out)| &mut **out))
                    .collect();
                self.apply_blocks(x, tokens, &mut block_jobs);
            }
        }
    }

    /// A few tokens' products with Q8_0 matrices: a dot product per weight row.
    fn apply_q8(&mut self, x: &[f32], tokens: usize, jobs: &mut [(&Q8Matrix, &mut [f32])]) {
        let Some(columns) = jobs.first().map(|(matrix, _)| matrix.columns) else {
            return;
        };
        let rows: Vec<usize> = jobs.iter().map(|(matrix, _)| matrix.rows).collect();
        let shares = shares(&rows, self.threads);
        self.acts.quantize(x, columns);
        let matrices: Vec<&Q8Matrix> = jobs.iter().map(|(matrix, _)| *matrix).collect();
        let (kernel, acts) = (self.kernel, &self.acts);
        by_rows(
            self.pool.as_deref(),
            &mut self.transposed,
            tokens,
            &matrices,
            jobs.iter_mut().map(|(_, out)| &mut **out).collect(),
            shares,
            |matrix, rows, out| kernel.rows_times(matrix, rows, acts, out),
        );
    }

    /// A few tokens' products with block matrices: each format's own dot product.
    fn apply_blocks(&mut self, x: &[f32], tokens: usize, jobs: &mut [(&BlockMatrix, &mut [f32])]) {
        let Some(columns) = jobs.first().map(|(matrix, _)| matrix.columns) else {
            return;
        };
        let rows: Vec<usize> = jobs.iter().map(|(matrix, _)| matrix.rows).collect();
        let shares = shares(&rows, self.threads);
        let matrices: Vec<&BlockMatrix> = jobs.iter().map(|(matrix, _)| *matrix).collect();
        self.block_acts.quantize(
            x,
            tokens,
            columns,
            matrices.iter().map(|matrix| matrix.format),
        );
        let acts = &self.block_acts;
        by_rows(
            self.pool.as_deref(),
            &mut self.transposed,
            tokens,
            &matrices,
            jobs.iter_mut().map(|(_, out)| &mut **out).collect(),
            shares,
            |matrix, rows, out| matrix.dots(rows, acts, out),
        );
    }

    /// Each share multiplies its rows a tile at a time into a part of its own (the
    /// output's columns are not a slice), copied out at the end.
    fn prompt(
        &mut self,
        x: &[f32],
        tokens: usize,
        jobs: &mut [(&Matrix, &mut [f32])],
        shares: Vec<Vec<Piece>>,
    ) {
        let matrices: Vec<&Matrix> = jobs.iter().map(|(matrix, _)| *matrix).collect();
        let input = match self.tiles {
            Some(kernel) => {
                self.acts.quantize(x, matrices[0].columns());
                self.columns.arrange(&self.acts, kernel);
                Prompt::Int8(kernel, &self.columns)
            }
            None => Prompt::Floats(x),
        };
        if self.threads == 1 {
            let scratch = &mut self.scratch[0];
            for (matrix, out) in jobs.iter_mut() {
                let count = matrix.rows();
                input.products(tokens, matrix, 0..count, out, count, scratch);
            }
            return;
        }
        let work: Vec<_> = shares.iter().zip(self.scratch.iter_mut()).collect();
        in_parallel(self.pool.as_deref(), work, |(pieces, scratch)| {
            let size: usize = pieces.iter().map(|piece| piece.rows.len() * tokens).sum();
            let mut part = std::mem::take(&mut scratch.part);
            part.resize(size, 0.0);
            let mut rest = part.as_mut_slice();
            for Piece { job, rows } in pieces {
                let (now, later) = std::mem::take(&mut rest).split_at_mut(rows.len() * tokens);
                let count = rows.len();
                input.products(tokens, matrices[*job], rows.clone(), now, count, scratch);
                rest = later;
            }
            scratch.part = part;
        });
        for (pieces, scratch) in shares.iter().zip(&self.scratch) {
            let mut rest = scratch.part.as_slice();
            for Piece { job, rows } in pieces {
                let (now, later) = rest.split_at(rows.len() * tokens);
                let out = &mut *jobs[*job].1;
                let count = out.len() / tokens;
                for (t, values) in now.chunks_exact(rows.len()).enumerate() {
                    out[t * count + rows.start..t * count + rows.end].copy_from_slice(values);
                }
                rest = later;
            }
        }
    }
}

/// Products taken a weight row at a time, by shares of the rows: `dot` writes each row's
/// results for all tokens together (the output transposed), so a share of the rows is a
/// share of its output; more than one token is transposed back through `transposed`.
fn by_rows<M: Sync>(
    pool: Option<&rayon::ThreadPool>,
    transposed: &mut Vec<f32>,
    tokens: usize,
    matrices: &[&M],
    mut outputs: Vec<&mut [f32]>,
    shares: Vec<Vec<Piece>>,
    dot: impl Fn(&M, Range<usize>, &mut [f32]) + Sync,
) {
    if tokens == 1 {
        dot_shares(pool, tokens, matrices, shares, outputs, dot);
        return;
    }
    let rows: Vec<usize> = outputs.iter().map(|out| out.len() / tokens).collect();
    transposed.resize(rows.iter().sum::<usize>() * tokens, 0.0);
    let mut rest = transposed.as_mut_slice();
    let mut parts = Vec::with_capacity(rows.len());
    for &count in &rows {
        let (now, later) = std::mem::take(&mut rest).split_at_mut(count * tokens);
        parts.push(now);
        rest = later;
    }
    dot_shares(pool, tokens, matrices, shares, parts, dot);
    let mut rest = transposed.as_slice();
    for out in outputs.iter_mut() {
        let count = out.len() / tokens;
        let (part, later) = rest.split_at(count * tokens);
        // Sixteen rows at a time, so each write fills a whole cache line of the output
        // and the rows being read stay in L1 (a prompt's scattered writes had taken a
        // seventh of its time).
        for first in (0..count).step_by(16) {
            let end = (first + 16).min(count);
            for t in 0..tokens {
                let out = &mut out[t * count + first..t * count + end];
                for (j, out) in out.iter_mut().enumerate() {
                    *out = part[(first + j) * tokens + t];
                }
            }
        }
        rest = later;
    }
}

/// Each share's rows through `dot`, into `outputs` (one per job, each weight row's
/// results for the `tokens` together).
fn dot_shares<M: Sync>(
    pool: Option<&rayon::ThreadPool>,
    tokens: usize,
    matrices: &[&M],
    shares: Vec<Vec<Piece>>,
    outputs: Vec<&mut [f32]>,
    dot: impl Fn(&M, Range<usize>, &mut [f32]) + Sync,
) {
    // Shares take each job's rows in order, so each takes the front of what is left.
    let mut rests = outputs;
    let mut work = Vec::with_capacity(shares.len());
    for share in shares {
        let mut pieces = Vec::with_capacity(share.len());
        for Piece { job, rows } in share {
            let rest = std::mem::take(&mut rests[job]);
            let (now, later) = rest.split_at_mut(rows.len() * tokens);
            rests[job] = later;
            pieces.push((matrices[job], rows, now));
        }
        work.push(pieces);
    }
    in_parallel(pool, work, |pieces| {
        for (matrix, rows, out) in pieces {
            dot(matrix, rows, out);
        }
    });
}

/// `out (tokens × rows, row stride out_row) = x · matrix[rows]ᵀ`, a tile of dequantized
/// rows at a time.
fn float_products(
    x: &[f32],
    tokens: usize,
    matrix: &Matrix,
    rows: Range<usize>,
    out: &mut [f32],
    out_row: usize,
    tile: &mut Vec<f32>,
) {
    let columns = matrix.columns();
    let mut first = rows.start;
    while first < rows.end {
        let end = (first + TILE_ROWS).min(rows.end);
        tile.resize((end - first) * columns, 0.0);
        matrix.dequantize(first..end, tile);
        product(
            (tokens, end - first, columns),
            &mut out[first - rows.start..],
            out_row,
            x,
            columns,
            tile,
            Strides::transposed(columns),
            1.0,
            gemm::Parallelism::None,
        );
        first = end;
    }
}

/// The rows of all jobs (`rows[i]` each) cut into `threads` shares of nearly equal size.
fn shares(rows: &[usize], threads: usize) -> Vec<Vec<Piece>> {
    let total: usize = rows.iter().sum();
    let per_share = total.div_ceil(threads).max(1);
    let mut shares: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut room = per_share;
    for (job, &count) in rows.iter().enumerate() {
        let mut first = 0;
        while first < count {
            if room == 0 {
                shares.push(Vec::new());
                room = per_share;
            }
            let take = room.min(count - first);
            if let Some(share) = shares.last_mut() {
                share.push(Piece {
                    job,
                    rows: first..first + take,
                });
            }
            first += take;
            room -= take;
        }
    }
    shares
}

/// Runs `task` on each item, the first on this thread, the others on the pool's.
fn in_parallel<T: Send>(pool: Option<&rayon::ThreadPool>, items: Vec<T>, task: impl Fn(T) + Sync) {
    let Some(pool) = pool.filter(|_| items.len() > 1) else {
        items.into_iter().for_each(task);
        return;
    };
    pool.scope(|scope| {
        let mut items = items.into_iter();
        let mine = items.next();
        let task = &task;
        for item in items {
            scope.spawn(move |_| task(item));
        }
        if let Some(mine) = mine {
            task(mine);
        }
    });
}

#[cfg(test)]
#[path = "products_tests.rs"]
mod tests;
