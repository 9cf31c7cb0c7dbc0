//! Messages sent to a chat: the answer of a channel's turn, a heartbeat's message, a
//! script's `send()`. A target is `SERVICE:CHAT` (`telegram:123456789`); the service's
//! settings (its token, its address) come from `[channels.*]`.
//!
//! - [`telegram`]: the Telegram Bot API's calls.
//! - [`split`]: an answer cut into messages the service takes.
//! - [`html`]: an answer's Markdown as the HTML Telegram renders.

pub mod html;
pub mod split;
pub mod telegram;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("`{0}` is not a chat to send to: write SERVICE:CHAT, e.g. telegram:123456789")]
    BadTarget(String),
    #[error("there is no channel `{0}`; LocalGPT speaks telegram")]
    UnknownService(String),
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Telegram(#[from] telegram::BotError),
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Telegram(i64),
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, DeliveryError> {
        let (service, chat) = text
            .split_once(':')
            .ok_or_else(|| DeliveryError::BadTarget(text.to_string()))?;
        match service {
            "telegram" => chat
                .trim()
                .parse()
                .map(Target::Telegram)
                .map_err(|_| DeliveryError::BadTarget(text.to_string())),
            other => Err(DeliveryError::UnknownService(other.to_string())),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Telegram(chat) => write!(f, "telegram:{chat}"),
        }
    }
}

/// The configured Telegram bot, its token looked up (a `secret:NAME` in the store).
pub fn telegram_bot(config: &Config) -> Result<telegram::Bot, DeliveryError> {
    let settings = config.channels.telegram.as_ref().ok_or_else(|| {
        DeliveryError::Setup(
            "no Telegram bot is configured: add [channels.telegram] with its token and allow \
             list (docs/channels.md)"
                .into(),
        )
    })?;
    let token = settings
        .token
        .as_ref()
        .ok_or_else(|| {
            DeliveryError::Setup(
                "channels.telegram.token is not set (`localgpt secrets set telegram`, then \
                 token = \"secret:telegram\")"
                    .into(),
            )
        })?
        .reveal()
        .map_err(|err| DeliveryError::Setup(format!("channels.telegram.token: {err}")))?;
    Ok(telegram::Bot::new(settings.api_url.expose(), &token)?)
}

/// Sends `text` to `target`, split into as many messages as the service needs.
pub async fn send(config: &Config, target: Target, text: &str) -> Result<(), DeliveryError> {
    match target {
        Target::Telegram(chat) => {
            let bot = telegram_bot(config)?;
            bot.send_text(chat, text).await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_and_bad_ones_named() {
        assert_eq!(
            Target::parse("telegram:123").unwrap(),
            Target::Telegram(123)
        );
        assert_eq!(
            Target::parse("telegram:-100200").unwrap(),
            Target::Telegram(-100200)
        );
        assert_eq!(Target::Telegram(5).to_string(), "telegram:5");
        for bad in ["telegram", "telegram:abc", ":1"] {
            assert!(
                matches!(
                    Target::parse(bad),
                    Err(DeliveryError::BadTarget(_)) | Err(DeliveryError::UnknownService(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Target::parse("matrix:1"),
            Err(DeliveryError::UnknownService(_))
        ));
    }
}
