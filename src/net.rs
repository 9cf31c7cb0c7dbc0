//! The one way LocalGPT speaks HTTP: one client setup (rustls, timeouts, its name), one
//! retry policy, one client for the web requests made for the model and scripts.
//! Providers, model downloads, remote embeddings, MCP over HTTP and the web tools all
//! start here, so none of them needs another's module for it.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Network settings every HTTP provider shares.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// The longest silence allowed while a stream is open.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl HttpSettings {
    /// The network settings of `[agent]`: timeouts and retries for every request to a
    /// provider (chat and embeddings alike).
    pub(crate) fn from_config(config: &crate::config::Config) -> HttpSettings {
        HttpSettings {
            connect_timeout: Duration::from_secs(config.agent.connect_timeout_secs),
            idle_timeout: Duration::from_secs(config.agent.idle_timeout_secs),
            retry: RetryPolicy {
                max_retries: config.agent.max_retries,
                ..RetryPolicy::default()
            },
        }
    }
}

/// How every HTTP client starts: rustls (no OpenSSL), the timeouts, LocalGPT's name.
pub(crate) fn client_builder(settings: &HttpSettings) -> reqwest::ClientBuilder {
    // reqwest is built without a default crypto provider so that only `ring` is linked;
    // installing it twice is harmless, so the error is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.idle_timeout)
        .user_agent(concat!("localgpt/", env!("CARGO_PKG_VERSION")))
}

/// The HTTP client every provider shares.
pub(crate) fn http_client(settings: &HttpSettings) -> Result<reqwest::Client, NetError> {
    client_builder(settings)
        .build()
        .map_err(|err| NetError::Client(err.to_string()))
}

/// The client for web requests made for the model and scripts, in `cell`, built there on
/// first use (loading the system's root certificates costs milliseconds that work
/// without HTTP should not pay): public addresses only unless `allow_local` (see
/// [`crate::policy::network`]).
pub(crate) fn lazy_web_client<'a>(
    cell: &'a std::sync::OnceLock<reqwest::Client>,
    settings: &HttpSettings,
    allow_local: bool,
) -> Result<&'a reqwest::Client, NetError> {
    if let Some(client) = cell.get() {
        return Ok(client);
    }
    let client = crate::policy::network::web_client(client_builder(settings), allow_local)
        .map_err(|err| NetError::Client(err.to_string()))?;
    Ok(cell.get_or_init(|| client))
}

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

/// The most specific cause ("Connection refused"), not reqwest's outer wrapper text.
pub(crate) fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
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
}
