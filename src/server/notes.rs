//! Memory files as the web page opens and edits them: `GET /api/memory/file?path=` gives a
//! file's text with a version, `PUT /api/memory/file` saves `MEMORY.md`, `HEARTBEAT.md` or a
//! daily log atomically — only if it has not changed since that version was read
//! (otherwise 409 with the current text, so both can be shown) — and indexes it at once,
//! so a search right after finds what was written.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::State;
use super::api::{blocking, with_memory};
use super::http::{
    ApiError, ApiResponse, json_response, ok_json, parse_json, query_pairs, read_body,
};

/// A short fingerprint of a file's bytes: a save names the one it started from.
pub fn version(text: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{}-{:016x}", text.len(), hasher.finish())
}

/// Whether the page may write `relative` (under the workspace): the memory files a person
/// keeps by hand.
fn editable(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        ["MEMORY.md" | "HEARTBEAT.md"] => true,
        ["memory", name] => name.ends_with(".md") && !name.starts_with('.'),
        _ => false,
    }
}

pub async fn read(state: Arc<State>, query: Option<&str>) -> Result<ApiResponse, ApiError> {
    let name = query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "path")
        .map(|(_, value)| value)
        .ok_or_else(|| ApiError::invalid("the query parameter `path` is missing"))?;
    let home = state.home.clone();
    let policy = state.env.policy();
    let relative = name.clone();
    let lookup = name.clone();
    let path = with_memory(state.clone(), move |memory| {
        memory
            .resolve_for(&home, &lookup, &policy)
            .map_err(crate::memory::MemoryError::NotMemory)
    })
    .await?;
    let text = blocking(move || {
        crate::home::read_real_to_string(&path)
            .map_err(|err| ApiError::not_found(format!("cannot read {name}: {err}")))
    })
    .await?;
    ok_json(&json!({
        "path": relative,
        "text": text,
        "version": version(&text),
        "editable": editable(&relative),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    path: String,
    text: String,
    /// The version the edit started from.
    version: String,
}

pub async fn save(state: Arc<State>, request: Request<Incoming>) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: SaveBody = parse_json(&bytes)?;
    if !editable(&body.path) {
        return Err(ApiError::invalid(format!(
            "{} cannot be edited here: only MEMORY.md, HEARTBEAT.md and the daily logs \
             (memory/DATE.md)",
            body.path
        )));
    }
    // Where the file really is, inside the workspace: a link that leads out (or nowhere)
    // is refused before anything is read or written, as `GET` refuses it.
    let path = state
        .home
        .workspace_file(&body.path)
        .map_err(|err| ApiError::invalid(err.to_string()))?;
    let written = path.clone();
    let expected = body.version.clone();
    let text = body.text.clone();
    // The check and the write under the file's lock: a save racing another sees it.
    let outcome = blocking(move || {
        let mut current = None;
        let saved = crate::home::try_update_locked(&written, None, |old| {
            if version(old) != expected {
                current = Some(old.to_string());
                return Ok::<_, std::io::Error>(old.to_string());
            }
            Ok(text.clone())
        })
        .map_err(|err| ApiError::internal(format!("cannot save {}: {err}", written.display())))?;
        Ok((saved, current))
    })
    .await?;
    if let (_, Some(current)) = outcome {
        return Ok(json_response(
            StatusCode::CONFLICT,
            &json!({
                "error": {"code": "changed", "message": format!(
                    "{} changed since it was opened; nothing was saved", body.path)},
                "current": {"text": current, "version": version(&current)},
            }),
        ));
    }
    let embedder = state.embedder.get(&state.home, &state.env.config);
    let indexed = path.clone();
    if let Err(err) = with_memory(state.clone(), move |memory| {
        memory.note_written(&indexed, embedder.as_deref())
    })
    .await
    {
        tracing::warn!(
            "{} was saved but not indexed yet: {}",
            path.display(),
            err.message
        );
    }
    ok_json(&json!({"path": body.path, "version": version(&body.text)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hand_kept_memory_files_are_editable() {
        for yes in ["MEMORY.md", "HEARTBEAT.md", "memory/2026-11-29.md"] {
            assert!(editable(yes), "{yes}");
        }
        for no in [
            "SOUL.md",
            "memory/../MEMORY.md",
            "memory/.hidden.md",
            "skills/x.rhai",
            "../x.md",
        ] {
            assert!(!editable(no), "{no}");
        }
        assert_ne!(version("a"), version("b"));
        assert_eq!(version("same"), version("same"));
    }
}
