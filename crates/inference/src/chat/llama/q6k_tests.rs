use super::*;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::chat::llama::q8::tests::values;

/// Value by value, the portable product is candle's dequantized weights times the
/// quantized tokens; the 512-bit kernels give the same to rounding.
#[test]
fn every_kernel_gives_the_blocks_products() {
    let columns = 512;
    for rows in [1, 3, 6] {
        let weights = Tensor::from_vec(
            values(rows * columns, rows as u64 + 40, 0.5),
            (rows, columns),
            &Device::Cpu,
        )
        .unwrap();
        let tensor = QTensor::quantize(&weights, GgmlDType::Q6K).unwrap();
        let floats: Vec<f32> = tensor
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let bytes = tensor.data().unwrap().into_owned();
        for n in [1, 3] {
            let x = values(n * columns, 3 + n as u64, 1.0);
            let mut tokens = Q6kTokens::default();
            tokens.quantize(&x, n, columns);
            let mut want = vec![0.0f32; rows * n];
            for j in 0..rows {
                for t in 0..n {
                    want[j * n + t] = (0..columns)
                        .map(|k| {
                            let at = t * tokens.blocks + k / BLOCK;
                            let x = tokens.scales[at]
                                * f32::from(tokens.quants[at * BLOCK + k % BLOCK]);
                            floats[j * columns + k] * x
                        })
                        .sum();
                    let row = &bytes[j * 2 * BLOCK_BYTES..(j + 1) * 2 * BLOCK_BYTES];
                    let portable = row_portable(row, &tokens, t);
                    let tolerance = 1e-3 * (1.0 + want[j * n + t].abs());
                    assert!(
                        (portable - want[j * n + t]).abs() < tolerance,
                        "{portable} vs {}",
                        want[j * n + t]
                    );
                }
            }
            for kernel in Wide::all_here() {
                let mut got = vec![f32::NAN; rows * n];
                rows_times(kernel, &bytes, &tokens, &mut got);
                for (i, (got, want)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                        "{kernel:?}, {rows} rows, {n} tokens, at {i}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
