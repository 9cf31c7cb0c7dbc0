use super::*;

use candle_core::quantized::{QTensor, gguf_file::Value};
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

use super::q8::tests::values;
use super::tiles::TileKernel;

const WIDTH: usize = 64;
const HIDDEN: usize = 128;
const VOCABULARY: usize = 96;

/// A two-layer Llama with four query heads over two key/value heads, random Q8_0
/// matrices, written as a GGUF file; `as_f32` writes the same weights as floats.
fn tiny_llama(path: &std::path::Path, tied: bool, as_f32: bool) {
    write_llama(path, (WIDTH, HIDDEN), tied, as_f32, &|_| GgmlDType::Q8_0);
}

/// The same, `width` wide with `hidden` feed-forward rows, each matrix in the format
/// `format_of` gives its name.
fn write_llama(
    path: &std::path::Path,
    (width, hidden): (usize, usize),
    tied: bool,
    as_f32: bool,
    format_of: &dyn Fn(&str) -> GgmlDType,
) {
    write_family(
        path,
        "llama",
        (width, hidden, width / 4, 2),
        tied,
        as_f32,
        format_of,
    );
}

/// A two-layer model of `arch` (`llama`; `qwen2`, with biases; `qwen3`, with per-head
/// query and key norms; `phi3`, with fused query/key/value and gate/up matrices; `gemma3`,
/// six layers — five local, one global — with query, key and post norms, a sliding window
/// of 8 and linear rotary scaling), four query heads of `head` values over `kv` key/value
/// heads.
fn write_family(
    path: &std::path::Path,
    arch: &str,
    (width, hidden, head, kv): (usize, usize, usize, usize),
    tied: bool,
    as_f32: bool,
    format_of: &dyn Fn(&str) -> GgmlDType,
) {
    let vector = |length: usize, seed: u64, around: f32| {
        let gains: Vec<f32> = values(length, seed, 0.2)
            .iter()
            .map(|v| around + v)
            .collect();
        let t = Tensor::from_vec(gains, length, &Device::Cpu).unwrap();
        QTensor::quantize(&t, GgmlDType::F32).unwrap()
    };
    let quantized = |name: &str, rows: usize, columns: usize, seed: u64| {
        let t = Tensor::from_vec(
            values(rows * columns, seed, 0.3),
            (rows, columns),
            &Device::Cpu,
        )
        .unwrap();
        let q8 = QTensor::quantize(&t, format_of(name)).unwrap();
        if as_f32 {
            QTensor::quantize(&q8.dequantize(&Device::Cpu).unwrap(), GgmlDType::F32).unwrap()
        } else {
            q8
        }
    };
    let norm = |seed: u64| {
        let gains: Vec<f32> = values(width, seed, 0.2).iter().map(|v| 1.0 + v).collect();
        let t = Tensor::from_vec(gains, width, &Device::Cpu).unwrap();
        QTensor::quantize(&t, GgmlDType::F32).unwrap()
    };
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            quantized("token_embd", VOCABULARY, width, 1),
        ),
        ("output_norm.weight".into(), norm(2)),
    ];
    if !tied {
        tensors.push((
            "output.weight".into(),
            quantized("output", VOCABULARY, width, 3),
        ));
    }
    let layers: u64 = if arch == "gemma3" { 6 } else { 2 };
    for layer in 0..layers {
        let seed = 10 * (layer + 1);
        let matrices = if arch == "phi3" {
            vec![
                ("attn_qkv", (4 + 2 * kv) * head, width),
                ("attn_output", width, 4 * head),
                ("ffn_up", 2 * hidden, width),
                ("ffn_down", width, hidden),
            ]
        } else {
            vec![
                ("attn_q", 4 * head, width),
                ("attn_k", kv * head, width),
                ("attn_v", kv * head, width),
                ("attn_output", width, 4 * head),
                ("ffn_gate", hidden, width),
                ("ffn_up", hidden, width),
                ("ffn_down", width, hidden),
            ]
        };
        for (name, rows, columns) in matrices {
            let seed = seed + name.len() as u64 + rows as u64;
            tensors.push((
                format!("blk.{layer}.{name}.weight"),
                quantized(name, rows, columns, seed),
            ));
        }
        tensors.push((format!("blk.{layer}.attn_norm.weight"), norm(seed + 1)));
        tensors.push((format!("blk.{layer}.ffn_norm.weight"), norm(seed + 2)));
        if arch == "gemma3" {
            for (name, seed) in [
                ("post_attention_norm", seed + 3),
                ("post_ffw_norm", seed + 4),
            ] {
                tensors.push((format!("blk.{layer}.{name}.weight"), norm(seed)));
            }
        }
        if arch == "qwen3" || arch == "gemma3" {
            for name in ["attn_q_norm", "attn_k_norm"] {
                let gains: Vec<f32> = values(head, seed + name.len() as u64, 0.2)
                    .iter()
                    .map(|v| 1.0 + v)
                    .collect();
                let t = Tensor::from_vec(gains, head, &Device::Cpu).unwrap();
                tensors.push((
                    format!("blk.{layer}.{name}.weight"),
                    QTensor::quantize(&t, GgmlDType::F32).unwrap(),
                ));
            }
        }
        if arch == "qwen2" {
            for (name, length) in [
                ("attn_q", 4 * head),
                ("attn_k", kv * head),
                ("attn_v", kv * head),
            ] {
                tensors.push((
                    format!("blk.{layer}.{name}.bias"),
                    vector(length, seed + 5, 0.0),
                ));
            }
        }
    }
    let key = |name: &str| format!("{arch}.{name}");
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (key("attention.head_count"), Value::U32(4)),
        (key("attention.head_count_kv"), Value::U32(kv as u32)),
        (key("attention.key_length"), Value::U32(head as u32)),
        (key("block_count"), Value::U32(layers as u32)),
        (key("context_length"), Value::U32(512)),
        (key("embedding_length"), Value::U32(width as u32)),
        (key("feed_forward_length"), Value::U32(hidden as u32)),
        (key("rope.dimension_count"), Value::U32(head as u32)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
    ];
    if arch == "gemma3" {
        metadata.extend([
            (key("attention.sliding_window"), Value::U32(8)),
            (key("rope.freq_base"), Value::F32(1_000_000.0)),
            (key("rope.scaling.type"), Value::String("linear".into())),
            (key("rope.scaling.factor"), Value::F32(8.0)),
        ]);
        metadata.retain(|(name, value)| {
            name != &key("rope.freq_base") || matches!(value, Value::F32(base) if *base > 1e5)
        });
    }
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
}

