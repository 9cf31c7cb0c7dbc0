//! Provider errors, each saying what happened and what to do about it.

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "{var} is not set; the model `{model}` needs an API key for {provider}. Set it with \
         `export {var}=…` or `localgpt config set providers.{config_name}.api_key …`, or choose \
         another model with --model"
    )]
    MissingKey {
        provider: &'static str,
        config_name: String,
        var: String,
        model: String,
    },
    #[error("cannot reach {provider} at {url}: {detail}. {hint}")]
    Unreachable {
        provider: String,
        url: String,
        detail: String,
        hint: String,
        /// False for a refused connection on this machine: a server that is not running
        /// will not start in the seconds a retry waits, so say so at once.
        retryable: bool,
    },
    #[error("{provider} answered {status}: {message}")]
    Http {
        provider: String,
        status: u16,
        message: String,
        /// Seconds the server asked us to wait, from `Retry-After`.
        retry_after: Option<u64>,
    },
    #[error("{provider} sent nothing for {seconds} s; gave up waiting")]
    Timeout { provider: String, seconds: u64 },
    #[error("the answer from {provider} was cut off mid-stream ({detail})")]
    StreamCut {
        provider: String,
        detail: String,
        /// The text received before the cut, kept so nothing already shown is lost.
        partial: String,
    },
    #[error("{provider} sent something LocalGPT cannot read: {detail}")]
    Protocol { provider: String, detail: String },
    #[error("{0}")]
    Setup(String),
    #[error("the `{command}` command {detail}")]
    Command { command: String, detail: String },
    #[error("cancelled")]
    Cancelled,
}

impl ProviderError {
    /// Whether trying again may help: rate limits, server errors, connection failures.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Unreachable { retryable, .. } => *retryable,
            ProviderError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The text that had arrived before a failure, if any.
    pub(crate) fn partial_text(&self) -> Option<&str> {
        match self {
            ProviderError::StreamCut { partial, .. } if !partial.is_empty() => Some(partial),
            _ => None,
        }
    }
}

impl From<crate::net::NetError> for ProviderError {
    fn from(err: crate::net::NetError) -> ProviderError {
        ProviderError::Setup(err.to_string())
    }
}
