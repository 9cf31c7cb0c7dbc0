//! Files: `read_file`, `write_file`, `append_file`, `list_dir`, `file_exists`, `glob`.
//! Every path is resolved by the tool policy: inside the workspace, the current folder or
//! `tools.allowed_paths`, never through a symlink that leads out.

use std::path::{Path, PathBuf};

use rhai::{Array, Dynamic, Map, NativeCallContext};

use crate::config::ApprovalMode;
use crate::home::{append_locked, read_real, replace_real};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, RunContext, run_context};

/// A path to read: the read-only roots count too (skill folders elsewhere, the current
/// folder when it holds the person's home).
fn resolve(run: &RunContext, path: &str) -> RhaiResult<PathBuf> {
    run.policy.resolve_read(path).map_err(Into::into)
}

fn writable(run: &RunContext, path: &str) -> RhaiResult<PathBuf> {
    if run.policy.approval == ApprovalMode::Deny {
        return Err(format!("not allowed to write {path} (tools.approval is \"deny\")").into());
    }
    let resolved = run.policy.resolve(path)?;
    if let Some(parent) = resolved.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create the folder for {path}: {err}"))?;
    }
    Ok(resolved)
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "read_file",
        "read_file(path: String) -> String",
        "The text of a file.",
        |call: NativeCallContext, path: &str| -> RhaiResult<String> {
            let resolved = resolve(&*run_context(&call)?, path)?;
            let bytes = read_real(&resolved).map_err(|err| format!("cannot read {path}: {err}"))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        },
    );
    b.func(
        "write_file",
        "write_file(path: String, text: String)",
        "Creates or replaces a file, atomically.",
        |call: NativeCallContext, path: &str, text: &str| -> RhaiResult<()> {
            let resolved = writable(&*run_context(&call)?, path)?;
            replace_real(&resolved, text.as_bytes(), None)
                .map_err(|err| format!("cannot write {path}: {err}").into())
        },
    );
    b.func(
        "append_file",
        "append_file(path: String, text: String)",
        "Appends text to a file as one locked entry (a newline is added when missing).",
        |call: NativeCallContext, path: &str, text: &str| -> RhaiResult<()> {
            let resolved = writable(&*run_context(&call)?, path)?;
            append_locked(&resolved, text)
                .map_err(|err| format!("cannot append to {path}: {err}").into())
        },
    );
    b.func(
        "file_exists",
        "file_exists(path: String) -> bool",
        "Whether a file or folder exists (false outside the allowed folders).",
        |call: NativeCallContext, path: &str| -> RhaiResult<bool> {
            Ok(resolve(&*run_context(&call)?, path).is_ok_and(|p| p.exists()))
        },
    );
    b.func(
        "list_dir",
        "list_dir(path: String) -> [#{ name, is_dir, size }]",
        "The entries of a folder, sorted by name.",
        |call: NativeCallContext, path: &str| -> RhaiResult<Array> {
            let run = run_context(&call)?;
            let resolved = resolve(&run, path)?;
            let entries =
                std::fs::read_dir(&resolved).map_err(|err| format!("cannot list {path}: {err}"))?;
            let mut items: Vec<(String, bool, u64)> = entries
                .filter_map(Result::ok)
                .filter(|entry| run.policy.may_show(&entry.path()))
                .map(|entry| {
                    let meta = entry.metadata().ok();
                    (
                        entry.file_name().to_string_lossy().into_owned(),
                        meta.as_ref().is_some_and(|m| m.is_dir()),
                        meta.map_or(0, |m| m.len()),
                    )
                })
                .collect();
            items.sort();
            Ok(items
                .into_iter()
                .map(|(name, is_dir, size)| {
                    let mut map = Map::new();
                    map.insert("name".into(), name.into());
                    map.insert("is_dir".into(), is_dir.into());
                    map.insert(
                        "size".into(),
                        i64::try_from(size).unwrap_or(i64::MAX).into(),
                    );
                    Dynamic::from_map(map)
                })
                .collect())
        },
    );
    b.func(
        "glob",
        "glob(pattern: String) -> [String]",
        "Paths matching a pattern such as \"src/**/*.rs\", relative to the current folder.",
        |call: NativeCallContext, pattern: &str| -> RhaiResult<Array> {
            let run = run_context(&call)?;
            glob(&run, pattern).map(|paths| paths.into_iter().map(Dynamic::from).collect())
        },
    );
}

fn glob(run: &RunContext, pattern: &str) -> RhaiResult<Vec<String>> {
    let matcher = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|err| format!("glob: `{pattern}` is not a valid pattern: {}", err.kind()))?
        .compile_matcher();
    // Walk from the literal part of the pattern, which the policy must allow.
    let literal: PathBuf = Path::new(pattern)
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{'])
        })
        .collect();
    let base_text = if literal.as_os_str().is_empty() {
        "."
    } else {
        literal.to_str().unwrap_or(".")
    };
    let base = resolve(run, base_text)?;
    let cwd = run
        .policy
        .cwd()
        .canonicalize()
        .unwrap_or_else(|_| run.policy.cwd().to_path_buf());
    let cwd = cwd.as_path();
    let mut found = Vec::new();
    // Protected places (credential stores, LocalGPT's own files) are neither listed nor
    // walked into.
    for entry in walkdir::WalkDir::new(&base)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| run.policy.may_show(entry.path()))
        .filter_map(Result::ok)
    {
        let shown = if Path::new(pattern).is_absolute() {
            entry.path().to_path_buf()
        } else {
            match entry.path().strip_prefix(cwd) {
                Ok(relative) => relative.to_path_buf(),
                Err(_) => continue,
            }
        };
        if matcher.is_match(&shown) {
            found.push(shown.to_string_lossy().into_owned());
        }
    }
    Ok(found)
}
