//! How much the model can take in: context windows of common models (overridable with
//! `[models."name"] context_window`), and token estimates for messages.
//!
//! Tokens are counted with OpenAI's own tokenizer (tiktoken) for OpenAI models, and
//! estimated at four characters a token otherwise; the provider's own count of the last
//! request, when it reported one, is better than either and is preferred (see `Agent`).
//! The tokenizer is loaded only when a conversation gets near its limit, so ordinary
//! turns never pay for it.

use crate::config::{Config, ProviderKind};
use crate::conversation::Message;

/// How a model's tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Four characters a token.
    Estimate,
    /// GPT-4o, GPT-4.1, GPT-5, o-series.
    O200k,
    /// GPT-4, GPT-3.5.
    Cl100k,
}

impl Counter {
    pub(crate) fn for_model(kind: ProviderKind, model_id: &str) -> Counter {
        if kind != ProviderKind::OpenAi {
            return Counter::Estimate;
        }
        const O200K: [&str; 7] = ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"];
        if O200K.iter().any(|prefix| model_id.starts_with(prefix)) {
            Counter::O200k
        } else if model_id.starts_with("gpt-4") || model_id.starts_with("gpt-3.5") {
            Counter::Cl100k
        } else {
            // An OpenAI-compatible server running some other model.
            Counter::Estimate
        }
    }

    pub fn count(self, text: &str) -> u64 {
        match self {
            Counter::Estimate => estimate_text(text),
            Counter::O200k => tiktoken_rs::o200k_base_singleton()
                .encode_ordinary(text)
                .len() as u64,
            Counter::Cl100k => tiktoken_rs::cl100k_base_singleton()
                .encode_ordinary(text)
                .len() as u64,
        }
    }

    pub(crate) fn count_messages(self, messages: &[Message]) -> u64 {
        if self == Counter::Estimate {
            return estimate_messages(messages);
        }
        messages
            .iter()
            .map(|message| {
                4 + match message {
                    Message::User { content, images } => {
                        self.count(content) + IMAGE_TOKENS * images.len() as u64
                    }
                    Message::Tool { content, .. } => self.count(content),
                    Message::Assistant {
                        content,
                        tool_calls,
                    } => {
                        self.count(content)
                            + tool_calls
                                .iter()
                                .map(|c| self.count(&c.name) + self.count(&c.arguments.to_string()))
                                .sum::<u64>()
                    }
                }
            })
            .sum()
    }
}

/// Context windows by model-name prefix; the longest matching prefix wins.
const WINDOWS: [(&str, u64); 17] = [
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-3.5", 16_385),
    ("chatgpt-", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude-", 200_000),
    ("llama3", 128_000),
    ("qwen", 32_768),
    ("mistral", 32_768),
    ("gemma", 8_192),
    ("deepseek", 64_000),
    // The built-in model: candle's rotary table ends at 4,096 (SmolLM2 itself takes 8,192).
    ("smollm2", 4_096),
];

/// What an image costs, roughly: OpenAI's count for one 512-pixel tile at high detail
/// plus its base (Anthropic's is of the same order).
const IMAGE_TOKENS: u64 = 765;

/// For models the table does not know.
const DEFAULT_WINDOW: u64 = 32_768;

/// The context window of `model` (as typed) whose provider calls it `model_id`.
pub fn context_window(config: &Config, model: &str, model_id: &str) -> u64 {
    if let Some(window) = [model, model_id]
        .iter()
        .find_map(|name| config.models.get(*name).and_then(|m| m.context_window))
    {
        return window;
    }
    WINDOWS
        .iter()
        .filter(|(prefix, _)| model_id.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(DEFAULT_WINDOW, |(_, window)| *window)
}

/// Tokens a text takes, estimated.
pub(crate) fn estimate_text(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Tokens a message takes, estimated (with the few each message costs in framing).
pub(crate) fn estimate_message(message: &Message) -> u64 {
    const FRAMING: u64 = 4;
    FRAMING
        + match message {
            Message::User { content, images } => {
                estimate_text(content) + IMAGE_TOKENS * images.len() as u64
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                estimate_text(content)
                    + tool_calls
                        .iter()
                        .map(|call| {
                            estimate_text(&call.name) + estimate_text(&call.arguments.to_string())
                        })
                        .sum::<u64>()
            }
            Message::Tool { content, .. } => estimate_text(content),
        }
}

pub(crate) fn estimate_messages(messages: &[Message]) -> u64 {
    messages.iter().map(estimate_message).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_come_from_config_then_the_table() {
        let mut config = Config::default();
        assert_eq!(
            context_window(&config, "gpt-4o-mini", "gpt-4o-mini"),
            128_000
        );
        assert_eq!(
            context_window(&config, "gpt-4.1-mini", "gpt-4.1-mini"),
            1_047_576
        );
        assert_eq!(context_window(&config, "gpt-4", "gpt-4"), 8_192);
        assert_eq!(
            context_window(&config, "claude-cli/opus", "opus"),
            DEFAULT_WINDOW
        );
        assert_eq!(
            context_window(&config, "claude-sonnet-4-5", "claude-sonnet-4-5"),
            200_000
        );
        config.models.insert(
            "llama3.2".into(),
            crate::config::schema::ModelConfig {
                context_window: Some(4096),
            },
        );
        assert_eq!(context_window(&config, "llama3.2", "llama3.2"), 4096);
    }

    #[test]
    fn openai_models_are_counted_with_their_tokenizer() {
        assert_eq!(
            Counter::for_model(ProviderKind::OpenAi, "gpt-4o-mini"),
            Counter::O200k
        );
        assert_eq!(
            Counter::for_model(ProviderKind::OpenAi, "gpt-4"),
            Counter::Cl100k
        );
        assert_eq!(
            Counter::for_model(ProviderKind::OpenAi, "meta/llama-3"),
            Counter::Estimate
        );
        assert_eq!(
            Counter::for_model(ProviderKind::Anthropic, "claude-x"),
            Counter::Estimate
        );
        assert_eq!(Counter::O200k.count("hello world"), 2);
        assert_eq!(Counter::Cl100k.count("hello world"), 2);
    }

    #[test]
    fn estimates_grow_with_text() {
        assert_eq!(estimate_text("abcd"), 1);
        assert_eq!(estimate_text("ééééé"), 2);
        let message = Message::user("x".repeat(400));
        assert_eq!(estimate_message(&message), 104);
    }
}
