//! What the model families this forward pass runs differ in, read from the file's
//! metadata: Llama (Llama 3.x, SmolLM2, Mistral), Qwen 2/2.5 (biases on Q, K and V), Qwen 3
//! (each head's query and key RMS-normalised before rotation), Gemma 3 (embeddings
//! scaled, GELU gating, norms after attention and feed-forward too, five local layers
//! with a sliding window to one global) and Phi-3 (query, key and value in one matrix,
//! gate and up in another). All but Llama rotate by halves.

use candle_core::quantized::gguf_file;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Llama,
    Qwen2,
    Qwen3,
    Gemma3,
    Phi3,
}

/// Gemma 3's layers come in sixes: five local ones (a sliding window, rotary base
/// 10,000, no scaling), then one global — as llama.cpp and Hugging Face's code fix it;
/// the file does not say.
pub(super) const GEMMA3_PATTERN: usize = 6;
pub(super) const GEMMA3_LOCAL_BASE: f32 = 10_000.0;
/// Gemma 3 27B, the one size whose queries are scaled by the model's width over its
/// heads rather than by the head's width (its `query_pre_attn_scalar`), is told apart by
/// its layer count, as llama.cpp tells it.
pub(super) const GEMMA3_27B_LAYERS: usize = 62;

impl Family {
    pub(super) fn of(architecture: &str) -> Option<Family> {
        Some(match architecture {
            "llama" => Family::Llama,
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            "gemma3" => Family::Gemma3,
            "phi3" => Family::Phi3,
            _ => return None,
        })
    }

    /// Rotation by halves (i, i + h/2), llama.cpp's "NeoX" rotation; Llama files' query
    /// and key rows are permuted for interleaved pairs instead.
    pub(super) fn rotates_halves(self) -> bool {
        self != Family::Llama
    }
}

/// Whether this forward pass runs the model in `content`: a dense model of one of the
/// families, heads rotated whole, positions scaled linearly if at all, every matrix in a
/// format [`super::blocks::Format`] reads. Others are left to candle — Phi-3's long-context
/// variants among them (their rotations are stretched per frequency, by the context).
pub(in crate::chat) fn reads(content: &gguf_file::Content) -> bool {
    let arch = crate::chat::gguf::architecture(content);
    let number = |key: &str| {
        content
            .metadata
            .get(&format!("{arch}.{key}"))
            .and_then(|value| value.to_u32().ok())
    };
    let head_width = number("attention.key_length")
        .or_else(|| Some(number("embedding_length")? / number("attention.head_count")?.max(1)));
    let whole_heads = match (head_width, number("rope.dimension_count")) {
        (Some(head), Some(rotated)) => rotated == head,
        _ => true,
    };
    Family::of(&arch).is_some()
        && number("attention.head_count").is_some()
        && number("expert_count").unwrap_or(0) <= 1
        && whole_heads
        && linear_rope_factor(content).is_ok()
        && !content
            .tensor_infos
            .contains_key("rope_factors_long.weight")
        && matrices(content).all(|(_, info)| super::blocks::Format::of(info.ggml_dtype).is_some())
}

/// The factor positions are divided by (`rope.scaling.factor` when the scaling is
/// linear or of no declared type, as llama.cpp applies it; 1 without one). Other
/// scalings (YaRN, long-rope) are an error: this forward pass does not do them.
pub(super) fn linear_rope_factor(content: &gguf_file::Content) -> Result<f32, String> {
    let arch = crate::chat::gguf::architecture(content);
    let metadata = |key: &str| content.metadata.get(&format!("{arch}.{key}"));
    let kind = metadata("rope.scaling.type").and_then(|value| value.to_string().ok());
    match kind.map(String::as_str) {
        None | Some("none" | "linear") => {}
        Some(other) => return Err(format!("rotary scaling `{other}` is not read here")),
    }
    let factor = metadata("rope.scaling.factor")
        .or_else(|| metadata("rope.scale_linear"))
        .and_then(|value| value.to_f32().ok())
        .unwrap_or(1.0);
    match kind.map(String::as_str) {
        Some("none") => Ok(1.0),
        _ if factor == 0.0 => Ok(1.0),
        _ if factor.is_finite() && factor > 0.0 => Ok(factor),
        _ => Err(format!("a rotary scaling factor of {factor}")),
    }
}

/// The model's matrices: its two-dimensional weights.
pub(super) fn matrices(
    content: &gguf_file::Content,
) -> impl Iterator<Item = (&String, &gguf_file::TensorInfo)> {
    content
        .tensor_infos
        .iter()
        .filter(|(name, info)| name.ends_with(".weight") && info.shape.rank() == 2)
}
