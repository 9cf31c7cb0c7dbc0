use super::*;
use crate::chat::llama::q8::tests::{dequantized, matrix, values};
use candle_core::quantized::GgmlDType;

#[test]
fn shares_over_threads_and_each_prompt_path_give_the_same_products() {
    let columns = 128;
    let (a, b) = (
        Matrix::Q8(matrix(50, columns, 2)),
        Matrix::Q8(matrix(23, columns, 3)),
    );
    let mut paths = vec![None];
    paths.extend(TileKernel::detect().map(Some));
    for tiles in paths {
        for tokens in [
            1,
            FEW_TOKENS,
            FEW_TOKENS + 1,
            FEW_TOKENS_FOR_GEMM,
            FEW_TOKENS_FOR_GEMM + 5,
        ] {
            let x = values(tokens * columns, 11, 1.5);
            let floats = tokens > FEW_TOKENS_FOR_GEMM && tiles.is_none();
            let run = |threads: usize| {
                let mut products = Products::new(threads);
                products.tiles = tiles;
                let (mut out_a, mut out_b) = (vec![0.0; tokens * 50], vec![0.0; tokens * 23]);
                products.apply(&x, tokens, &mut [(&a, &mut out_a), (&b, &mut out_b)]);
                (out_a, out_b)
            };
            let one = run(1);
            for threads in [2, 3] {
                let other = run(threads);
                let pairs = one.0.iter().zip(&other.0).chain(one.1.iter().zip(&other.1));
                for (a, b) in pairs {
                    // Integer products are summed the same way however the rows are
                    // shared; gemm may block a narrower share differently.
                    let same = if floats {
                        (a - b).abs() <= 1e-5 * (1.0 + a.abs())
                    } else {
                        a == b
                    };
                    assert!(
                        same,
                        "{tiles:?}, {tokens} tokens, {threads} threads: {a} vs {b}"
                    );
                }
            }
            // Against the dequantized weights in f64: quantized activations cost a little
            // precision, gemm's floats none.
            for (matrix, out) in [(&a, &one.0), (&b, &one.1)] {
                let (matrix, rows) = (matrix.as_q8().unwrap(), matrix.rows());
                let weights = dequantized(matrix);
                for t in 0..tokens {
                    for j in 0..rows {
                        let want: f64 = (0..columns)
                            .map(|k| {
                                f64::from(weights[j * columns + k]) * f64::from(x[t * columns + k])
                            })
                            .sum();
                        let got = f64::from(out[t * rows + j]);
                        let tolerance = if floats { 1e-4 } else { 5e-2 };
                        assert!(
                            (got - want).abs() < tolerance * (1.0 + want.abs()),
                            "{tiles:?}, {tokens} tokens, ({t}, {j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

/// Block matrices of different formats in one call (Q, K and V of a Q4_K_M mix), shared
/// over threads: each row's product is taken whole by one thread, so any sharing gives
/// the same numbers, one token or several.
#[test]
fn block_matrices_of_mixed_formats_share_over_threads() {
    use crate::chat::llama::blocks::tests::matrix as blocks;
    let columns = 512;
    let (q, _) = blocks(GgmlDType::Q4K, 37, columns, 0);
    let (k, _) = blocks(GgmlDType::Q6K, 9, columns, 32);
    let (v, _) = blocks(GgmlDType::Q8_0, 10, columns, 64);
    let (q, k, v) = (Matrix::Blocks(q), Matrix::Blocks(k), Matrix::Blocks(v));
    for tokens in [1, 2, 7] {
        let x = values(tokens * columns, 5, 1.0);
        let run = |threads: usize| {
            let mut products = Products::new(threads);
            let mut outs = [
                vec![0.0; tokens * 37],
                vec![0.0; tokens * 9],
                vec![0.0; tokens * 10],
            ];
            let [a, b, c] = &mut outs;
            products.apply(&x, tokens, &mut [(&q, a), (&k, b), (&v, c)]);
            outs
        };
        let one = run(1);
        assert_eq!(one, run(2), "{tokens} tokens");
        assert_eq!(one, run(3), "{tokens} tokens");
        // Token t's results are its own: the same as that token alone.
        let last = tokens - 1;
        let alone = {
            let mut products = Products::new(1);
            let mut out = vec![0.0; 37];
            products.apply(&x[last * columns..], 1, &mut [(&q, &mut out)]);
            out
        };
        assert_eq!(one[0][last * 37..], alone[..], "{tokens} tokens");
    }
}
