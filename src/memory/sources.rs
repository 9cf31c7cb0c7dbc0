//! Which files are memory: the configured globs, expanded into a list of Markdown files,
//! plus the folders that were walked (whose modification times tell, cheaply, whether a
//! file was added, removed or saved by an editor since the last look).
//!
//! A symlink is followed only when its target stays inside the root it was found under,
//! so a link in the workspace cannot pull `/etc` or a whole home directory into memory.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use globset::{GlobBuilder, GlobMatcher};

use super::MemoryError;

#[path = "sources_walk.rs"]
mod walk;

/// One configured pattern, resolved against the file system.
#[derive(Debug, Clone)]
struct Root {
    /// The literal folder (or file) the pattern starts from.
    base: PathBuf,
    /// Matches paths relative to `base`; `None` when `base` is a single file.
    matcher: Option<GlobMatcher>,
}

/// The resolved configuration of what to index.
#[derive(Debug, Clone)]
pub struct Sources {
    workspace: PathBuf,
    roots: Vec<Root>,
    /// Files the assistant itself writes to often, checked on every search.
    hot_files: Vec<PathBuf>,
    pub max_file_bytes: u64,
}

/// A Markdown file found under a root.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    /// Which file this is whatever the path (device and inode where there are such), so
    /// a file reached twice — two patterns, a link — is indexed once.
    pub identity: FileIdentity,
}

/// A file's identity on disk: (device, inode) on Unix; elsewhere its canonical path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileIdentity {
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileIdentity {
    fn of(path: &Path, meta: &std::fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = path;
            FileIdentity::Inode(meta.dev(), meta.ino())
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            FileIdentity::Path(path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
        }
    }
}

/// A folder walked during discovery and its modification time then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirStamp {
    pub path: PathBuf,
    /// 0 when the folder did not exist.
    pub mtime_ns: i64,
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<SourceFile>,
    pub dirs: Vec<DirStamp>,
}

impl Discovery {
    /// Every path and stamp found, hashed: equal fingerprints mean the walk found the
    /// same files with the same sizes and times, in the same folders.
    pub(crate) fn fingerprint(&self) -> String {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for file in &self.files {
            hasher.update(file.path.as_os_str().as_encoded_bytes());
            hasher.update(&[0]);
            hasher.update(&file.size.to_le_bytes());
            hasher.update(&file.mtime_ns.to_le_bytes());
        }
        hasher.update(&[1]);
        for dir in &self.dirs {
            hasher.update(dir.path.as_os_str().as_encoded_bytes());
            hasher.update(&[0]);
            hasher.update(&dir.mtime_ns.to_le_bytes());
        }
        format!("{:032x}", hasher.digest128())
    }
}

impl Sources {
    /// `paths` are relative to `workspace`; `extra_paths` may be absolute, start with `~/`,
    /// or be relative to the workspace. A plain folder means every `.md` file below it.
    pub fn new(
        workspace: &Path,
        paths: &[String],
        extra_paths: &[String],
        hot_files: Vec<PathBuf>,
        max_file_bytes: u64,
    ) -> Result<Sources, MemoryError> {
        let mut roots = Vec::new();
        for pattern in paths.iter().chain(extra_paths) {
            roots.push(Root::parse(workspace, pattern)?);
        }
        Ok(Sources {
            workspace: workspace.to_path_buf(),
            roots,
            hot_files,
            max_file_bytes,
        })
    }

    pub(crate) fn hot_files(&self) -> &[PathBuf] {
        &self.hot_files
    }

    /// The folders (and single files) memory is read from: the workspace and each
    /// configured root.
    pub fn folders(&self) -> Vec<PathBuf> {
        std::iter::once(self.workspace.clone())
            .chain(self.roots.iter().map(|root| root.base.clone()))
            .collect()
    }

    /// Walks every root. Unreadable folders are skipped, never fatal: memory search must
    /// work with whatever can be read.
    pub fn discover(&self) -> Discovery {
        let mut discovery = Discovery::default();
        let mut seen = HashSet::new();
        for root in &self.roots {
            root.walk(&mut discovery, &mut seen);
        }
        discovery
    }

