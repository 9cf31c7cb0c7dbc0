//! Chat models run in-process.
//!
//! - [`engine`]: running one: sampling, the generation loop, candle's quantized path for
//!   the architectures our own forward pass does not take.
//! - `llama`: our own forward pass for Q8_0 Llama models (the built-in one among them).
//! - [`gguf`]: a file's header read so that no number in it can abort the program.
//! - [`template`]: the chat template the GGUF carries, rendered with minijinja.
//! - [`tokenizer`]: the tokenizer rebuilt from the GGUF's vocabulary (at install time).

pub mod engine;
pub mod gguf;
mod llama;
pub mod template;
pub mod tokenizer;
