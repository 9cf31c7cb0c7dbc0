//! Sending a provider request with retries: exponential backoff with jitter on 429, 5xx
//! and connection failures, waiting as long as `Retry-After` asks (within a cap). Only the
//! request is retried, never a stream that has started: text already shown to a person
//! cannot be taken back.

use std::time::Duration;

use reqwest::{Response, StatusCode};

use super::ProviderError;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    /// No wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        if let Some(seconds) = retry_after {
            return Duration::from_secs(seconds).min(self.max_delay);
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        // Half fixed, half random, so many clients do not retry in lockstep.
        let half = exponential / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) that differs from call to call; good enough to spread retries.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Where a request goes and how to describe failures to reach it.
pub struct Target<'a> {
    pub provider: &'a str,
    pub url: &'a str,
    /// What to do when the server cannot be reached ("Start it with `ollama serve`").
    pub unreachable_hint: &'a str,
}

/// Sends the request `build` makes (once per attempt) and returns the response once its
/// status is a success.
pub async fn send(
    policy: &RetryPolicy,
    target: &Target<'_>,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Response, ProviderError> {
    let mut attempt = 0;
    loop {
        let err = match build().send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => status_error(target, response).await,
            Err(err) => transport_error(target, &err),
        };
        if !err.is_retryable() || attempt >= policy.max_retries {
            return Err(err);
        }
        let retry_after = match &err {
            ProviderError::Http { retry_after, .. } => *retry_after,
            _ => None,
        };
        let wait = policy.delay(attempt, retry_after);
        tracing::info!(
            provider = target.provider,
            attempt = attempt + 1,
            ?wait,
            "retrying: {err}"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

pub fn transport_error(target: &Target<'_>, err: &reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        return ProviderError::Unreachable {
            provider: target.provider.to_string(),
            url: crate::config::without_password(target.url),
            detail: "the connection timed out".to_string(),
            hint: target.unreachable_hint.to_string(),
            retryable: true,
        };
    }
    let detail = innermost_cause(err);
    let refused_here = err.is_connect() && is_loopback(target.url) && detail.contains("refused");
    ProviderError::Unreachable {
        provider: target.provider.to_string(),
        url: crate::config::without_password(target.url),
        detail,
        hint: target.unreachable_hint.to_string(),
        retryable: !refused_here,
    }
}

/// Whether a URL points at this machine.
fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The most specific cause ("Connection refused"), not reqwest's outer wrapper text.
pub(crate) fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

async fn status_error(target: &Target<'_>, response: Response) -> ProviderError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let body = response.text().await.unwrap_or_default();
    ProviderError::Http {
        provider: target.provider.to_string(),
        status: status.as_u16(),
        message: describe_status(status, &body),
        retry_after,
    }
}

/// The provider's own explanation when it gives one (`{"error": {"message": …}}`), else
/// the status text, cut to a readable length.
fn describe_status(status: StatusCode, body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            let error = json.get("error").unwrap_or(&json);
            error
                .get("message")
                .and_then(|m| m.as_str())
                .or_else(|| error.as_str())
                .map(String::from)
        });
    let reason = status.canonical_reason().unwrap_or("error");
    match from_json {
        Some(message) => format!("{reason}: {message}"),
        None if body.trim().is_empty() => reason.to_string(),
        None => format!("{reason}: {}", crate::truncate::ellipsize(body.trim(), 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_respect_retry_after_and_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 0..3 {
            let delay = policy.delay(attempt, None);
            let full = Duration::from_millis(500) * 2u32.pow(attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
        assert_eq!(policy.delay(0, Some(7)), Duration::from_secs(7));
        assert_eq!(policy.delay(0, Some(3600)), Duration::from_secs(30));
        assert!(policy.delay(30, None) <= Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_refused_connection_on_this_machine_is_not_retried() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Bind then drop a listener: its port is free, so connecting is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/api/chat");
        let err = reqwest::Client::new().post(&url).send().await.unwrap_err();
        let target = Target {
            provider: "Ollama",
            url: &url,
            unreachable_hint: "",
        };
        assert!(!transport_error(&target, &err).is_retryable());
        let elsewhere = Target {
            provider: "X",
            url: "http://10.9.9.9:1",
            unreachable_hint: "",
        };
        assert!(transport_error(&elsewhere, &err).is_retryable());
    }

    #[test]
    fn loopback_addresses_are_recognised() {
        assert!(is_loopback("http://localhost:11434"));
        assert!(is_loopback("http://127.0.0.1:9/api/chat"));
        assert!(is_loopback("http://[::1]:11434"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(!is_loopback("http://10.0.0.5:11434"));
    }

    #[test]
    fn status_messages_prefer_the_providers_explanation() {
        let body =
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#;
        assert_eq!(
            describe_status(StatusCode::UNAUTHORIZED, body),
            "Unauthorized: Incorrect API key provided"
        );
        assert_eq!(describe_status(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
        let long = "é".repeat(1000);
        assert!(
            describe_status(StatusCode::INTERNAL_SERVER_ERROR, &long)
                .chars()
                .count()
                < 330
        );
    }
}
