//! Settings for the web page: `GET /api/config` lists every setting in effect with where it
//! came from (the file, the environment, a default), keys masked; `PUT /api/config` changes
//! one through the same validation as `config set`, in the file. The running server keeps
//! the settings it started with; the answer says so.

use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use toml_edit::{DocumentMut, Item};

use super::State;
use super::api::blocking;
use super::http::{ApiError, ApiResponse, ok_json, parse_json, read_body};
use crate::config::{Overrides, Settings, Source, effective_document, get_value};
use crate::env::ProcessEnv;

fn load(state: &State) -> Result<Settings, ApiError> {
    let overrides = Overrides {
        model: None,
        local_chat_model: crate::models::catalogue::best_installed(&state.home),
    };
    Settings::load(&state.home.config_file(), &ProcessEnv, &overrides)
        .map_err(|err| ApiError::invalid(err.to_string()))
}

/// Every leaf of `item` as `(dotted key, value as TOML)`.
fn leaves(item: &Item, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    if let Some(table) = item.as_table_like() {
        for (name, inner) in table.iter() {
            prefix.push(name.to_string());
            leaves(inner, prefix, out);
            prefix.pop();
        }
    } else if let Some(value) = item.as_value() {
        let mut clean = value.clone();
        clean.decor_mut().clear();
        out.push((prefix.clone(), clean.to_string()));
    }
}

pub async fn list(state: Arc<State>) -> Result<ApiResponse, ApiError> {
    let settings = {
        let state = state.clone();
        blocking(move || load(&state)).await?
    };
    let file: DocumentMut = std::fs::read_to_string(&settings.path)
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let doc = effective_document(&settings);
    let mut found = Vec::new();
    leaves(doc.as_item(), &mut Vec::new(), &mut found);
    let rows: Vec<Value> = found
        .into_iter()
        .map(|(parts, value)| {
            let key = crate::config::display_key(&parts);
            let source = match settings.sources.get(&key) {
                Some(Source::Env(var)) => format!("environment: ${var}"),
                Some(Source::Flag(flag)) => format!("flag: {flag}"),
                Some(Source::Auto(reason)) => reason.clone(),
                None if in_file(&file, &parts) => "config.toml".to_string(),
                None => "default".to_string(),
            };
            json!({"key": key, "value": value, "source": source})
        })
        .collect();
    ok_json(&json!({"path": settings.path.display().to_string(), "settings": rows}))
}

fn in_file(file: &DocumentMut, parts: &[String]) -> bool {
    let mut item = file.as_item();
    for part in parts {
        match item.as_table_like().and_then(|table| table.get(part)) {
            Some(inner) => item = inner,
            None => return false,
        }
    }
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    key: String,
    value: String,
}

pub async fn set(state: Arc<State>, request: Request<Incoming>) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: SetBody = parse_json(&bytes)?;
    let path = state.home.config_file();
    let (key, value) = (body.key.clone(), body.value.clone());
    let changed = blocking(move || {
        crate::config::set_in_file(&path, &key, &value)
            .map_err(|err| ApiError::invalid(err.to_string()))
    })
    .await?;
    let settings = load(&state)?;
    let shown = get_value(&settings, &body.key)
        .map_err(|err| ApiError::invalid(err.to_string()))?
        .unwrap_or_default();
    let overridden = match settings.sources.get(&body.key) {
        Some(Source::Env(var)) => Some(format!(
            "${var} is set and overrides it; unset it for this value to apply"
        )),
        _ => None,
    };
    ok_json(&json!({
        "key": body.key,
        "value": shown,
        "changed": changed.is_some(),
        "note": overridden.unwrap_or_else(|| "saved to config.toml; the server uses it from its next start".to_string()),
    }))
}
