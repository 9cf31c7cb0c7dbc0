//! Walking one root's folders for `sources`: the entries of each folder in name order,
//! their metadata read relative to the open folder, in batches over the cores.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::GlobMatcher;

use super::{
    DirStamp, Discovery, FileIdentity, Root, is_skipped_dir, mtime_ns, push_unique,
    source_file_with,
};

/// One root's walk. Not walkdir: a search walks every folder each time, and walkdir
/// `stat`s by full path (the kernel resolves every component again, for every file),
/// where a directory entry's metadata is read relative to the open folder.
pub(super) struct Walk<'a> {
    root: &'a Root,
    matcher: &'a GlobMatcher,
    canonical_base: PathBuf,
    discovery: &'a mut Discovery,
    seen: &'a mut HashSet<FileIdentity>,
    /// The folders being walked, outermost first: a link back to one of them is a loop.
    open_folders: Vec<FileIdentity>,
    /// Matching files whose metadata is still to be read, in walk order.
    pending: Vec<(PathBuf, std::fs::DirEntry)>,
    /// How many folders the pending entries come from: each holds its folder open.
    pending_folders: usize,
    /// How many times the pending entries were read, so a folder knows whether it is
    /// already counted among the pending ones.
    flushes: usize,
}

/// Metadata is read in batches, spread over the cores when a batch is large: a `stat`
/// is a system call of a microsecond or two, and a search of a big folder makes thousands.
const BATCH: usize = 1024;
/// A batch smaller than this is read on the walking thread alone (a thread costs more).
const PARALLEL_FROM: usize = 256;
/// Each pending entry keeps its folder's descriptor open; well under the usual limit of
/// 1,024 open files.
const MAX_PENDING_FOLDERS: usize = 128;

/// Deeper than this, a folder tree is a mistake or a trap, not notes.
const MAX_DEPTH: usize = 64;

impl<'a> Walk<'a> {
    pub(super) fn new(
        root: &'a Root,
        matcher: &'a GlobMatcher,
        canonical_base: PathBuf,
        discovery: &'a mut Discovery,
        seen: &'a mut HashSet<FileIdentity>,
        root_meta: &std::fs::Metadata,
    ) -> Walk<'a> {
        Walk {
            root,
            matcher,
            canonical_base,
            discovery,
            seen,
            open_folders: vec![FileIdentity::of(&root.base, root_meta)],
            pending: Vec::new(),
            pending_folders: 0,
            flushes: 0,
        }
    }

    /// Walks the root's folder and records what it finds.
    pub(super) fn run(mut self) {
        let base = self.root.base.clone();
        self.folder(&base);
        self.flush();
    }

    /// Walks one folder, its entries in name order (so the index is built in the same
    /// order every time). Unreadable entries are skipped.
    fn folder(&mut self, dir: &Path) {
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<(std::ffi::OsString, std::fs::DirEntry)> = read
            .filter_map(Result::ok)
            .map(|entry| (entry.file_name(), entry))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut counted_in = None;
        for (name, entry) in entries {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            let followed = if file_type.is_symlink() {
                match self.follow(&path) {
                    Some(meta) => Some(meta),
                    None => continue,
                }
            } else {
                None
            };
            let is_dir = followed
                .as_ref()
                .map_or(file_type.is_dir(), std::fs::Metadata::is_dir);
            if is_dir {
                self.subfolder(&path, &name, followed.or_else(|| entry.metadata().ok()));
                continue;
            }
            let Ok(relative) = path.strip_prefix(&self.root.base) else {
                continue;
            };
            if !self.matcher.is_match(relative) {
                continue;
            }
            match followed {
                Some(meta) => {
                    // A followed link: its target's metadata is already read, and files
                    // must stay in walk order.
                    self.flush();
                    self.found(path, &meta);
                }
                None => {
                    if counted_in != Some(self.flushes) {
                        counted_in = Some(self.flushes);
                        self.pending_folders += 1;
                    }
                    self.pending.push((path, entry));
                    if self.pending.len() >= BATCH || self.pending_folders >= MAX_PENDING_FOLDERS {
                        self.flush();
                    }
                }
            }
        }
    }

    fn found(&mut self, path: PathBuf, meta: &std::fs::Metadata) {
        if meta.is_file() {
            let file = source_file_with(path, meta);
            push_unique(self.discovery, self.seen, file);
        }
    }

    /// Reads the pending entries' metadata (relative to their open folders) and records
    /// the files, in walk order.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.pending_folders = 0;
        self.flushes += 1;
        let metas = metadata_of(&pending);
        for ((path, _), meta) in pending.into_iter().zip(metas) {
            if let Some(meta) = meta {
                self.found(path, &meta);
            }
        }
    }

    fn subfolder(&mut self, path: &Path, name: &std::ffi::OsStr, meta: Option<std::fs::Metadata>) {
        if is_skipped_dir(name) {
            return;
        }
        let Some(meta) = meta else {
            return;
        };
        let identity = FileIdentity::of(path, &meta);
        if self.open_folders.contains(&identity) || self.open_folders.len() > MAX_DEPTH {
            tracing::debug!("not walking {}: a loop or too deep", path.display());
            return;
        }
        self.discovery.dirs.push(DirStamp {
            path: path.to_path_buf(),
            mtime_ns: mtime_ns(&meta),
        });
        self.open_folders.push(identity);
        self.folder(path);
        self.open_folders.pop();
    }

    /// A link is followed only when its target stays inside the root.
    fn follow(&self, path: &Path) -> Option<std::fs::Metadata> {
        let inside = path
            .canonicalize()
            .is_ok_and(|target| target.starts_with(&self.canonical_base));
        if !inside {
            tracing::debug!(
                "not following {}: it leads outside {}",
                path.display(),
                self.root.base.display()
            );
            return None;
        }
        std::fs::metadata(path).ok()
    }
}

fn metadata_of(entries: &[(PathBuf, std::fs::DirEntry)]) -> Vec<Option<std::fs::Metadata>> {
    let read = |part: &[(PathBuf, std::fs::DirEntry)]| -> Vec<Option<std::fs::Metadata>> {
        part.iter()
            .map(|(_, entry)| entry.metadata().ok())
            .collect()
    };
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads =
        *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
    if entries.len() < PARALLEL_FROM || threads == 1 {
        return read(entries);
    }
    let part_len = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = entries.chunks(part_len);
        let own = parts.next().unwrap_or_default();
        let helpers: Vec<_> = parts.map(|part| scope.spawn(move || read(part))).collect();
        let mut all = read(own);
        for helper in helpers {
            // A helper that panicked read nothing; its files count as unreadable.
            match helper.join() {
                Ok(metas) => all.extend(metas),
                Err(_) => all.resize(all.len() + part_len, None),
            }
        }
        all.truncate(entries.len());
        all
    })
}
