//! Memory tools: `memory_search {query, limit?}`, `memory_get {path, from?, lines?}` and
//! `memory_save {text, target?, heading?}` — the same functions as `localgpt memory`.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Tool, ToolContext, str_arg, u64_arg};
use crate::memory::{self, Freshness, Memory};

pub(crate) struct MemorySearch;
pub(crate) struct MemoryGet;
pub(crate) struct MemorySave;

/// Runs `work` with the memory index, opening it on first use.
fn with_memory<T>(
    ctx: &ToolContext,
    work: impl FnOnce(&mut Memory) -> Result<T, String>,
) -> Result<T, String> {
    memory::with_lazy(&ctx.memory, &ctx.home, &ctx.config.memory, work)
}

#[async_trait]
impl Tool for MemorySearch {
    fn name(&self) -> &str {
        "memory_search"
    }

    fn description(&self) -> &str {
        "Search the user's memory (MEMORY.md, daily logs, notes) by keywords and, when the \
         embedding model is installed, by meaning. \"Quoted phrases\" and prefix* work. \
         Returns file:lines, heading and a snippet per match."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
            },
            "required": ["query"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let query = str_arg(args, "query");
        let limit = usize::try_from(u64_arg(args, "limit").unwrap_or(8).min(50)).unwrap_or(8);
        let embedder = ctx.embedder.get(&ctx.home, &ctx.config);
        let hits = with_memory(ctx, |memory| {
            memory
                .search_best(query, limit, Freshness::Quick, embedder.as_deref())
                .map_err(|e| e.to_string())
        })?;
        if hits.is_empty() {
            return Ok(format!("nothing in memory matches {query:?}"));
        }
        Ok(hits
            .iter()
            .map(|hit| {
                format!(
                    "{}:{}-{} {}\n{}",
                    hit.path,
                    hit.start_line,
                    hit.end_line,
                    hit.heading,
                    hit.snippet_marked("**", "**")
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n"))
    }
}

#[async_trait]
impl Tool for MemoryGet {
    fn name(&self) -> &str {
        "memory_get"
    }

    fn description(&self) -> &str {
        "Read a memory file (a path from memory_search, e.g. MEMORY.md or \
         memory/2026-11-24.md), optionally from line `from` for `lines` lines."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "from": {"type": "integer", "minimum": 1},
                "lines": {"type": "integer", "minimum": 1},
            },
            "required": ["path"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let name = str_arg(args, "path");
        let path = with_memory(ctx, |memory| {
            memory.resolve_for(&ctx.home, name, &ctx.policy)
        })?;
        let bytes =
            crate::home::read_real(&path).map_err(|err| format!("cannot read {name}: {err}"))?;
        let text = String::from_utf8_lossy(&bytes);
        let from = usize::try_from(u64_arg(args, "from").unwrap_or(1).max(1)).unwrap_or(1);
        let lines =
            u64_arg(args, "lines").map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let selected: Vec<&str> = text.lines().skip(from - 1).take(lines).collect();
        Ok(selected.join("\n"))
    }
}

#[async_trait]
impl Tool for MemorySave {
    fn name(&self) -> &str {
        "memory_save"
    }

    fn description(&self) -> &str {
        "Save something worth remembering. target \"daily\" (default) appends a timestamped \
         entry to today's log; \"memory\" files it in MEMORY.md under `heading` (default \
         \"Notes\") for facts and preferences that should last."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "target": {"type": "string", "enum": ["daily", "memory"]},
                "heading": {"type": "string"},
            },
            "required": ["text"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let text = str_arg(args, "text");
        if text.trim().is_empty() {
            return Err("text is empty; nothing saved".to_string());
        }
        if str_arg(args, "target") == "memory" {
            let heading = match str_arg(args, "heading") {
                "" => "Notes",
                heading => heading,
            };
            memory::append_to_memory(&ctx.home, heading, text)
                .map_err(|err| format!("cannot save to MEMORY.md: {err}"))?;
            ctx.index_written(&ctx.home.memory_file());
            Ok(format!("saved to MEMORY.md under \"{heading}\""))
        } else {
            let path = memory::append_daily(&ctx.home, chrono::Local::now(), text)
                .map_err(|err| format!("cannot save to the daily log: {err}"))?;
            ctx.index_written(&path);
            let shown = path.strip_prefix(ctx.home.workspace()).unwrap_or(&path);
            Ok(format!("saved to {}", shown.display()))
        }
    }
}