fn both(path: &std::path::Path, threads: usize) -> (Llama, ModelWeights) {
    let mut file = File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let ours = Llama::load(&content, &file, threads)
        .unwrap()
        .expect("runs it");
    (ours, candle_model(path))
}

fn candle_model(path: &std::path::Path) -> ModelWeights {
    let mut file = File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap()
}

fn candle_logits(model: &mut ModelWeights, tokens: &[u32], position: usize) -> Vec<f32> {
    let input = Tensor::new(tokens, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    model
        .forward(&input, position)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn dequantized(matrix: &Matrix) -> Vec<f32> {
    let mut out = vec![0.0; matrix.rows() * matrix.columns()];
    matrix.dequantize(0..matrix.rows(), &mut out);
    out
}

/// The largest difference, relative to the largest logit.
fn difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// A few tokens at a time, and prompts where the CPU has VNNI, are multiplied as candle
/// and llama.cpp multiply them (activations quantized to Q8_0 too), so the logits agree
/// to rounding.
#[test]
fn quantized_products_give_candles_logits() {
    let dir = tempfile::tempdir().unwrap();
    for tied in [false, true] {
        let path = dir.path().join("tiny.gguf");
        tiny_llama(&path, tied, false);
        for threads in [1, 2] {
            let (mut ours, mut theirs) = both(&path, threads);
            ours.products.tiles = TileKernel::detect();
            let prompt: Vec<u32> = (0..20).map(|i| (i * 11 + 5) % VOCABULARY as u32).collect();
            let mut steps: Vec<&[u32]> =
                vec![&[3, 10, 17, 24, 31, 38], &[5], &[17], &[2, 9, 40], &[88]];
            if ours.products.tiles.is_some() {
                steps.insert(1, &prompt);
            }
            let mut position = 0;
            for (i, tokens) in steps.iter().enumerate() {
                let got = ours.forward(tokens, position).unwrap();
                let want = candle_logits(&mut theirs, tokens, position);
                let off = difference(&got, &want);
                assert!(
                    off < 1e-5,
                    "tied {tied}, {threads} threads, step {i}: {off}"
                );
                position += tokens.len();
            }
        }
    }
}

/// The format of each matrix, by its name.
type FormatOf = dyn Fn(&str) -> GgmlDType;

/// A Q4_K_M-style mix (Q4_K, Q6_K for the value, down and embedding matrices), and Q4_0
/// and Q5_K files, read in place: the logits candle's quantized Llama gives, for a
/// prompt, single tokens, on one thread and two, tied output or not.
#[test]
fn downloaded_formats_give_candles_logits() {
    let mixes: [(&str, &FormatOf); 3] = [
        ("Q4_K_M", &|name| match name {
            "attn_v" | "ffn_down" | "token_embd" | "output" => GgmlDType::Q6K,
            _ => GgmlDType::Q4K,
        }),
        ("Q4_0", &|name| match name {
            "token_embd" | "output" => GgmlDType::Q6K,
            _ => GgmlDType::Q4_0,
        }),
        ("Q5_K", &|_| GgmlDType::Q5K),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (mix, format_of) in mixes {
        for tied in [false, true] {
            let path = dir.path().join("mix.gguf");
            write_llama(&path, (256, 512), tied, false, format_of);
            for threads in [1, 2] {
                let (mut ours, mut theirs) = both(&path, threads);
                assert!(ours.output.as_blocks().is_some(), "{mix}");
                // A few tokens at a time: each format's own dot products, as candle's.
                let prompt: Vec<u32> = (0..products::FEW_TOKENS_FOR_BLOCKS as u32)
                    .map(|i| (i * 13 + 2) % VOCABULARY as u32)
                    .collect();
                let mut position = 0;
                for (i, tokens) in [&prompt[..], &[7], &[50, 3]].iter().enumerate() {
                    let got = ours.forward(tokens, position).unwrap();
                    let want = candle_logits(&mut theirs, tokens, position);
                    let off = difference(&got, &want);
                    assert!(
                        off < 1e-4,
                        "{mix}, tied {tied}, {threads} threads, step {i}: {off}"
                    );
                    position += tokens.len();
                }
            }
        }
    }
}

/// A longer prompt of a K-quant mix goes through the prompt path: gemm on dequantized
/// weights (floats throughout: what candle gives for the same weights as floats), or int8
/// tiles of the weights re-expressed as Q8_0 (close to it).
#[test]
fn a_k_quant_prompt_gives_candles_hidden_state_for_the_same_weights_as_floats() {
    let mix = |name: &str| match name {
        "attn_v" | "ffn_down" | "token_embd" | "output" => GgmlDType::Q6K,
        _ => GgmlDType::Q4K,
    };
    let dir = tempfile::tempdir().unwrap();
    let (quantized, floats) = (dir.path().join("q4km.gguf"), dir.path().join("f32.gguf"));
    write_llama(&quantized, (256, 512), false, false, &mix);
    write_llama(&floats, (256, 512), false, true, &mix);
    let mut paths = vec![None];
    paths.extend(TileKernel::detect().map(Some));
    for tiles in paths {
        for threads in [1, 2] {
            let (mut ours, _) = both(&quantized, threads);
            ours.products.tiles = tiles;
            let mut theirs = candle_model(&floats);
            let prompt: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % VOCABULARY as u32).collect();
            ours.forward(&prompt, 0).unwrap();
            let hidden = &ours.scratch.normed[..256];
            let got: Vec<f32> = dequantized(&ours.output)
                .chunks_exact(256)
                .map(|row| row.iter().zip(hidden).map(|(w, h)| w * h).sum())
                .collect();
            let want = candle_logits(&mut theirs, &prompt, 0);
            let off = difference(&got, &want);
            // Int8 activations alone move this tiny random model's logits by about 4 %
            // (candle's own K-quant path, against floats, differs by as much).
            let tolerance = if tiles.is_some() { 5e-2 } else { 1e-4 };
            assert!(off < tolerance, "{tiles:?}, {threads} threads: {off}");
        }
    }
}

/// Qwen 2 (biases on Q, K and V, rotation by halves; grouped heads or not) gives candle's
/// logits, Q8_0 and the K-quant mix, a prompt read in pieces as candle reads it whole.
#[test]
fn qwen_families_give_candles_logits() {
    use candle_transformers::models::quantized_qwen2;
    let dir = tempfile::tempdir().unwrap();
    let mix = |name: &str| match name {
        "attn_v" | "ffn_down" | "token_embd" | "output" => GgmlDType::Q6K,
        _ => GgmlDType::Q4K,
    };
    let q8 = |_: &str| GgmlDType::Q8_0;
    // (width, feed-forward rows, head width, key/value heads), and the formats.
    type Case<'a> = (&'a str, (usize, usize, usize, usize), &'a FormatOf);
    let cases: [Case<'_>; 4] = [
        ("qwen2", (64, 128, 16, 2), &q8),
        ("qwen2", (256, 512, 64, 2), &mix),
        ("qwen2", (64, 128, 16, 4), &q8),
        ("qwen2", (256, 512, 64, 4), &mix),
    ];
    for (arch, shape, format_of) in cases {
        let path = dir.path().join(format!("{arch}-{}.gguf", shape.0));
        write_family(&path, arch, shape, false, false, format_of);
        let mut file = File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        let mut ours = Llama::load(&content, &file, 2).unwrap().expect("runs it");
        let mut model =
            quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
        let mut theirs = |tokens: &[u32], position: usize| -> Vec<f32> {
            let input = Tensor::new(tokens, &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = model.forward(&input, position).unwrap();
            logits.flatten_all().unwrap().to_vec1().unwrap()
        };
        // candle reads the prompt in one go; ours reads it in pieces, through the cache.
        let prompt = [3u32, 10, 17, 5, 40, 2];
        let want = theirs(&prompt, 0);
        let mut position = 0;
        let mut got = Vec::new();
        for piece in [&prompt[..2], &prompt[2..3], &prompt[3..]] {
            got = ours.forward(piece, position).unwrap();
            position += piece.len();
        }
        let off = difference(&got, &want);
        assert!(off < 1e-4, "{arch} {shape:?}: {off}");
    }
}

/// Without VNNI a prompt goes through gemm on the dequantized weights, with activations
/// in f32: it gives what candle gives for the same weights stored as floats.
#[test]
fn a_prompt_gives_candles_logits_for_the_same_weights_as_floats() {
    let dir = tempfile::tempdir().unwrap();
    let (q8, f32s) = (dir.path().join("q8.gguf"), dir.path().join("f32.gguf"));
    tiny_llama(&q8, false, false);
    tiny_llama(&f32s, false, true);
    for threads in [1, 2] {
        let (mut ours, _) = both(&q8, threads);
        ours.products.tiles = None;
        let mut theirs = candle_model(&f32s);
        let prompt: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % VOCABULARY as u32).collect();
        let mut position = 0;
        for (i, tokens) in [&prompt, &prompt[..12]].iter().enumerate() {
            ours.forward(tokens, position).unwrap();
            // The logits themselves are one token's product (activations quantized), so
            // the layers' result is checked: the last hidden state times the output
            // weights in floats.
            let hidden = &ours.scratch.normed[..WIDTH];
            let got: Vec<f32> = dequantized(&ours.output)
                .chunks_exact(WIDTH)
                .map(|row| row.iter().zip(hidden).map(|(w, h)| w * h).sum())
                .collect();
            let want = candle_logits(&mut theirs, tokens, position);
            let off = difference(&got, &want);
            assert!(off < 1e-5, "{threads} threads, step {i}: {off}");
            position += tokens.len();
        }
    }
}

#[test]
fn a_cache_cut_back_gives_what_a_fresh_read_gives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    tiny_llama(&path, true, false);
    let (mut model, _) = both(&path, 1);
    let conversation: Vec<u32> = (0..14).map(|i| (i * 5 + 1) % VOCABULARY as u32).collect();
    model.forward(&conversation, 0).unwrap();
    // The last four tokens change: keep ten, feed the new ending.
    model.truncate(10);
    let ending = [60, 61, 62, 63];
    let cut = model.forward(&ending, 10).unwrap();
    // The same ten and four, the same way, from an empty cache.
    model.truncate(0);
    model.forward(&conversation[..10], 0).unwrap();
    let fresh = model.forward(&ending, 10).unwrap();
    assert_eq!(cut, fresh);
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    tiny_llama(&path, true, false);
    let (mut model, _) = both(&path, 1);
    let outside = model.forward(&[VOCABULARY as u32], 0).unwrap_err();
    assert!(
        outside.contains("outside the model's vocabulary"),
        "{outside}"
    );
    let gap = model.forward(&[1], 5).unwrap_err();
    assert!(gap.contains("position 5"), "{gap}");
    assert!(model.forward(&[], 0).is_err());
    // Nothing was cached by the refused calls.
    assert!(model.forward(&[1, 2], 0).is_ok());
}

#[test]
fn other_models_are_left_to_candle_and_broken_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    tiny_llama(&path, true, false);
    let read = || {
        let mut file = File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut file).unwrap();
        (content, file)
    };
    // Another architecture: not ours.
    let (mut other, file) = read();
    other.metadata.insert(
        "general.architecture".into(),
        Value::String("gemma3".into()),
    );
    assert!(Llama::load(&other, &file, 1).unwrap().is_none());
    // A matrix in a format this forward pass does not read: candle's.
    let (mut mixed, file) = read();
    if let Some(info) = mixed.tensor_infos.get_mut("blk.1.ffn_up.weight") {
        info.ggml_dtype = GgmlDType::Q4_1;
    }
    assert!(Llama::load(&mixed, &file, 1).unwrap().is_none());
    // A tensor said to lie past the end of the file: refused, with its name.
    let (mut broken, file) = read();
    if let Some(info) = broken.tensor_infos.get_mut("blk.1.ffn_down.weight") {
        info.offset = 1 << 40;
    }
    let err = Llama::load(&broken, &file, 1).err().expect("refused");
    assert!(err.contains("blk.1.ffn_down.weight"), "{err}");
}

