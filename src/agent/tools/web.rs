//! `web_fetch {url}`: an HTTP GET whose HTML comes back as readable text, with size and
//! time limits. Addresses on this machine and private networks are refused — at every
//! redirect, at the address actually connected to — unless `tools.web_allow_local` is
//! set, so a page cannot steer the model into the user's router, another local service
//! or LocalGPT's own API (see [`crate::policy::network`]).

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{Tool, ToolContext, limit_output, str_arg};
use crate::config::ToolsConfig;

/// Bytes read from the server at most; the rest is left unread.
const MAX_DOWNLOAD: usize = 2 * 1024 * 1024;
/// Columns for the text rendering of HTML.
const TEXT_WIDTH: usize = 100;

pub(crate) struct WebFetch;

#[async_trait]
impl Tool for WebFetch {
    fn name(&self) -> &str {
        "web_fetch"
    }

    fn description(&self) -> &str {
        "Fetch a web page (http or https) and return its text; HTML is converted to \
         readable text with links."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        fetch_text(ctx.http()?, &ctx.config.tools, str_arg(args, "url")).await
    }
}

/// Fetches `raw` and returns its readable text, under the tools' limits and the
/// local-address rule. An error status is an `Err` carrying the page's text.
pub(crate) async fn fetch_text(
    http: &reqwest::Client,
    tools: &ToolsConfig,
    raw: &str,
) -> Result<String, String> {
    let url = web_url(raw, tools)?;
    let timeout = Duration::from_secs(tools.web_timeout_secs);
    let response = http
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(|err| request_error(&url, &err))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut body = Vec::new();
    let mut truncated = false;
    let mut stream = response.bytes_stream();
    let read = tokio::time::timeout(timeout, async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let room = MAX_DOWNLOAD.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        Ok::<(), reqwest::Error>(())
    })
    .await;
    match read {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(format!("the download from {url} failed: {err}")),
        Err(_) => truncated = true,
    }
    let is_html =
        content_type.contains("html") || (content_type.is_empty() && looks_like_html(&body));
    let is_text = content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml")
        || content_type.is_empty();
    let text = if is_html {
        html2text::from_read(body.as_slice(), TEXT_WIDTH)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned())
    } else if is_text {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        return Err(format!(
            "{url} is {content_type} ({} bytes), not text",
            body.len()
        ));
    };
    let max_bytes = usize::try_from(tools.output_limit_kb * 1024).unwrap_or(usize::MAX);
    let mut text = limit_output(text.trim(), max_bytes);
    if truncated {
        text.push_str("\n[the page was longer; only its beginning was read]");
    }
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("{url} answered {status}\n{text}"))
    }
}

/// `raw` parsed, if it is a URL web requests may go to (http or https; not a local
/// address written out, unless local addresses are allowed).
pub(crate) fn web_url(raw: &str, tools: &ToolsConfig) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|err| format!("{raw} is not a URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be fetched, not {}",
            url.scheme()
        ));
    }
    if !tools.web_allow_local
        && let Some(refusal) = crate::policy::network::refuse_url(&url)
    {
        return Err(refusal);
    }
    Ok(url)
}

/// What went wrong with a request, down to its cause: a refused redirect or address says
/// why, not only "error sending request".
pub(crate) fn request_error(url: &reqwest::Url, err: &reqwest::Error) -> String {
    format!("cannot fetch {url}: {}", crate::net::innermost_cause(err))
}

fn looks_like_html(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    start.contains("<html") || start.contains("<!doctype html")
}
