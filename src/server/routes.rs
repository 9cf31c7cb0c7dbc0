//! The route table — the one list of what the server answers. Dispatch, the 404 and 405
//! answers (with `Allow`) and the OpenAPI test all read it.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{ALLOW, HeaderValue};
use hyper::{Method, Request, StatusCode};

use super::http::{ApiError, ApiResponse, json_response};
use super::{
    State, api, chat, embeddings, notes, openai, proposal, responses, settings, skills, tasks, ui,
};

pub struct Route {
    pub method: Method,
    /// `{name}` segments match one path segment.
    pub path: &'static str,
    /// Needs no token.
    pub public: bool,
}

const fn route(method: Method, path: &'static str) -> Route {
    Route {
        method,
        path,
        public: false,
    }
}

pub static ROUTES: [Route; 42] = [
    Route {
        method: Method::GET,
        path: "/health",
        public: true,
    },
    route(Method::GET, "/api/status"),
    route(Method::POST, "/api/chat"),
    route(Method::POST, "/api/chat/stream"),
    route(Method::GET, "/api/sessions"),
    route(Method::GET, "/api/sessions/{id}"),
    route(Method::DELETE, "/api/sessions/{id}"),
    route(Method::GET, "/api/memory/search"),
    route(Method::GET, "/api/memory/stats"),
    route(Method::POST, "/api/memory/reindex"),
    route(Method::POST, "/api/memory"),
    route(Method::GET, "/api/skills"),
    route(Method::POST, "/api/skills/{name}/run"),
    route(Method::POST, "/api/scripts/run"),
    route(Method::GET, "/api/heartbeat"),
    route(Method::POST, "/api/heartbeat/{task}/run"),
    route(Method::POST, "/v1/chat/completions"),
    route(Method::GET, "/v1/models"),
    route(Method::GET, "/v1/models/{id}"),
    route(Method::POST, "/v1/embeddings"),
    route(Method::POST, "/v1/responses"),
    route(Method::GET, "/api/openapi.json"),
    route(Method::POST, "/mcp"),
    route(Method::GET, "/mcp"),
    route(Method::DELETE, "/mcp"),
    // The web page and what it uses beyond the rest of the API.
    public(Method::GET, "/"),
    public(Method::GET, "/ui/{file}"),
    public(Method::GET, "/ui/vendor/{file}"),
    public(Method::GET, "/login"),
    route(Method::POST, "/api/ui/code"),
    route(Method::POST, "/api/chat/approvals/{id}"),
    route(Method::PATCH, "/api/sessions/{id}"),
    route(Method::GET, "/api/memory/file"),
    route(Method::PUT, "/api/memory/file"),
    route(Method::GET, "/api/memory/proposal"),
    route(Method::POST, "/api/memory/proposal"),
    route(Method::POST, "/api/skills/{name}/stream"),
    route(Method::GET, "/api/heartbeat/runs"),
    route(Method::POST, "/api/heartbeat/check"),
    route(Method::GET, "/api/config"),
    route(Method::PUT, "/api/config"),
    route(Method::GET, "/api/models"),
];

const fn public(method: Method, path: &'static str) -> Route {
    Route {
        method,
        path,
        public: true,
    }
}

/// The path's parameters when it matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {
                let decoded = percent_decode(g)?;
                params.push(decoded);
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

fn percent_decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> ApiResponse {
    use futures_util::FutureExt;
    let request_headers = request.headers().clone();
    // A bug that panics in one request answers that request with an error; the server,
    // and every other request, goes on.
    let routed = std::panic::AssertUnwindSafe(route_request(&state, request))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = crate::report::panic_message(panic.as_ref());
            tracing::info!("a request failed with an internal error: {what}");
            Err(ApiError::internal(format!(
                "internal error (a bug in LocalGPT; the log has details): {what}"
            )))
        });
    let mut response = match routed {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    state
        .guard
        .cors_headers(&request_headers, response.headers_mut());
    response
}

