//! `localgpt models bench`: a model file measured through the real binary — our own
//! forward pass for a Q4_K_M file, candle's for the rest — and every bad input refused
//! with a message that names it.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::common::{Test, text};

/// A two-layer Llama 256 wide in the Q4_K_M mix (Q4_K, with Q6_K for the value, down and
/// embedding matrices), as llama.cpp numbers the file type, with no tokenizer at all.
fn write_q4_k_m(path: &Path) {
    let (width, hidden, vocabulary) = (256usize, 512usize, 300usize);
    let matrix = |rows: usize, columns: usize, dtype: GgmlDType, seed: usize| {
        let values: Vec<f32> = (0..rows * columns)
            .map(|i| (((i + seed) * 2_654_435_761) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let t = Tensor::from_vec(values, (rows, columns), &Device::Cpu).unwrap();
        QTensor::quantize(&t, dtype).unwrap()
    };
    let ones = |size: usize| {
        QTensor::quantize(
            &Tensor::ones(size, candle_core::DType::F32, &Device::Cpu).unwrap(),
            GgmlDType::F32,
        )
        .unwrap()
    };
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            matrix(vocabulary, width, GgmlDType::Q6K, 1),
        ),
        ("output_norm.weight".into(), ones(width)),
    ];
    for layer in 0..2 {
        for (name, rows, columns, dtype) in [
            ("attn_q", width, width, GgmlDType::Q4K),
            ("attn_k", width / 2, width, GgmlDType::Q4K),
            ("attn_v", width / 2, width, GgmlDType::Q6K),
            ("attn_output", width, width, GgmlDType::Q4K),
            ("ffn_gate", hidden, width, GgmlDType::Q4K),
            ("ffn_up", hidden, width, GgmlDType::Q4K),
            ("ffn_down", width, hidden, GgmlDType::Q6K),
        ] {
            tensors.push((
                format!("blk.{layer}.{name}.weight"),
                matrix(rows, columns, dtype, layer * 7 + name.len()),
            ));
        }
        tensors.push((format!("blk.{layer}.attn_norm.weight"), ones(width)));
        tensors.push((format!("blk.{layer}.ffn_norm.weight"), ones(width)));
    }
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.file_type", Value::U32(15)),
        ("llama.attention.head_count", Value::U32(4)),
        ("llama.attention.head_count_kv", Value::U32(2)),
        ("llama.block_count", Value::U32(2)),
        ("llama.context_length", Value::U32(64)),
        ("llama.embedding_length", Value::U32(width as u32)),
        ("llama.feed_forward_length", Value::U32(hidden as u32)),
        ("llama.rope.dimension_count", Value::U32(64)),
        ("llama.rope.freq_base", Value::F32(500_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
    ];
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
}

#[test]
fn a_q4_k_m_file_is_measured_on_our_own_forward_pass() {
    let t = Test::new();
    let path = t.scratch().join("tiny-q4km.gguf");
    write_q4_k_m(&path);
    let out = t
        .run([
            "models",
            "bench",
            path.to_str().unwrap(),
            "--threads",
            "2",
            "--prompt-tokens",
            "20",
            "--gen-tokens",
            "6",
            "--repetitions",
            "1",
            "--json",
        ])
        .success();
    let report: serde_json::Value =
        serde_json::from_str(text(&out.get_output().stdout).trim()).unwrap();
    assert_eq!(report["forward_pass"], "localgpt", "{report}");
    assert_eq!(report["quantization"], "Q4_K_M", "{report}");
    assert_eq!(report["architecture"], "llama", "{report}");
    assert_eq!(report["threads"], 2, "{report}");
    assert_eq!(report["prompt_tokens"], 20, "{report}");
    assert_eq!(report["gen_tokens"], 6, "{report}");
    for rate in ["prompt_tokens_per_s", "gen_tokens_per_s"] {
        assert!(
            report[rate].as_f64().is_some_and(|r| r > 0.0),
            "{rate}: {report}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(
            report["peak_memory_bytes"].as_u64().is_some_and(|b| b > 0),
            "{report}"
        );
    }
    assert!(
        report["cpu"]
            .as_str()
            .is_some_and(|cpu| cpu.contains("kernels for")),
        "{report}"
    );
}

#[test]
fn a_model_candle_runs_is_measured_and_reported_as_such() {
    let t = Test::new();
    let path = t.scratch().join("tiny-f32.gguf");
    crate::local_gguf::write_tiny_gguf(&path, "qwen2", "qwen2", true);
    let out = t
        .run([
            "models",
            "bench",
            path.to_str().unwrap(),
            "--threads",
            "1",
            "--prompt-tokens",
            "8",
            "--gen-tokens",
            "3",
            "--repetitions",
            "1",
        ])
        .success();
    let stdout = text(&out.get_output().stdout);
    assert!(
        stdout.contains("qwen2 F32 (candle forward pass), 1 thread(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("prompt") && stdout.contains("tokens/s"),
        "{stdout}"
    );
    assert!(stdout.contains("generation"), "{stdout}");
}

#[test]
fn what_cannot_be_measured_is_refused_with_what_and_where() {
    let t = Test::new();
    // Neither a file nor an installed model: a usage error that names it.
    let out = t.run(["models", "bench", "no-such-model"]).code(2);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("`no-such-model`") && stderr.contains("none installed"),
        "{stderr}"
    );
    // Not a GGUF file.
    let junk = t.scratch().join("junk.gguf");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let out = t.run(["models", "bench", junk.to_str().unwrap()]).code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("cannot measure") && stderr.contains("junk.gguf"),
        "{stderr}"
    );
    // More tokens than the model's context (64).
    let path = t.scratch().join("tiny-q4km.gguf");
    write_q4_k_m(&path);
    let out = t
        .run([
            "models",
            "bench",
            path.to_str().unwrap(),
            "--prompt-tokens",
            "60",
            "--gen-tokens",
            "10",
        ])
        .code(1);
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("70 tokens") && stderr.contains("64"),
        "{stderr}"
    );
    // Zero threads is a usage error from the command line itself.
    t.run(["models", "bench", path.to_str().unwrap(), "--threads", "0"])
        .code(2);
}
