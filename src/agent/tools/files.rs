//! File tools: `read_file {path, offset?, limit?}`, `write_file {path, content}` (atomic),
//! `edit_file {path, old_string, new_string}` (one exact match), `list_dir {path}`.
//! Every path goes through the policy first.

use std::fs;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Sensitivity, Tool, ToolContext, limit_output, str_arg, u64_arg};
use crate::home::{read_real, read_real_to_string, replace_real};

/// Lines `read_file` returns when no `limit` is given.
const DEFAULT_READ_LINES: u64 = 2000;
/// Entries `list_dir` shows at most.
const MAX_ENTRIES: usize = 500;

/// A write to `args.path` needs approval when the policy lets it happen at all.
fn writable(args: &Value, ctx: &ToolContext, question: impl Fn(&str) -> String) -> Sensitivity {
    let path = str_arg(args, "path");
    if ctx.policy.approval == crate::config::ApprovalMode::Deny {
        return Sensitivity::Refused(format!(
            "not allowed: writing {path} (tools.approval is \"deny\")"
        ));
    }
    match ctx.policy.resolve(path) {
        Ok(_) => Sensitivity::NeedsApproval(question(path)),
        Err(refusal) => Sensitivity::Refused(refusal),
    }
}

pub(crate) struct ReadFile;
pub(crate) struct WriteFile;
pub(crate) struct EditFile;
pub(crate) struct ListDir;

#[async_trait]
impl Tool for ReadFile {
    fn name(&self) -> &str {
        "read_file"
    }

    fn description(&self) -> &str {
        "Read a text file. `offset` is the first line to read (1-based), `limit` how many \
         lines (default 2000)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "offset": {"type": "integer", "minimum": 1},
                "limit": {"type": "integer", "minimum": 1},
            },
            "required": ["path"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let raw = str_arg(args, "path");
        let path = ctx.policy.resolve_read(raw)?;
        let bytes = read_real(&path).map_err(|err| format!("cannot read {raw}: {err}"))?;
        if bytes.iter().take(8000).any(|b| *b == 0) {
            return Err(format!("{raw} is a binary file ({} bytes)", bytes.len()));
        }
        let text = String::from_utf8_lossy(&bytes);
        let total = text.lines().count();
        let offset = u64_arg(args, "offset").unwrap_or(1).max(1);
        let limit = u64_arg(args, "limit").unwrap_or(DEFAULT_READ_LINES);
        let first = usize::try_from(offset - 1).unwrap_or(usize::MAX);
        let count = usize::try_from(limit).unwrap_or(usize::MAX);
        let selected: Vec<&str> = text.lines().skip(first).take(count).collect();
        if selected.is_empty() && total > 0 {
            return Err(format!(
                "{raw} has {total} lines; offset {offset} is past the end"
            ));
        }
        let mut content = selected.join("\n");
        if first > 0 || first + selected.len() < total {
            content = format!(
                "[lines {}-{} of {total}]\n{content}",
                first + 1,
                first + selected.len()
            );
        }
        let max_bytes =
            usize::try_from(ctx.config.tools.output_limit_kb * 1024).unwrap_or(usize::MAX);
        Ok(limit_output(&content, max_bytes))
    }
}

#[async_trait]
impl Tool for WriteFile {
    fn name(&self) -> &str {
        "write_file"
    }

    fn description(&self) -> &str {
        "Create or replace a file with the given content (written atomically; missing \
         folders are created)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        })
    }

    fn assess(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        let bytes = str_arg(args, "content").len();
        writable(args, ctx, |path| format!("Write {path} ({bytes} bytes)"))
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let raw = str_arg(args, "path");
        let path = ctx.policy.resolve(raw)?;
        if let Some(parent) = path.parent()
            && let Err(err) = fs::create_dir_all(parent)
        {
            return Err(format!("cannot create the folder for {raw}: {err}"));
        }
        let content = str_arg(args, "content");
        replace_real(&path, content.as_bytes(), None)
            .map_err(|err| format!("cannot write {raw}: {err}"))?;
        Ok(format!("wrote {raw} ({} bytes)", content.len()))
    }
}

#[async_trait]
impl Tool for EditFile {
    fn name(&self) -> &str {
        "edit_file"
    }

    fn description(&self) -> &str {
        "Replace one exact occurrence of `old_string` in a file with `new_string`. Fails if \
         the text is absent or appears more than once; include more context to make it unique."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
            },
            "required": ["path", "old_string", "new_string"],
        })
    }

    fn assess(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        writable(args, ctx, |path| format!("Edit {path}"))
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let raw = str_arg(args, "path");
        let path = ctx.policy.resolve(raw)?;
        let text = read_real_to_string(&path).map_err(|err| format!("cannot read {raw}: {err}"))?;
        let old = str_arg(args, "old_string");
        if old.is_empty() {
            return Err("old_string is empty; use write_file to create a file".to_string());
        }
        match text.matches(old).count() {
            0 => Err(format!("old_string was not found in {raw}")),
            1 => {
                let updated = text.replacen(old, str_arg(args, "new_string"), 1);
                replace_real(&path, updated.as_bytes(), None)
                    .map_err(|err| format!("cannot write {raw}: {err}"))?;
                Ok(format!("edited {raw}"))
            }
            n => Err(format!(
                "old_string appears {n} times in {raw}; include more surrounding text so it is unique"
            )),
        }
    }
}

#[async_trait]
impl Tool for ListDir {
    fn name(&self) -> &str {
        "list_dir"
    }

    fn description(&self) -> &str {
        "List a folder: names (folders end in /) and sizes."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        })
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let raw = str_arg(args, "path");
        let path = ctx.policy.resolve_read(raw)?;
        let entries = fs::read_dir(&path).map_err(|err| format!("cannot list {raw}: {err}"))?;
        let mut lines: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| ctx.policy.may_show(&entry.path()))
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                match entry.metadata() {
                    Ok(meta) if meta.is_dir() => format!("{name}/"),
                    Ok(meta) => format!("{name}  {} bytes", meta.len()),
                    Err(_) => name,
                }
            })
            .collect();
        lines.sort();
        let total = lines.len();
        lines.truncate(MAX_ENTRIES);
        if total > MAX_ENTRIES {
            lines.push(format!("[… {} more]", total - MAX_ENTRIES));
        }
        if lines.is_empty() {
            return Ok("(empty folder)".to_string());
        }
        Ok(lines.join("\n"))
    }
}
