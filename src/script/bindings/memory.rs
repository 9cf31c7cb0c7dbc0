//! Memory: `memory_search`, `memory_get`, `memory_add` (daily log), `remember` (MEMORY.md).

use rhai::{Array, Dynamic, Map, NativeCallContext};

use crate::memory::{self, Freshness};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, run_context};

fn search(call: &NativeCallContext, query: &str, limit: i64) -> RhaiResult<Array> {
    let run = run_context(call)?;
    let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(10);
    let embedder = run.embedder.get(&run.home, &run.config);
    let hits = run.with_memory(|memory| {
        memory
            .search_best(query, limit, Freshness::Quick, embedder.as_deref())
            .map_err(|err| err.to_string())
    })?;
    Ok(hits
        .into_iter()
        .map(|hit| {
            let mut map = Map::new();
            map.insert("path".into(), hit.path.clone().into());
            map.insert(
                "start_line".into(),
                i64::try_from(hit.start_line).unwrap_or(0).into(),
            );
            map.insert(
                "end_line".into(),
                i64::try_from(hit.end_line).unwrap_or(0).into(),
            );
            map.insert("heading".into(), hit.heading.clone().into());
            map.insert("score".into(), hit.score.into());
            map.insert("snippet".into(), hit.snippet_marked("**", "**").into());
            Dynamic::from_map(map)
        })
        .collect())
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "memory_search",
        "memory_search(query: String) -> [#{ path, start_line, end_line, heading, score, snippet }]",
        "Searches memory, best matches first (10 at most); by meaning too when the embedding model is installed.",
        |call: NativeCallContext, query: &str| search(&call, query, 10),
    );
    b.func(
        "memory_search",
        "memory_search(query: String, limit: int) -> [#{ path, start_line, end_line, heading, score, snippet }]",
        "Searches memory, returning up to `limit` matches.",
        |call: NativeCallContext, query: &str, limit: i64| search(&call, query, limit),
    );
    b.func(
        "memory_get",
        "memory_get(path: String) -> String",
        "The text of a memory file (e.g. \"MEMORY.md\" or a path from memory_search).",
        |call: NativeCallContext, path: &str| -> RhaiResult<String> {
            let run = run_context(&call)?;
            let resolved =
                run.with_memory(|memory| memory.resolve_for(&run.home, path, &run.policy))?;
            let bytes = crate::home::read_real(&resolved)
                .map_err(|err| format!("cannot read {path}: {err}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        },
    );
    b.func(
        "memory_add",
        "memory_add(text: String) -> String",
        "Appends a timestamped entry to today's daily log; returns the log's path.",
        |call: NativeCallContext, text: &str| -> RhaiResult<String> {
            let run = run_context(&call)?;
            let path = memory::append_daily(&run.home, chrono::Local::now(), text)
                .map_err(|err| format!("cannot add to the daily log: {err}"))?;
            memory::index_written(&run.memory, &run.home, &run.config, &run.embedder, &path);
            Ok(path.to_string_lossy().into_owned())
        },
    );
    b.func(
        "remember",
        "remember(text: String)",
        "Files a note in MEMORY.md under \"Notes\", for facts that should last.",
        |call: NativeCallContext, text: &str| -> RhaiResult<()> {
            let run = run_context(&call)?;
            memory::append_to_memory(&run.home, "Notes", text)
                .map_err(|err| format!("cannot write MEMORY.md: {err}"))?;
            let file = run.home.memory_file();
            memory::index_written(&run.memory, &run.home, &run.config, &run.embedder, &file);
            Ok(())
        },
    );
}
