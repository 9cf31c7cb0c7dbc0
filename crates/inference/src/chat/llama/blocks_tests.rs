use super::*;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use super::super::q8::tests::values;

const FORMATS: [GgmlDType; 6] = [
    GgmlDType::Q4_0,
    GgmlDType::Q5_0,
    GgmlDType::Q8_0,
    GgmlDType::Q4K,
    GgmlDType::Q5K,
    GgmlDType::Q6K,
];

/// `rows × columns` weights quantized by candle into `dtype`, in a mapping of their own
/// at byte `start`, and candle's own tensor of them.
pub(crate) fn matrix(
    dtype: GgmlDType,
    rows: usize,
    columns: usize,
    start: usize,
) -> (BlockMatrix, QTensor) {
    let weights = Tensor::from_vec(
        values(rows * columns, rows as u64 + columns as u64, 0.5),
        (rows, columns),
        &Device::Cpu,
    )
    .unwrap();
    let tensor = QTensor::quantize(&weights, dtype).unwrap();
    let bytes = tensor.data().unwrap().into_owned();
    let mut map = memmap2::MmapMut::map_anon(bytes.len() + start).unwrap();
    map[start..].copy_from_slice(&bytes);
    let map = Arc::new(map.make_read_only().unwrap());
    let format = Format::of(dtype).unwrap();
    (
        BlockMatrix::new(map, start, rows, columns, format).unwrap(),
        tensor,
    )
}

#[test]
fn rows_read_in_place_are_candles_rows() {
    for dtype in FORMATS {
        let (ours, theirs) = matrix(dtype, 12, 512, 32);
        let want: Vec<f32> = theirs
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut got = vec![0.0; 5 * 512];
        ours.dequantize(3..8, &mut got);
        assert_eq!(got, want[3 * 512..8 * 512], "{dtype:?}");
    }
}

/// A token and a few, on any rows (four at a time and the rest): what candle's quantized
/// product gives, which is llama.cpp's arithmetic.
#[test]
fn products_are_candles_products() {
    for dtype in FORMATS {
        let (rows, columns) = (11, 512);
        let (ours, theirs) = matrix(dtype, rows, columns, 64);
        let theirs = QMatMul::from_qtensor(theirs).unwrap();
        for tokens in [1, 3] {
            let x = values(tokens * columns, 99, 1.0);
            let want: Vec<f32> = theirs
                .forward(&Tensor::from_vec(x.clone(), (tokens, columns), &Device::Cpu).unwrap())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mut acts = Activations::default();
            acts.quantize(&x, tokens, columns, std::iter::once(ours.format));
            for share in [0..rows, 2..9] {
                let mut got = vec![0.0; share.len() * tokens];
                ours.dots(share.clone(), &acts, &mut got);
                for (j, row) in share.clone().enumerate() {
                    for t in 0..tokens {
                        let (got, want) = (got[j * tokens + t], want[t * rows + row]);
                        assert!(
                            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                            "{dtype:?}, {tokens} tokens, row {row}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

/// Q4_0, Q5_0 and Q8_0 rows unpacked in registers by each kernel this CPU has (and the
/// portable one), for one to five tokens: candle's products.
#[test]
fn every_kernel_gives_candles_products_for_the_32_value_formats() {
    for dtype in [GgmlDType::Q4_0, GgmlDType::Q5_0, GgmlDType::Q8_0] {
        let (rows, columns) = (9, 320);
        let (ours, theirs) = matrix(dtype, rows, columns, 96);
        let theirs = QMatMul::from_qtensor(theirs).unwrap();
        for tokens in 1..=5 {
            let x = values(tokens * columns, 7 + tokens as u64, 1.0);
            let input = Tensor::from_vec(x.clone(), (tokens, columns), &Device::Cpu).unwrap();
            let want: Vec<f32> = theirs
                .forward(&input)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for kernel in super::super::q8::tests::kernels() {
                let mut acts = Activations {
                    kernel,
                    ..Activations::default()
                };
                acts.quantize(&x, tokens, columns, std::iter::once(ours.format));
                let mut got = vec![0.0; rows * tokens];
                ours.dots(0..rows, &acts, &mut got);
                for row in 0..rows {
                    for t in 0..tokens {
                        let (got, want) = (got[row * tokens + t], want[t * rows + row]);
                        assert!(
                            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                            "{dtype:?} {kernel:?}, {tokens} tokens, row {row}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn matrices_that_cannot_be_read_in_place_are_refused() {
    let (good, _) = matrix(GgmlDType::Q4K, 2, 256, 0);
    let map = Arc::clone(&good.map);
    let part = BlockMatrix::new(Arc::clone(&map), 0, 2, 200, Format::Q4K)
        .err()
        .unwrap();
    assert!(part.contains("not whole blocks"), "{part}");
    let past = BlockMatrix::new(Arc::clone(&map), 0, 3, 256, Format::Q4K)
        .err()
        .unwrap();
    assert!(past.contains("past the end"), "{past}");
    let odd = BlockMatrix::new(map, 1, 1, 256, Format::Q4K).err().unwrap();
    assert!(odd.contains("not aligned"), "{odd}");
}