/// `path`'s model with Llama 3.1's `rope_freqs` (one factor per pair of a head) added.
fn with_rope_factors(path: &std::path::Path, to: &std::path::Path, factors: &[f32]) {
    let mut file = File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut tensors: Vec<(String, QTensor)> = content
        .tensor_infos
        .keys()
        .map(|name| {
            (
                name.clone(),
                content.tensor(&mut file, name, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    let t = Tensor::from_vec(factors.to_vec(), factors.len(), &Device::Cpu).unwrap();
    tensors.push((
        "rope_freqs.weight".into(),
        QTensor::quantize(&t, GgmlDType::F32).unwrap(),
    ));
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut File::create(to).unwrap(), &metadata, &tensors).unwrap();
}

/// Llama 3.1/3.2 files stretch the slow rotations by the factors they carry, as llama.cpp
/// does (candle ignores them): factors of 1 change nothing; others change every position
/// but the first, where nothing is rotated.
#[test]
fn rope_factors_divide_the_frequencies() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.gguf");
    tiny_llama(&plain, false, false);
    let half = WIDTH / 4 / 2;
    let load = |path: &std::path::Path| {
        let file = File::open(path).unwrap();
        let content = gguf_file::Content::read(&mut File::open(path).unwrap()).unwrap();
        Llama::load(&content, &file, 1).unwrap().expect("ours")
    };
    let ones = dir.path().join("ones.gguf");
    with_rope_factors(&plain, &ones, &vec![1.0; half]);
    let stretched = dir.path().join("stretched.gguf");
    let factors: Vec<f32> = (0..half).map(|i| 1.0 + i as f32).collect();
    with_rope_factors(&plain, &stretched, &factors);
    let frequencies = |path: &std::path::Path| load(path).frequencies;
    assert_eq!(frequencies(&plain), frequencies(&ones));
    for (i, (plain, stretched)) in frequencies(&plain)
        .iter()
        .zip(frequencies(&stretched))
        .enumerate()
    {
        assert!(
            (plain / (1.0 + i as f32) - stretched).abs() < 1e-7,
            "pair {i}"
        );
    }
    let tokens = [3u32, 10, 17];
    let (mut a, mut b) = (load(&plain), load(&stretched));
    assert_eq!(
        a.forward(&tokens[..1], 0).unwrap(),
        b.forward(&tokens[..1], 0).unwrap()
    );
    assert_ne!(
        a.forward(&tokens[1..], 1).unwrap(),
        b.forward(&tokens[1..], 1).unwrap()
    );
    // Factors of the wrong length are refused, by name.
    let wrong = dir.path().join("wrong.gguf");
    with_rope_factors(&plain, &wrong, &[1.0; 3]);
    let content = gguf_file::Content::read(&mut File::open(&wrong).unwrap()).unwrap();
    let err = Llama::load(&content, &File::open(&wrong).unwrap(), 1)
        .err()
        .unwrap();
    assert!(err.contains("rope_freqs.weight"), "{err}");
}

/// The first logits of `arch`'s model (as `write_family` writes it, Q4_K_M's mix) after a
/// 20-token prompt, products on floats (tiles off) so only float rounding separates them
/// from `scripts/reference-logits.py`'s float64 NumPy forward pass, written from each
/// architecture's definition and run on the same file.
fn reference_logits(arch: &str, tied: bool, count: usize) -> Vec<f32> {
    let mix = |name: &str| match name {
        "attn_v" | "ffn_down" | "token_embd" | "output" => GgmlDType::Q6K,
        _ => GgmlDType::Q4K,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{arch}.gguf"));
    write_family(&path, arch, (256, 512, 64, 2), tied, false, &mix);
    let file = File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut &file).unwrap();
    let mut ours = Llama::load(&content, &file, 2).unwrap().expect("runs it");
    ours.products.tiles = None;
    let prompt: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % VOCABULARY as u32).collect();
    ours.forward(&prompt, 0).unwrap();
    // The last position's logits as floats, not through the one-token int8 product.
    let hidden = &ours.scratch.normed[..256];
    dequantized(&ours.output)
        .chunks_exact(256)
        .take(count)
        .map(|row| row.iter().zip(hidden).map(|(w, h)| w * h).sum())
        .collect()
}

/// Qwen 3 (each head's query and key normalised before rotation). candle's quantized
/// Qwen 3, the path this model took before, is 1e-3 off the same reference.
#[test]
fn qwen3_gives_the_float64_reference_logits() {
    const REFERENCE: [f32; 12] = [
        5.66201, -2.37404, 0.38847, 5.79726, -5.55166, 0.65290, -3.03250, -0.16170, 3.02435,
        -1.35375, -0.28866, -2.13643,
    ];
    let got = reference_logits("qwen3", false, REFERENCE.len());
    let off = difference(&got, &REFERENCE);
    assert!(off < 1e-4, "{off}: {got:?}");
}

/// Gemma 3: scaled embeddings, GELU, post-norms, and a prompt longer than the local
/// layers' window of 8, the global layer's positions scaled linearly.
#[test]
fn gemma3_gives_the_float64_reference_logits() {
    const REFERENCE: [f32; 12] = [
        -0.27829, 2.51668, -5.98710, 0.58485, -1.60971, 3.31497, -2.77017, -2.90641, 2.37378,
        0.85474, -3.36418, 0.54157,
    ];
    let got = reference_logits("gemma3", true, REFERENCE.len());
    let off = difference(&got, &REFERENCE);
    assert!(off < 1e-4, "{off}: {got:?}");
}

/// Phi-3: query, key and value read as three parts of one matrix, gate and up as two.
#[test]
fn phi3_gives_the_float64_reference_logits() {
    const REFERENCE: [f32; 12] = [
        2.35242, -6.95706, 3.65763, 1.36695, 0.82407, -0.29226, 1.54274, -3.05432, -0.05279,
        -2.06980, -1.85437, 1.77950,
    ];
    let got = reference_logits("phi3", false, REFERENCE.len());
    let off = difference(&got, &REFERENCE);
    assert!(off < 1e-4, "{off}: {got:?}");
}

/// A conversation read a token at a time (each one attending through the single-token
/// path, Gemma 3's local layers to their window of 8 only) gives the logits of the same
/// tokens read in pieces of up to eight, whose products are the same dot products.
#[test]
fn gemma3_and_phi3_read_token_by_token_as_in_pieces() {
    let mix = |name: &str| match name {
        "attn_v" | "ffn_down" | "token_embd" | "output" => GgmlDType::Q6K,
        _ => GgmlDType::Q4K,
    };
    let dir = tempfile::tempdir().unwrap();
    for (arch, tied) in [("gemma3", true), ("phi3", false)] {
        let path = dir.path().join(format!("{arch}.gguf"));
        write_family(&path, arch, (256, 512, 64, 2), tied, false, &mix);
        let file = File::open(&path).unwrap();
        let content = gguf_file::Content::read(&mut &file).unwrap();
        let mut model = Llama::load(&content, &file, 2).unwrap().expect("runs it");
        let tokens: Vec<u32> = (0..20).map(|i| (i * 11 + 5) % VOCABULARY as u32).collect();
        let mut one_by_one = Vec::new();
        for (position, token) in tokens.iter().enumerate() {
            one_by_one = model.forward(&[*token], position).unwrap();
        }
        model.truncate(0);
        let mut in_pieces = Vec::new();
        let mut position = 0;
        for length in [7, 1, 8, 4] {
            in_pieces = model
                .forward(&tokens[position..position + length], position)
                .unwrap();
            position += length;
        }
        let off = difference(&one_by_one, &in_pieces);
        assert!(off < 1e-4, "{arch}: {off}");
    }
}
