use super::*;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::chat::llama::q8::tests::values;

/// `rows × columns` weights as Q4_K bytes, and the same dequantized.
fn q4k(rows: usize, columns: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let weights = Tensor::from_vec(
        values(rows * columns, seed, 0.5),
        (rows, columns),
        &Device::Cpu,
    )
    .unwrap();
    let tensor = QTensor::quantize(&weights, GgmlDType::Q4K).unwrap();
    let floats = tensor
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    (tensor.data().unwrap().into_owned(), floats)
}

/// Value by value, the portable product is the dequantized weights times the quantized
/// tokens; the 512-bit kernels (one row and four at a time) give the same to rounding.
#[test]
fn every_kernel_gives_the_blocks_products() {
    let columns = 512;
    for rows in [1, 3, 4, 9] {
        let (bytes, floats) = q4k(rows, columns, rows as u64);
        for n in [1, 2, 5] {
            let x = values(n * columns, 7 + n as u64, 1.0);
            let mut tokens = Q4kTokens::default();
            tokens.quantize(&x, n, columns);
            // The tokens as their quantized values, in their own order.
            let order = [0, 2, 1, 3, 4, 6, 5, 7];
            let dequantized = |t: usize, k: usize| {
                let (b, i) = (k / BLOCK, k % BLOCK);
                let at = t * tokens.blocks + b;
                let slot = order[i / 32];
                tokens.scales[at] * f32::from(tokens.quants[at * BLOCK + slot * 32 + i % 32])
            };
            let mut want = vec![0.0f32; rows * n];
            for j in 0..rows {
                for t in 0..n {
                    want[j * n + t] = (0..columns)
                        .map(|k| floats[j * columns + k] * dequantized(t, k))
                        .sum();
                    let portable = row_portable(
                        &bytes[j * 2 * BLOCK_BYTES..(j + 1) * 2 * BLOCK_BYTES],
                        &tokens,
                        t,
                    );
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

/// Fills `bytes` from a xorshift generator at `state`.
fn random_bytes(state: &mut u64, bytes: &mut [u8]) {
    for byte in bytes {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *byte = *state as u8;
    }
}

/// The packed unpacking gives every scale and min the byte-by-byte one does.
#[test]
fn packed_scales_and_mins_match_the_plain_reading() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut bytes = [0u8; 12];
        random_bytes(&mut state, &mut bytes);
        let (scales, mins) = scales_and_mins(&bytes);
        let (packed_scales, packed_mins) = packed_scales_and_mins(&bytes);
        assert_eq!(packed_scales.to_le_bytes(), scales, "{bytes:?}");
        assert_eq!(packed_mins.to_le_bytes(), mins, "{bytes:?}");
    }
}

/// The unpacking in a register gives every scale and min the byte-by-byte one does.
#[cfg(target_arch = "x86_64")]
#[test]
fn scales_and_mins_in_a_register_match_the_plain_reading() {
    use std::arch::x86_64::*;
    assert!(
        is_x86_feature_detected!("ssse3"),
        "every x86_64 CPU this runs on has SSSE3"
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut head = [0u8; 16];
        random_bytes(&mut state, &mut head);
        let (scales, mins) = scales_and_mins(&head[4..]);
        let mut unpacked = [0u8; 16];
        // SAFETY: the CPU has SSSE3 (asserted above); the load and store are of 16 bytes
        // into arrays of 16.
        unsafe {
            let packed = x86::scales_and_mins(_mm_loadu_si128(head.as_ptr().cast()));
            _mm_storeu_si128(unpacked.as_mut_ptr().cast(), packed);
        }
        assert_eq!(unpacked[..8], scales, "{head:?}");
        assert_eq!(unpacked[8..], mins, "{head:?}");
    }
}

/// Q4_K rows re-expressed as Q8_0 without floats give the bytes that dequantizing them
/// (candle) and quantizing the floats as the activations are quantized give.
#[test]
fn rows_as_q8_0_match_dequantizing_and_quantizing() {
    let columns = 512;
    let (bytes, floats) = q4k(6, columns, 11);
    let mut quantized = crate::chat::llama::q8::Quantized::default();
    quantized.quantize(&floats, columns);
    let mut direct = Vec::new();
    as_q8_0(&bytes, &mut direct);
    let mut portable = Vec::new();
    as_q8_0_portable(&bytes, &mut portable);
    assert_eq!(direct, portable);
    let blocks: Vec<&[u8]> = direct.chunks_exact(34).collect();
    assert_eq!(blocks.len(), quantized.scales().len());
    for (i, block) in blocks.iter().enumerate() {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        assert_eq!(scale, quantized.scales()[i], "block {i}");
        let want = &quantized.quants()[i * 32..(i + 1) * 32];
        let got: Vec<i8> = block[2..].iter().map(|&b| b as i8).collect();
        assert_eq!(got, want, "block {i}");
    }
}
