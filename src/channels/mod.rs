//! Channels: chat services the assistant answers on, front doors like the prompt and the
//! API. A chat is a session of its own (resumable, compacted, recalled from, as the
//! prompt's are); a message from someone allowed runs the one turn, with an observer that
//! sends the answer back and asks approvals with the service's buttons; anyone else gets
//! one short refusal and never the model. What a channel does is logged at `info` with
//! ids only, never a message's text.
//!
//! - [`telegram`]: a Telegram bot, by long polling (its calls: [`crate::delivery`]).

pub mod telegram;
