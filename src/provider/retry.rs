//! Sending a provider request with retries: exponential backoff with jitter on 429, 5xx
//! and connection failures, waiting as long as `Retry-After` asks (within a cap). Only the
//! request is retried, never a stream that has started: text already shown to a person
//! cannot be taken back.

use reqwest::{Response, StatusCode};

use super::ProviderError;
use crate::net::{RetryPolicy, innermost_cause};

/// Where a request goes and how to describe failures to reach it.
pub(crate) struct Target<'a> {
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

pub(crate) fn transport_error(target: &Target<'_>, err: &reqwest::Error) -> ProviderError {
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
