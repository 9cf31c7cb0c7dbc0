use super::*;
use crate::chat::llama::q8::tests::{matrix, values};
use crate::chat::llama::q8::{Kernel, Q8Matrix};

/// What the dot-product path gives: the same integer sums per block, summed in
/// another order.
fn by_dot_products(matrix: &Matrix, acts: &Quantized) -> Vec<f32> {
    let matrix: &Q8Matrix = matrix.as_q8().unwrap();
    let (rows, tokens) = (matrix.rows, acts.rows());
    let mut transposed = vec![0.0; rows * tokens];
    Kernel::Portable.rows_times(matrix, 0..rows, acts, &mut transposed);
    let mut out = vec![0.0; rows * tokens];
    for (j, values) in transposed.chunks_exact(tokens).enumerate() {
        for (t, value) in values.iter().enumerate() {
            out[t * rows + j] = *value;
        }
    }
    out
}

fn kernels() -> Vec<TileKernel> {
    let mut kernels = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") && has!("f16c") {
            if has!("avx512f") && has!("avx512vnni") {
                kernels.push(TileKernel::Avx512Vnni);
            }
            if has!("avxvnni") {
                kernels.push(TileKernel::AvxVnni);
            }
            kernels.push(TileKernel::Avx2);
        }
    }
    kernels
}

#[test]
fn tiles_give_the_dot_products_sums_for_any_shape() {
    let kernels = kernels();
    if kernels.is_empty() {
        eprintln!("no AVX2 on this CPU: the tiles are never used here");
        return;
    }
    // Partial groups of 8 and 16 rows, a tile boundary (128), token counts around the
    // kernels' four and eight at a time.
    for (rows, columns) in [(50, 64), (23, 128), (16, 32), (130, 96), (300, 64)] {
        let weights = Matrix::Q8(matrix(rows, columns, rows as u64));
        for tokens in [1, 3, 4, 9, 13, 17] {
            let x = values(tokens * columns, tokens as u64, 2.0);
            let mut acts = Quantized::default();
            acts.quantize(&x, columns);
            let want = by_dot_products(&weights, &acts);
            for &kernel in &kernels {
                let mut arranged = Columns::default();
                arranged.arrange(&acts, kernel);
                let mut got = vec![f32::NAN; rows * tokens];
                tile_products(
                    kernel,
                    &arranged,
                    &weights,
                    0..rows,
                    &mut got,
                    rows,
                    &mut Pack::default(),
                );
                for (i, (got, want)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{kernel:?}, {rows}×{columns}, {tokens} tokens, at {i}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_share_of_the_rows_fills_only_its_own_columns() {
    let (rows, columns, tokens) = (70, 64, 5);
    let weights = Matrix::Q8(matrix(rows, columns, 9));
    let x = values(tokens * columns, 4, 1.0);
    let mut acts = Quantized::default();
    acts.quantize(&x, columns);
    let want = by_dot_products(&weights, &acts);
    for kernel in kernels() {
        let mut arranged = Columns::default();
        arranged.arrange(&acts, kernel);
        // Rows 21..58 into an output whose rows are 40 wide: 37 columns written, 3 left.
        let mut got = vec![-7.0; tokens * 40];
        tile_products(
            kernel,
            &arranged,
            &weights,
            21..58,
            &mut got,
            40,
            &mut Pack::default(),
        );
        for t in 0..tokens {
            for c in 0..40 {
                let value = got[t * 40 + c];
                if c < 37 {
                    let want = want[t * rows + 21 + c];
                    assert!(
                        (value - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{kernel:?} ({t}, {c})"
                    );
                } else {
                    assert_eq!(value, -7.0, "{kernel:?} wrote past its share at ({t}, {c})");
                }
            }
        }
    }
}