    pub(crate) fn display_name(&self, path: &Path) -> String {
        match path.strip_prefix(&self.workspace) {
            Ok(relative) => relative.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        }
    }
}

impl Root {
    fn parse(workspace: &Path, pattern: &str) -> Result<Root, MemoryError> {
        let expanded = expand_home(pattern);
        let full = if Path::new(&expanded).is_absolute() {
            PathBuf::from(&expanded)
        } else {
            workspace.join(&expanded)
        };
        let mut base = PathBuf::new();
        let mut rest = PathBuf::new();
        for component in full.components() {
            let text = component.as_os_str().to_string_lossy();
            let is_glob = text.contains(['*', '?', '[', '{']);
            if rest.as_os_str().is_empty() && !is_glob {
                base.push(component);
            } else {
                rest.push(component);
            }
        }
        let glob = if !rest.as_os_str().is_empty() {
            Some(rest.to_string_lossy().into_owned())
        } else if base.is_dir() || pattern.ends_with('/') {
            Some("**/*.md".to_string())
        } else {
            None
        };
        let matcher = match glob {
            Some(glob) => Some(
                GlobBuilder::new(&glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|err| MemoryError::Pattern {
                        pattern: pattern.to_string(),
                        message: err.kind().to_string(),
                    })?
                    .compile_matcher(),
            ),
            None => None,
        };
        Ok(Root { base, matcher })
    }

    fn walk(&self, discovery: &mut Discovery, seen: &mut HashSet<FileIdentity>) {
        let Some(matcher) = &self.matcher else {
            // A single file.
            if let Some(file) = source_file(&self.base) {
                push_unique(discovery, seen, file);
            }
            return;
        };
        let (Ok(canonical_base), Ok(meta)) =
            (self.base.canonicalize(), std::fs::metadata(&self.base))
        else {
            discovery.dirs.push(DirStamp {
                path: self.base.clone(),
                mtime_ns: 0,
            });
            return;
        };
        discovery.dirs.push(DirStamp {
            path: self.base.clone(),
            mtime_ns: mtime_ns(&meta),
        });
        walk::Walk::new(self, matcher, canonical_base, discovery, seen, &meta).run();
    }
}

/// Hidden folders (.git, .obsidian) and dependency folders hold no memory of the user's.
fn is_skipped_dir(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.starts_with('.') || name == "node_modules")
}

fn push_unique(discovery: &mut Discovery, seen: &mut HashSet<FileIdentity>, file: SourceFile) {
    // Its identity, not its path: a path would need resolving (a readlink per folder of
    // every file) on every search.
    if seen.insert(file.identity.clone()) {
        discovery.files.push(file);
    }
}

pub(super) fn source_file(path: &Path) -> Option<SourceFile> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    Some(source_file_with(path.to_path_buf(), &meta))
}

fn source_file_with(path: PathBuf, meta: &std::fs::Metadata) -> SourceFile {
    SourceFile {
        size: meta.len(),
        mtime_ns: mtime_ns(meta),
        identity: FileIdentity::of(&path, meta),
        path,
    }
}

pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// The current stamp of a folder, to compare with a stored one.
pub(crate) fn dir_stamp(path: &Path) -> DirStamp {
    DirStamp {
        path: path.to_path_buf(),
        mtime_ns: std::fs::metadata(path).map_or(0, |meta| mtime_ns(&meta)),
    }
}

/// The size and modification time of a file now, `None` when it is gone.
pub(crate) fn file_stamp(path: &Path) -> io::Result<Option<(u64, i64)>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some((meta.len(), mtime_ns(&meta)))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

