//! The filesystem half of the sandbox, with Landlock: a command may read and run
//! everything except the protected places (LocalGPT's own files, credential stores), and
//! write only in the allowed roots (the workspace, the current folder,
//! `tools.allowed_paths`), its private temporary folder and the usual devices. It cannot
//! signal processes outside the sandbox, and — Landlock scopes ptrace too — cannot read the
//! memory or `/proc/PID/environ` of LocalGPT itself, even as root.
//!
//! Landlock grants, it never denies, and a grant covers a whole hierarchy: "everything
//! but ~/.ssh" is granted as every entry of `/` except the one leading to `~/.ssh`, then
//! every entry of that one except the next, and so on down to `~/.ssh`'s siblings. The
//! folders on the way can still be listed (a grant of listing is hierarchical too), so a
//! protected folder's names show; its contents do not.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetError, Scope,
};

/// The ABI whose rights are asked for; an older kernel gets what it supports (the mode
/// decides whether that is good enough).
const ABI_ASKED: ABI = ABI::V6;

/// Devices every program writes to, one way or another.
const DEVICES: [&str; 7] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

/// What a command may touch.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    /// Readable and writable (canonical): the allowed roots and the private temp folder.
    /// A root inside a protected place (the workspace, inside LocalGPT's home) is an
    /// exception made on purpose; protected places inside a root stay out.
    pub writable: Vec<PathBuf>,
    /// Never readable or writable (canonical).
    pub protected: Vec<PathBuf>,
    /// With the network off, abstract Unix sockets outside the sandbox are out of reach
    /// too (they are named, not files, so the filesystem rules do not cover them).
    pub network: bool,
    /// The protected places inside writable folders are covered by mounts, so the
    /// folders are granted whole rather than carved around them (a carved folder's own
    /// entries cannot be created or removed).
    pub writable_whole: bool,
}

/// The ruleset for `reach`, created and filled (in the parent; the child only applies
/// it, which allocates nothing).
pub(crate) fn ruleset(reach: &Reach) -> Result<RulesetCreated, RulesetError> {
    let read = AccessFs::from_read(ABI_ASKED);
    let all = AccessFs::from_all(ABI_ASKED);
    let scopes = if reach.network {
        BitFlags::from(Scope::Signal)
    } else {
        Scope::Signal | Scope::AbstractUnixSocket
    };
    let mut created = Ruleset::default()
        .handle_access(all)?
        .scope(scopes)?
        .create()?;
    for path in carve(Path::new("/"), &reach.protected) {
        created = add(created, &path, read)?;
    }
    for folder in listing_only(&reach.protected) {
        created = add(created, &folder, BitFlags::from(AccessFs::ReadDir))?;
    }
    for root in &reach.writable {
        if reach.writable_whole {
            created = add(created, root, all)?;
        } else {
            for path in carve(root, &reach.protected) {
                created = add(created, &path, all)?;
            }
        }
    }
    for device in DEVICES {
        created = add(created, Path::new(device), all)?;
    }
    Ok(created)
}

/// Grants `access` on `path`, restricted to what applies to its kind (a file takes no
/// folder rights). A path that vanished meanwhile is skipped.
fn add(
    created: RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
) -> Result<RulesetCreated, RulesetError> {
    let Ok(fd) = PathFd::new(path) else {
        return Ok(created);
    };
    let access = if path.is_dir() {
        access
    } else {
        access
            & (AccessFs::Execute
                | AccessFs::ReadFile
                | AccessFs::WriteFile
                | AccessFs::Truncate
                | AccessFs::IoctlDev)
    };
    created.add_rule(PathBeneath::new(fd, access))
}

/// The largest paths under `root` that hold nothing protected: `root` itself when nothing
/// protected is inside it, else its entries, carved the same way, leaving the protected
/// ones out. Nothing when `root` is itself a protected place.
pub(crate) fn carve(root: &Path, protected: &[PathBuf]) -> Vec<PathBuf> {
    if protected.iter().any(|place| place == root) {
        return Vec::new();
    }
    if !protected.iter().any(|place| place.starts_with(root)) {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|entry| carve(entry, protected))
        .collect()
}

/// The folders between `/` and each protected place: they are carved into their entries,
/// so they need listing granted themselves.
fn listing_only(protected: &[PathBuf]) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = protected
        .iter()
        .flat_map(|place| place.ancestors().skip(1).map(Path::to_path_buf))
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carving_leaves_out_the_protected_and_keeps_the_rest_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for folder in ["a/b", "a/secret/inner", "c", "home/.localgpt/workspace"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(root.join("a/file.txt"), "x").unwrap();
        let protected = vec![root.join("a/secret"), root.join("home/.localgpt")];
        let carved = carve(&root, &protected);
        assert_eq!(
            carved,
            [root.join("a/b"), root.join("a/file.txt"), root.join("c")]
        );
        assert!(carve(&root.join("a/secret"), &protected).is_empty());
        assert_eq!(carve(&root.join("c"), &protected), [root.join("c")]);
        // The workspace is an exception inside a protected place, granted whole.
        let workspace = root.join("home/.localgpt/workspace");
        assert_eq!(carve(&workspace, &protected), [workspace]);
        let listing = listing_only(&protected);
        assert!(listing.contains(&root.join("a")) && listing.contains(&root.join("home")));
        assert!(!listing.contains(&root.join("a/secret")));
    }
}
