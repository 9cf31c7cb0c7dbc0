//! `web_fetch {url}`: an HTTP GET whose HTML comes back as readable text, with size and
//! time limits. Addresses on this machine and private networks are refused unless
//! `tools.web_allow_local` is set, so a page cannot steer the model into the user's
//! router, another local service or LocalGPT's own API.

use std::net::IpAddr;
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

pub struct WebFetch;

#[async_trait]
impl Tool for WebFetch {
    fn name(&self) -> &'static str {
        "web_fetch"
    }

    fn description(&self) -> &'static str {
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
pub async fn fetch_text(
    http: &reqwest::Client,
    tools: &ToolsConfig,
    raw: &str,
) -> Result<String, String> {
    let url = match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        Ok(url) => {
            return Err(format!(
                "only http and https URLs can be fetched, not {}",
                url.scheme()
            ));
        }
        Err(err) => return Err(format!("{raw} is not a URL: {err}")),
    };
    if !tools.web_allow_local {
        check_public(&url).await?;
    }
    let timeout = Duration::from_secs(tools.web_timeout_secs);
    let response = http
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(|err| format!("cannot fetch {url}: {err}"))?;
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

fn looks_like_html(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    start.contains("<html") || start.contains("<!doctype html")
}

/// Refuses URLs whose host resolves to loopback, private, link-local or unspecified
/// addresses.
pub async fn check_public(url: &reqwest::Url) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let addresses = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|err| format!("cannot resolve {host}: {err}"))?;
    for address in addresses {
        if is_local(address.ip()) {
            return Err(format!(
                "{url} points at this machine or a private network ({}); set \
                 tools.web_allow_local = true to allow that",
                address.ip()
            ));
        }
    }
    Ok(())
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_local(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_local(ip.parse().unwrap()), "{ip}");
        }
    }
}
