use super::*;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// A deterministic spread of values in about ±`scale`.
pub(crate) fn values(count: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
        })
        .collect()
}

/// `rows × columns` weights quantized by candle, in a mapping of their own.
pub(crate) fn matrix(rows: usize, columns: usize, seed: u64) -> Q8Matrix {
    let weights = Tensor::from_vec(
        values(rows * columns, seed, 0.5),
        (rows, columns),
        &Device::Cpu,
    )
    .unwrap();
    let bytes = QTensor::quantize(&weights, GgmlDType::Q8_0)
        .unwrap()
        .data()
        .unwrap()
        .into_owned();
    let mut map = memmap2::MmapMut::map_anon(bytes.len() + 3).unwrap();
    // An odd start, as a tensor in a file may have.
    map[3..].copy_from_slice(&bytes);
    Q8Matrix::new(Arc::new(map.make_read_only().unwrap()), 3, rows, columns).unwrap()
}

pub(crate) fn dequantized(matrix: &Q8Matrix) -> Vec<f32> {
    let mut out = vec![0.0; matrix.rows * matrix.columns];
    matrix.dequantize(0..matrix.rows, &mut out);
    out
}

pub(crate) fn kernels() -> Vec<Kernel> {
    let mut kernels = vec![Kernel::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") && has!("f16c") {
            kernels.push(Kernel::Avx2);
            if has!("avxvnni") {
                kernels.push(Kernel::AvxVnni);
            }
            if has!("avx512vnni") && has!("avx512vl") {
                kernels.push(Kernel::Avx512Vnni);
            }
        }
    }
    kernels
}

#[test]
fn quantizing_activations_matches_candle_block_for_block() {
    let x = values(4 * 96, 7, 3.0);
    let mut ours = Quantized::default();
    ours.quantize(&x, 96);
    let tensor = Tensor::from_vec(x.clone(), (4, 96), &Device::Cpu).unwrap();
    let theirs = QTensor::quantize(&tensor, GgmlDType::Q8_0)
        .unwrap()
        .data()
        .unwrap()
        .into_owned();
    for (b, block) in theirs.chunks_exact(BLOCK_BYTES).enumerate() {
        let scale = f16::from_le_bytes([block[0], block[1]]).to_f32();
        assert_eq!(scale, ours.scales[b], "block {b}");
        let quants: Vec<i8> = block[2..].iter().map(|&q| q as i8).collect();
        assert_eq!(quants, ours.quants[b * BLOCK..(b + 1) * BLOCK], "block {b}");
    }
}

#[test]
fn every_kernel_gives_the_exact_block_products_for_one_to_nine_tokens() {
    let (rows, columns) = (37, 160);
    let w = matrix(rows, columns, 1);
    let weights = dequantized(&w);
    for tokens in 1..=9 {
        let x = values(tokens * columns, tokens as u64, 2.0);
        let mut acts = Quantized::default();
        acts.quantize(&x, columns);
        // The same blocks summed in f64: what each kernel approximates in f32.
        let expected: Vec<f64> = (0..rows)
            .flat_map(|j| (0..tokens).map(move |t| (j, t)))
            .map(|(j, t)| {
                (0..columns / BLOCK)
                    .map(|b| {
                        let at = t * columns / BLOCK + b;
                        (0..BLOCK)
                            .map(|i| {
                                f64::from(weights[j * columns + b * BLOCK + i])
                                    * f64::from(acts.quants[at * BLOCK + i])
                                    * f64::from(acts.scales[at])
                            })
                            .sum::<f64>()
                    })
                    .sum()
            })
            .collect();
        for kernel in kernels() {
            let mut out = vec![0.0; rows * tokens];
            kernel.rows_times(&w, 0..rows, &acts, &mut out);
            for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                assert!(
                    (f64::from(*got) - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "{kernel:?}, {tokens} tokens, output {i}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn a_matrix_that_does_not_fit_the_file_is_refused() {
    let map = Arc::new(
        memmap2::MmapMut::map_anon(BLOCK_BYTES * 4)
            .unwrap()
            .make_read_only()
            .unwrap(),
    );
    assert!(Q8Matrix::new(Arc::clone(&map), 0, 4, 32).is_ok());
    let past = Q8Matrix::new(Arc::clone(&map), 1, 4, 32).err().unwrap();
    assert!(past.contains("past the end"), "{past}");
    let ragged = Q8Matrix::new(Arc::clone(&map), 0, 1, 48).err().unwrap();
    assert!(ragged.contains("whole blocks"), "{ragged}");
    let huge = Q8Matrix::new(map, usize::MAX - 3, usize::MAX / 2, 64)
        .err()
        .unwrap();
    assert!(huge.contains("past the end"), "{huge}");
}

#[test]
fn f16_scales_read_as_half_reads_them() {
    for bits in 0..=u16::MAX {
        let ours = f16_to_f32(bits.to_le_bytes());
        let theirs = f16::from_bits(bits).to_f32();
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "{bits:#06x}: {ours} vs {theirs}"
        );
    }
}

#[test]
fn the_vectorised_quantizing_rounds_as_the_portable_one() {
    // Scale 1 (a block's largest magnitude 127) puts values exactly on halves and on the
    // floats either side of them, where rounding half away from zero is decided.
    let mut x = Vec::new();
    for k in -127..127 {
        let half = k as f32 + 0.5;
        let mut block = vec![127.0];
        block.extend([
            half,
            half.next_down(),
            half.next_up(),
            -half,
            (-half).next_up(),
        ]);
        block.extend([k as f32, -(k as f32), 0.0, -0.0]);
        block.resize(BLOCK, half);
        x.extend(block);
    }
    x.extend(values(64 * BLOCK, 5, 40.0));
    x.extend([0.0; BLOCK]);
    let blocks = x.len() / BLOCK;
    let mut want = (vec![0i8; x.len()], vec![0.0f32; blocks]);
    quantize_portable(&x, &mut want.0, &mut want.1);
    let mut got = (vec![0i8; x.len()], vec![0.0f32; blocks]);
    quantize(&x, &mut got.0, &mut got.1);
    assert_eq!(got.1, want.1);
    for (b, (got, want)) in got.0.chunks(BLOCK).zip(want.0.chunks(BLOCK)).enumerate() {
        assert_eq!(got, want, "block {b}: {:?}", &x[b * BLOCK..(b + 1) * BLOCK]);
    }
}
