//! The HTTP+SSE transport of the 2024-11-05 protocol, which servers still speak and rmcp no
//! longer does as a client: a `GET` opens an event stream whose first `endpoint` event
//! names where to `POST` messages; answers come back on the stream as `message` events.
//! Built as the sink and stream pair rmcp takes for a transport.

use std::pin::Pin;

use futures_util::{Sink, Stream, StreamExt};
use reqwest::header::ACCEPT;
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use sse_stream::SseStream;

pub(crate) type MessageSink =
    Pin<Box<dyn Sink<TxJsonRpcMessage<RoleClient>, Error = PostError> + Send>>;
pub(crate) type MessageStream = Pin<Box<dyn Stream<Item = RxJsonRpcMessage<RoleClient>> + Send>>;

/// A message the server would not take.
#[derive(Debug, thiserror::Error)]
#[error("cannot send to the MCP server: {0}")]
pub(crate) struct PostError(String);

/// Opens the event stream at `url` and waits for the address to post to. `client` carries
/// the configured headers.
pub async fn connect(
    client: reqwest::Client,
    url: reqwest::Url,
) -> Result<(MessageSink, MessageStream), String> {
    let response = client
        .get(url.clone())
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|err| {
            format!(
                "cannot open the event stream: {}",
                crate::net::innermost_cause(&err)
            )
        })?;
    if !response.status().is_success() {
        return Err(format!("the event stream answered {}", response.status()));
    }
    let mut events = SseStream::from_bytes_stream(response.bytes_stream());
    let endpoint = loop {
        match events.next().await {
            Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                let data = event.data.unwrap_or_default();
                break url
                    .join(data.trim())
                    .map_err(|err| format!("the server named a bad address to post to: {err}"))?;
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(format!("the event stream broke: {err}")),
            None => return Err("the event stream ended before naming where to post".to_string()),
        }
    };
    // A server may only send its client's messages to itself.
    if endpoint.origin() != url.origin() {
        return Err(format!(
            "the server asked for messages to go to another origin ({})",
            endpoint.origin().ascii_serialization()
        ));
    }
    let stream = events.filter_map(|event| async move {
        let event = event.ok()?;
        if event.event.as_deref().is_some_and(|name| name != "message") {
            return None;
        }
        let data = event.data?;
        match serde_json::from_str(&data) {
            Ok(message) => Some(message),
            Err(err) => {
                tracing::warn!("an MCP server sent a message that is not JSON-RPC: {err}");
                None
            }
        }
    });
    let sink = futures_util::sink::unfold(
        (client, endpoint),
        |(client, endpoint), message: TxJsonRpcMessage<RoleClient>| async move {
            let response = client
                .post(endpoint.clone())
                .json(&message)
                .send()
                .await
                .map_err(|err| PostError(crate::net::innermost_cause(&err)))?;
            if !response.status().is_success() {
                return Err(PostError(format!("it answered {}", response.status())));
            }
            Ok((client, endpoint))
        },
    );
    Ok((Box::pin(sink), Box::pin(stream)))
}