async fn route_request(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    state.guard.check_origin(request.headers())?;
    let path = request.uri().path().to_string();
    let candidates: Vec<(&Route, Vec<String>)> = ROUTES
        .iter()
        .filter_map(|route| matches(route.path, &path).map(|params| (route, params)))
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::not_found(format!(
            "no route {path} (GET /api/openapi.json lists them)"
        )));
    }
    if request.method() == Method::OPTIONS {
        // A CORS preflight: the headers are added on the way out.
        let mut response = json_response(StatusCode::NO_CONTENT, &serde_json::json!({}));
        *response.body_mut() = super::http::full(bytes::Bytes::new());
        return Ok(response);
    }
    let Some((route, params)) = candidates
        .iter()
        .find(|(route, _)| route.method == request.method())
    else {
        let allowed: Vec<&str> = candidates.iter().map(|(r, _)| r.method.as_str()).collect();
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{} {path} is not a route; {path} takes {}",
                request.method(),
                allowed.join(", ")
            ),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(ALLOW, value);
        }
        return Ok(response);
    };
    if !route.public {
        state
            .guard
            .check_token(request.method(), request.headers())?;
    }
    let param = params.first().cloned().unwrap_or_default();
    match (route.method.clone(), route.path) {
        (Method::GET, "/health") => api::health(),
        (Method::GET, "/api/status") => api::status(state).await,
        (Method::POST, "/api/chat") => chat::chat(state.clone(), request).await,
        (Method::POST, "/api/chat/stream") => chat::stream(state.clone(), request).await,
        (Method::GET, "/api/sessions") => api::sessions(state, request.uri().query()),
        (Method::GET, "/api/sessions/{id}") => api::session(state, &param),
        (Method::DELETE, "/api/sessions/{id}") => api::delete_session(state, &param),
        (Method::GET, "/api/memory/search") => {
            api::memory_search(state.clone(), request.uri().query()).await
        }
        (Method::GET, "/api/memory/stats") => api::memory_stats(state.clone()).await,
        (Method::POST, "/api/memory/reindex") => api::memory_reindex(state.clone()).await,
        (Method::POST, "/api/memory") => api::memory_add(state, request).await,
        (Method::GET, "/api/skills") => skills::skills(state),
        (Method::POST, "/api/skills/{name}/run") => {
            skills::run_skill(state.clone(), &param, request).await
        }
        (Method::POST, "/api/skills/{name}/stream") => {
            skills::stream_skill(state.clone(), &param, request).await
        }
        (Method::POST, "/api/scripts/run") => api::run_script(state.clone(), request).await,
        (Method::GET, "/api/heartbeat") => api::heartbeat(state),
        (Method::POST, "/api/heartbeat/{task}/run") => api::run_task(state.clone(), &param).await,
        (Method::POST, "/v1/chat/completions") => {
            openai::v1(openai::completions(state.clone(), request).await)
        }
        (Method::GET, "/v1/models") => openai::v1(openai::models(state)),
        (Method::GET, "/v1/models/{id}") => openai::v1(openai::model(state, &param).await),
        (Method::POST, "/v1/responses") => {
            openai::v1(responses::create(state.clone(), request).await)
        }
        (Method::POST, "/v1/embeddings") => {
            openai::v1(embeddings::embeddings(state.clone(), request).await)
        }
        (Method::GET, "/api/openapi.json") => api::openapi(),
        (Method::GET, "/") => Ok(ui::page(request.headers())),
        (Method::GET, "/ui/{file}") => ui::asset(&param, request.headers()),
        (Method::GET, "/ui/vendor/{file}") => {
            ui::asset(&format!("vendor/{param}"), request.headers())
        }
        (Method::GET, "/login") => Ok(ui::login(state, request.uri().query())),
        (Method::POST, "/api/ui/code") => ui::mint(state),
        (Method::POST, "/api/chat/approvals/{id}") => {
            chat::answer(state.clone(), &param, request).await
        }
        (Method::PATCH, "/api/sessions/{id}") => {
            api::rename_session(state.clone(), &param, request).await
        }
        (Method::GET, "/api/memory/file") => {
            notes::read(state.clone(), request.uri().query()).await
        }
        (Method::PUT, "/api/memory/file") => notes::save(state.clone(), request).await,
        (Method::GET, "/api/memory/proposal") => proposal::show(state.clone()).await,
        (Method::POST, "/api/memory/proposal") => proposal::decide(state.clone(), request).await,
        (Method::GET, "/api/heartbeat/runs") => {
            tasks::runs(state.clone(), request.uri().query()).await
        }
        (Method::POST, "/api/heartbeat/check") => tasks::check_now(state.clone()).await,
        (Method::GET, "/api/config") => settings::list(state.clone()).await,
        (Method::PUT, "/api/config") => settings::set(state.clone(), request).await,
        (Method::GET, "/api/models") => api::models(state),
        (_, "/mcp") => {
            let ending = request.method() == Method::DELETE;
            let mut response = state.mcp().handle(request).await;
            // A session ended is answered 200, which every client takes; some log a 202.
            if ending && response.status() == StatusCode::ACCEPTED {
                *response.status_mut() = StatusCode::OK;
            }
            Ok(response)
        }
        _ => Err(ApiError::internal(format!(
            "route {} has no handler",
            route.path
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_parameters() {
        assert_eq!(
            matches("/api/sessions/{id}", "/api/sessions/abc"),
            Some(vec!["abc".into()])
        );
        assert_eq!(
            matches("/api/skills/{name}/run", "/api/skills/my%20skill/run"),
            Some(vec!["my skill".into()])
        );
        assert_eq!(matches("/api/sessions/{id}", "/api/sessions/"), None);
        assert_eq!(matches("/api/sessions/{id}", "/api/sessions/a/b"), None);
        assert_eq!(matches("/health", "/health"), Some(vec![]));
        assert_eq!(matches("/health", "/healthz"), None);
    }

    /// The OpenAPI description lists exactly the routes the server has.
    #[test]
    fn the_openapi_description_matches_the_route_table() {
        let spec: serde_json::Value = serde_json::from_str(api::OPENAPI).unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        let paths = spec["paths"].as_object().unwrap();
        let mut described = 0;
        for (path, operations) in paths {
            for method in operations.as_object().unwrap().keys() {
                described += 1;
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method)),
                    "{method} {path} is described but not served"
                );
            }
        }
        for route in &ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(
                paths.get(route.path).and_then(|p| p.get(&method)).is_some(),
                "{} {} is served but not described",
                route.method,
                route.path
            );
        }
        assert_eq!(described, ROUTES.len());
    }
}
