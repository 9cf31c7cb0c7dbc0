//! Chat models run in-process.
//!
//! - [`engine`]: running one: sampling, the generation loop, candle's quantized path for
//!   the architectures our own forward pass does not take.
//! - [`bench`]: how fast a GGUF model runs here, as llama-bench measures it.
//! - `llama`: our own forward pass for Llama models in Q8_0 (the built-in one) and the
//!   block formats people download (Q4_K_M, Q5_K_M, Q4_0).
//! - [`gguf`]: a file's header read so that no number in it can abort the program.
//! - [`grammar`], [`guide`]: tool calls held to the tools' JSON schemas while decoding.
//! - [`template`]: the chat template the GGUF carries, rendered with minijinja.
//! - [`tokenizer`]: the tokenizer rebuilt from the GGUF's vocabulary (at install time).
//! - `weights`: a model's weights by architecture, and what its file's header says.

pub mod bench;
pub mod engine;
pub mod gguf;
pub mod grammar;
pub mod guide;
mod llama;
pub mod template;
pub mod tokenizer;
mod weights;
