//! `.env` files, for the kernel sandbox. The file tools refuse one by its name wherever
//! it is; Landlock grants by place, not by name, so for a shell command the files must be
//! found to be kept closed. They are looked for where commands work and where people keep
//! their projects: the allowed roots (the current folder among them) and the folders of
//! the person's home, a few levels down, skipping dependency and build folders — a bounded
//! walk, remembered for a minute so that commands in a row do not pay it again.
//!
//! A `.env` file further away than that stays readable to commands; `localgpt sandbox
//! check` says how many were found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Protected;

/// Entries looked at in one search, at most.
const MAX_ENTRIES: usize = 20_000;
/// How deep below each allowed root, and below the home folder.
const ROOT_DEPTH: usize = 5;
const HOME_DEPTH: usize = 3;
/// How long a search's answer is used again.
const REMEMBERED: Duration = Duration::from_secs(60);

/// Folders that hold other people's code or build output, never a project's own `.env`.
const SKIPPED: [&str; 9] = [
    "node_modules",
    "target",
    "vendor",
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "dist",
    "build",
];

type Found = (Instant, Vec<PathBuf>);

/// The `.env` files under `roots` and in the folders of `user_home` that `protected`
/// refuses (canonical paths).
pub fn find(protected: &Protected, roots: &[PathBuf], user_home: Option<&Path>) -> Vec<PathBuf> {
    static REMEMBERED_FOUND: Mutex<Option<HashMap<Vec<PathBuf>, Found>>> = Mutex::new(None);
    let mut key = roots.to_vec();
    key.extend(user_home.map(Path::to_path_buf));
    if let Ok(guard) = REMEMBERED_FOUND.lock()
        && let Some((at, found)) = guard.as_ref().and_then(|map| map.get(&key))
        && at.elapsed() < REMEMBERED
    {
        return found.clone();
    }
    let mut budget = MAX_ENTRIES;
    let mut found = Vec::new();
    for root in roots {
        walk(root, ROOT_DEPTH, protected, &mut budget, &mut found);
    }
    if let Some(home) = user_home.and_then(|home| home.canonicalize().ok()) {
        walk(&home, HOME_DEPTH, protected, &mut budget, &mut found);
    }
    found.sort();
    found.dedup();
    if let Ok(mut guard) = REMEMBERED_FOUND.lock() {
        guard
            .get_or_insert_with(HashMap::new)
            .insert(key, (Instant::now(), found.clone()));
    }
    found
}

fn walk(
    root: &Path,
    depth: usize,
    protected: &Protected,
    budget: &mut usize,
    found: &mut Vec<PathBuf>,
) {
    let entries = walkdir::WalkDir::new(root)
        .max_depth(depth)
        .into_iter()
        .filter_entry(|entry| {
            !entry.file_type().is_dir()
                || entry.depth() == 0
                || entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| !name.starts_with('.') && !SKIPPED.contains(&name))
        });
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if entry.file_type().is_file()
            && super::protected::is_env_file(entry.path())
            && protected.refusal(entry.path()).is_some()
        {
            found.push(entry.into_path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_env_files_of_projects_and_skips_templates_and_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().canonicalize().unwrap();
        for file in [
            "code/app/.env",
            "code/app/.env.production",
            "code/app/.env.example",
            "code/app/node_modules/pkg/.env",
            "code/app/services/api/.env",
            ".cache/tool/.env",
        ] {
            let path = user.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "SECRET=1").unwrap();
        }
        let protected = Protected::new(&user.join(".localgpt"), &[], Some(&user), &[]);
        let found = find(&protected, &[user.join("code/app")], Some(&user));
        assert_eq!(
            found,
            [
                user.join("code/app/.env"),
                user.join("code/app/.env.production"),
                user.join("code/app/services/api/.env"),
            ]
        );
    }
}
