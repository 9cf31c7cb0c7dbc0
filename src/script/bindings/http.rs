//! HTTP: `http_get`, `http_post` → `#{ status, headers, body }`, `web_fetch` → readable
//! text, `json_get` → a value. Addresses on this machine and private networks are refused
//! unless `tools.web_allow_local` is set, as for the model's `web_fetch`.

use std::time::Duration;

use rhai::{Dynamic, Map, NativeCallContext};

use crate::agent::tools::{fetch_text, request_error, web_url};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, RunContext, from_dynamic, run_context, to_dynamic};

/// Bodies larger than this are cut (scripts handle text, not downloads).
const MAX_BODY: usize = 16 * 1024 * 1024;

async fn send(
    run: &RunContext,
    request: reqwest::RequestBuilder,
    url: &reqwest::Url,
) -> Result<Map, String> {
    let timeout = Duration::from_secs(run.config.tools.web_timeout_secs);
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|err| request_error(url, &err))?;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        headers.insert(
            name.as_str().into(),
            value.to_str().unwrap_or_default().to_string().into(),
        );
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|err| format!("the download from {url} failed: {err}"))?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned();
    let mut map = Map::new();
    map.insert("status".into(), i64::from(status).into());
    map.insert("headers".into(), headers.into());
    map.insert("body".into(), body.into());
    Ok(map)
}

fn parse_url(run: &RunContext, raw: &str) -> RhaiResult<reqwest::Url> {
    web_url(raw, &run.config.tools).map_err(Into::into)
}

fn post(call: &NativeCallContext, url: &str, body: Dynamic, headers: Map) -> RhaiResult<Map> {
    let run = run_context(call)?;
    let url = parse_url(&run, url)?;
    let mut request = run.http()?.post(url.clone());
    request = if body.is_string() {
        request.body(body.into_string().unwrap_or_default())
    } else {
        request.json(&from_dynamic(&body)?)
    };
    for (name, value) in headers {
        request = request.header(name.as_str(), value.to_string());
    }
    run.block_on(send(&run, request, &url))?.map_err(Into::into)
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "http_get",
        "http_get(url: String) -> #{ status, headers, body }",
        "A GET request; any status comes back, only failures to connect throw.",
        |call: NativeCallContext, url: &str| -> RhaiResult<Map> {
            let run = run_context(&call)?;
            let url = parse_url(&run, url)?;
            let request = run.http()?.get(url.clone());
            run.block_on(send(&run, request, &url))?.map_err(Into::into)
        },
    );
    b.func(
        "http_post",
        "http_post(url: String, body: String or Map) -> #{ status, headers, body }",
        "A POST request; a map body is sent as JSON.",
        |call: NativeCallContext, url: &str, body: Dynamic| -> RhaiResult<Map> {
            post(&call, url, body, Map::new())
        },
    );
    b.func(
        "http_post",
        "http_post(url: String, body: String or Map, headers: Map) -> #{ status, headers, body }",
        "A POST request with extra headers.",
        |call: NativeCallContext, url: &str, body: Dynamic, headers: Map| -> RhaiResult<Map> {
            post(&call, url, body, headers)
        },
    );
    b.func(
        "web_fetch",
        "web_fetch(url: String) -> String",
        "A web page as readable text (HTML converted), as the model's web_fetch tool sees it.",
        |call: NativeCallContext, url: &str| -> RhaiResult<String> {
            let run = run_context(&call)?;
            run.block_on(fetch_text(run.http()?, &run.config.tools, url))?
                .map_err(Into::into)
        },
    );
    b.func(
        "json_get",
        "json_get(url: String) -> Dynamic",
        "GETs a URL and parses its JSON body; throws on an error status.",
        |call: NativeCallContext, url: &str| -> RhaiResult<Dynamic> {
            let run = run_context(&call)?;
            let parsed = parse_url(&run, url)?;
            let request = run
                .http()?
                .get(parsed.clone())
                .header("accept", "application/json");
            let response = run.block_on(send(&run, request, &parsed))??;
            let status = response
                .get("status")
                .and_then(|s| s.as_int().ok())
                .unwrap_or(0);
            let body = response
                .get("body")
                .map(|b| b.to_string())
                .unwrap_or_default();
            if !(200..300).contains(&status) {
                return Err(format!(
                    "{url} answered {status}: {}",
                    crate::truncate::ellipsize(&body, 300)
                )
                .into());
            }
            let json: serde_json::Value = serde_json::from_str(&body)
                .map_err(|err| format!("{url} did not return JSON: {err}"))?;
            to_dynamic(&json)
        },
    );
}
