//! Requests and responses: JSON errors `{ "error": { "code", "message" } }` with the right
//! status, bodies read under a size cap and a deadline, JSON in (naming the field that is
//! wrong) and out, and a streaming body fed from a channel (Server-Sent Events).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

pub(crate) type ApiBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;
pub(crate) type ApiResponse = Response<ApiBody>;

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, when one is (OpenAI's `param`).
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    pub(crate) fn with_param(mut self, param: &str) -> ApiError {
        self.param = Some(param.to_string());
        self
    }

    /// The error in OpenAI's shape (`/v1/…`): `message`, `type`, `param`, `code`; a
    /// request OpenAI's API would call invalid is its 400.
    pub(crate) fn into_openai_response(mut self) -> ApiResponse {
        if self.status == StatusCode::UNPROCESSABLE_ENTITY {
            self.status = StatusCode::BAD_REQUEST;
        }
        let kind = match self.status.as_u16() {
            401 => "authentication_error",
            404 | 400 | 409 | 413 | 422 => "invalid_request_error",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let body = serde_json::json!({"error": {"message": self.message, "type": kind,
            "param": self.param, "code": self.code}});
        json_response(self.status, &body)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub(crate) fn into_response(self) -> ApiResponse {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        json_response(self.status, &body)
    }
}

pub fn full(bytes: impl Into<Bytes>) -> ApiBody {
    Full::new(bytes.into()).boxed()
}

pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> ApiResponse {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(crate) fn ok_json(value: &impl Serialize) -> Result<ApiResponse, ApiError> {
    Ok(json_response(StatusCode::OK, value))
}

/// Reads the whole body, refusing more than `max_bytes` (413) or a client slower than
/// `timeout` (408).
pub(crate) async fn read_body(
    body: Incoming,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let limited = Limited::new(body, max_bytes);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
        )),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(too_large(max_bytes)),
        Ok(Err(err)) => Err(ApiError::bad_request(format!(
            "cannot read the body: {err}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

pub(crate) fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the request body is larger than {} KB (server.max_body_kb)",
            max_bytes / 1024
        ),
    )
}

/// Parses a JSON body: malformed JSON is 400, the wrong shape (a missing, unknown or
/// mistyped field, named) is 422.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request needs a JSON body".to_string(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        use serde_json::error::Category;
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("malformed JSON: {inner}"))
            }
            Category::Data if path == "." || path.is_empty() => {
                ApiError::invalid(inner.to_string())
            }
            Category::Data => ApiError::invalid(format!("`{path}`: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::bad_request(format!("malformed JSON: {err}")))?;
    Ok(value)
}

/// `?q=x&limit=5` into decoded pairs.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A body whose frames come from a channel: the sender writes SSE events as they happen.
pub(crate) struct ChannelBody {
    receiver: mpsc::UnboundedReceiver<Bytes>,
}

impl ChannelBody {
    pub fn new(receiver: mpsc::UnboundedReceiver<Bytes>) -> ChannelBody {
        ChannelBody { receiver }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// A `text/event-stream` response whose events come from `receiver`.
pub(crate) fn sse_response(receiver: mpsc::UnboundedReceiver<Bytes>) -> ApiResponse {
    let mut response = Response::new(ChannelBody::new(receiver).boxed());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    response
}

/// The `error` event a stream ends with when it fails.
pub(crate) fn sse_error(error: &ApiError) -> Bytes {
    sse(
        Some("error"),
        &serde_json::json!({"code": error.code, "message": error.message}),
    )
}

/// Cancels `cancel` when the client reading `sender`'s stream goes away; abort the handle
/// once the work is done.
pub(crate) fn cancel_when_closed(
    sender: &mpsc::UnboundedSender<Bytes>,
    cancel: &crate::cancel::Cancel,
) -> tokio::task::JoinHandle<()> {
    let (sender, cancel) = (sender.clone(), cancel.clone());
    tokio::spawn(async move {
        sender.closed().await;
        cancel.cancel();
    })
}

/// One SSE event: `event: NAME` (when named) and a JSON `data:` line.
pub fn sse(event: Option<&str>, data: &serde_json::Value) -> Bytes {
    let mut text = String::new();
    if let Some(event) = event {
        text.push_str("event: ");
        text.push_str(event);
        text.push('\n');
    }
    text.push_str("data: ");
    text.push_str(&data.to_string());
    text.push_str("\n\n");
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Chat {
        message: String,
        limit: Option<u32>,
    }

    #[test]
    fn json_errors_say_what_and_pick_the_status() {
        let syntax = parse_json::<Chat>(b"{\"message\": ").unwrap_err();
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
        let unknown = parse_json::<Chat>(b"{\"message\": \"hi\", \"mesage\": 1}").unwrap_err();
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            unknown.message.contains("unknown field `mesage`"),
            "{}",
            unknown.message
        );
        let wrong = parse_json::<Chat>(b"{\"message\": 5}").unwrap_err();
        assert!(
            wrong.message.starts_with("`message`: invalid type"),
            "{}",
            wrong.message
        );
        let missing = parse_json::<Chat>(b"{}").unwrap_err();
        assert!(missing.message.contains("missing field `message`"));
        assert_eq!(
            parse_json::<Chat>(b"  ").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn sse_events_are_framed() {
        let event = sse(Some("delta"), &serde_json::json!({"text": "hi"}));
        assert_eq!(&event[..], b"event: delta\ndata: {\"text\":\"hi\"}\n\n");
    }
}
