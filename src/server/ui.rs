//! The web page: its files, embedded in the binary (`src/server/page/`, the libraries it
//! uses vendored under `vendor/` with their versions noted), served at `/` and `/ui/…`
//! with a strict Content-Security-Policy (scripts and styles from this server only, no
//! inline script, no `eval`, no framing) and gzip when the browser takes it; and the
//! login: `POST /api/ui/code` (with the token) gives a one-time code, `GET /login?code=`
//! trades it for the session cookie (see [`super::login`]).

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use hyper::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    HeaderMap, HeaderValue, LOCATION, SET_COOKIE, VARY,
};
use hyper::{Response, StatusCode};
use serde_json::json;

use super::State;
use super::http::{ApiError, ApiResponse, full, ok_json, query_pairs};
use super::login::Logins;

/// What the page may load and do: everything from this server, nothing from elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                      manifest-src 'self'; base-uri 'none'; form-action 'self'; \
                      frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("page/", $name)),
        }
    };
}

static ASSETS: [Asset; 11] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("chat.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("markdown.js", "text/javascript; charset=utf-8"),
    asset!("vendor/marked.js", "text/javascript; charset=utf-8"),
    asset!("vendor/purify.js", "text/javascript; charset=utf-8"),
    asset!("vendor/highlight.js", "text/javascript; charset=utf-8"),
    asset!("vendor/highlight-light.css", "text/css; charset=utf-8"),
    asset!("vendor/highlight-dark.css", "text/css; charset=utf-8"),
];

/// Each asset gzipped, made the first time it is asked for.
static GZIPPED: [OnceLock<Vec<u8>>; 11] = [const { OnceLock::new() }; 11];

fn gzipped(index: usize) -> &'static [u8] {
    GZIPPED[index].get_or_init(|| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to memory cannot fail.
        let _ = encoder.write_all(ASSETS[index].bytes);
        encoder.finish().unwrap_or_default()
    })
}

fn serve(index: usize, request: &HeaderMap) -> ApiResponse {
    let asset = &ASSETS[index];
    let wants_gzip = request
        .get(ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|part| part.trim().starts_with("gzip")));
    let body = if wants_gzip {
        gzipped(index)
    } else {
        asset.bytes
    };
    let mut response = Response::new(full(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if wants_gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `GET /`: the page (it asks to log in when there is no session).
pub fn page(request: &HeaderMap) -> ApiResponse {
    serve(0, request)
}

/// `GET /ui/{file}`.
pub(crate) fn asset(name: &str, request: &HeaderMap) -> Result<ApiResponse, ApiError> {
    ASSETS
        .iter()
        .position(|asset| asset.name == name && name != "index.html")
        .map(|index| serve(index, request))
        .ok_or_else(|| ApiError::not_found(format!("the page has no file {name}")))
}

/// `POST /api/ui/code`: a one-time login code, and the address that uses it.
pub(crate) fn mint(state: &Arc<State>) -> Result<ApiResponse, ApiError> {
    let code = state.guard.logins.mint_code().map_err(ApiError::internal)?;
    ok_json(&json!({"code": code, "path": format!("/login?code={code}")}))
}

/// `GET /login?code=`: the session cookie for a good code, and on to the page.
pub fn login(state: &Arc<State>, query: Option<&str>) -> ApiResponse {
    let code = query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "code")
        .map(|(_, value)| value)
        .unwrap_or_default();
    let mut response = Response::new(full(Vec::new()));
    match state.guard.logins.redeem(&code) {
        Some(session) => {
            *response.status_mut() = StatusCode::SEE_OTHER;
            let headers = response.headers_mut();
            headers.insert(LOCATION, HeaderValue::from_static("/"));
            if let Ok(cookie) = HeaderValue::from_str(&Logins::cookie(&session)) {
                headers.insert(SET_COOKIE, cookie);
            }
        }
        None => {
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            *response.body_mut() = full(
                "This login link was used already or has expired. Run `localgpt ui` for a new one.\n",
            );
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_and_the_page_loads_nothing_from_elsewhere() {
        let html = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        for asset in ASSETS.iter().skip(1) {
            assert!(!asset.bytes.is_empty(), "{}", asset.name);
        }
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains(" style="), "inline style");
        let gzip = gzipped(8);
        assert!(gzip.len() < ASSETS[8].bytes.len() / 2);
    }
}