fn expand_home(pattern: &str) -> String {
    crate::home::expand_home(pattern)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sources(workspace: &Path, extra: &[&str]) -> Sources {
        let paths = ["MEMORY.md".to_string(), "memory/**/*.md".to_string()];
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Sources::new(workspace, &paths, &extra, Vec::new(), 1 << 20).unwrap()
    }

    fn names(sources: &Sources, discovery: &Discovery) -> Vec<String> {
        let mut names: Vec<_> = discovery
            .files
            .iter()
            .map(|f| sources.display_name(&f.path))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn finds_the_configured_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        fs::create_dir_all(ws.join("memory/2026")).unwrap();
        fs::create_dir_all(ws.join("memory/.git")).unwrap();
        fs::create_dir_all(ws.join("skills")).unwrap();
        for file in [
            "MEMORY.md",
            "memory/2026-11-24.md",
            "memory/2026/old.md",
            "memory/notes.txt",
            "memory/.git/HEAD.md",
            "skills/x.md",
        ] {
            fs::write(ws.join(file), "x").unwrap();
        }
        let src = sources(ws, &[]);
        let found = src.discover();
        assert_eq!(
            names(&src, &found),
            ["MEMORY.md", "memory/2026-11-24.md", "memory/2026/old.md"]
        );
        assert!(found.dirs.iter().any(|d| d.path == ws.join("memory")));
    }

    #[test]
    fn extra_folders_are_indexed_by_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let notes = dir.path().join("notes");
        fs::create_dir_all(&ws).unwrap();
        fs::create_dir_all(notes.join("deep")).unwrap();
        fs::write(notes.join("deep/idea.md"), "x").unwrap();
        let src = sources(&ws, &[notes.to_str().unwrap()]);
        let found = src.discover();
        assert_eq!(
            names(&src, &found),
            [notes.join("deep/idea.md").to_string_lossy()]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_outside_the_root_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let secret = dir.path().join("secret");
        fs::create_dir_all(ws.join("memory")).unwrap();
        fs::create_dir_all(&secret).unwrap();
        fs::write(secret.join("passwords.md"), "x").unwrap();
        fs::write(ws.join("memory/real.md"), "x").unwrap();
        std::os::unix::fs::symlink(&secret, ws.join("memory/escape")).unwrap();
        std::os::unix::fs::symlink(secret.join("passwords.md"), ws.join("memory/link.md")).unwrap();
        std::os::unix::fs::symlink(ws.join("memory/real.md"), ws.join("memory/alias.md")).unwrap();
        let src = sources(&ws, &[]);
        let found = src.discover();
        // The in-root alias is the same file as real.md and is indexed once.
        assert_eq!(found.files.len(), 1, "{:?}", names(&src, &found));
        assert!(
            !names(&src, &found)
                .iter()
                .any(|n| n.contains("passwords") || n.contains("escape"))
        );
    }

    #[test]
    fn a_big_tree_is_found_whole_and_in_walk_order() {
        // 300 folders of 5 notes: batches end on the folder limit and the batch size,
        // and large batches are read on several threads.
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let notes = dir.path().join("notes");
        fs::create_dir_all(&ws).unwrap();
        let mut expected = Vec::new();
        for folder in 0..300 {
            let folder = notes.join(format!("f{folder:03}"));
            fs::create_dir_all(&folder).unwrap();
            for note in 0..5 {
                let path = folder.join(format!("n{note}.md"));
                fs::write(&path, "x").unwrap();
                expected.push(path);
            }
            fs::write(folder.join("skip.txt"), "x").unwrap();
        }
        let found = sources(&ws, &[notes.to_str().unwrap()]).discover();
        let paths: Vec<_> = found.files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, expected);
        assert!(found.files.iter().all(|f| f.size == 1));
        let walked = found.dirs.iter().filter(|d| d.path.starts_with(&notes));
        assert_eq!(walked.count(), 301);
    }

    #[test]
    fn a_missing_root_is_recorded_so_its_creation_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let src = sources(dir.path(), &[]);
        let found = src.discover();
        assert!(found.files.is_empty());
        assert!(
            found
                .dirs
                .iter()
                .any(|d| d.path == dir.path().join("memory") && d.mtime_ns == 0)
        );
    }
}
