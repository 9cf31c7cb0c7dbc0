//! LocalGPT's model inference: GGUF files read in place, tokenizers, chat templates, our
//! own forward passes (Q8_0 Llama, BERT) and the vectorised kernels they share. It knows
//! nothing of LocalGPT's home folder, configuration or front doors: the application
//! installs models and hands this crate their folders.
//!
//! - [`chat`]: chat models: the engine (sampling, generation), the GGUF reader, the chat
//!   template, the tokenizer rebuilt from a GGUF's vocabulary, the Q8_0 Llama forward
//!   pass.
//! - [`embedding`]: the all-MiniLM-L6-v2 sentence embedder and its BERT forward pass.
//! - [`kernels`]: products, normalisation and activations for the vector units the CPU
//!   has (AVX-512, AVX2, portable), chosen once at run time.
//! - `denormals`: denormal floats flushed to zero while a model runs.

pub mod chat;
mod denormals;
pub mod embedding;
pub mod kernels;
#[cfg(test)]
mod layers;
