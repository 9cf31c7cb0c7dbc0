//! Atomic replacement of a file's contents.
//!
//! A user's config, MEMORY.md or a file the assistant edits must never be left half
//! written: a crash, a full disk or a kill at any moment leaves either the old contents or
//! the new, nothing in between. The recipe is the classic one: write a temporary file in
//! the same folder, fsync it, rename it over the target, fsync the folder.

use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces the contents of `path` with `contents`, atomically.
///
/// - An existing file keeps its permissions (a `0600` config stays private).
/// - A new file is created with mode `0666` less the umask, like any other new file.
/// - A symlink is followed, so the file it points to is replaced and the link survives
///   (people keep their config in a dotfiles repository).
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, contents, None)
}

/// Like [`write_atomic`], but a *new* file gets `new_file_mode` (e.g. `0o600` for a file
/// that may hold secrets). An existing file always keeps its own permissions.
pub(crate) fn write_atomic_with_mode(
    path: &Path,
    contents: &[u8],
    new_file_mode: Option<u32>,
) -> io::Result<()> {
    replace_real(&follow_symlink(path)?, contents, new_file_mode)
}

/// Replaces the file at `target` — a path the policy or [`super::resolve_beneath`]
/// resolved — atomically, never through a link: one swapped in there since the check is
/// replaced itself (a rename does not follow the name it replaces), not the file it
/// points to.
pub(crate) fn replace_real(
    target: &Path,
    contents: &[u8],
    new_file_mode: Option<u32>,
) -> io::Result<()> {
    let dir = parent_dir(target);
    let file_name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;

    let existing_permissions = match fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_symlink() => None,
        Ok(meta) => Some(meta.permissions()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    let creation_permissions = existing_permissions
        .clone()
        .or_else(|| new_file_permissions(new_file_mode));

    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    if let Some(permissions) = creation_permissions {
        builder.permissions(permissions);
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(contents)?;
    if let Some(permissions) = existing_permissions {
        // The umask may have narrowed the mode at creation; an existing file's mode wins.
        fs::set_permissions(temp.path(), permissions)?;
    }
    temp.as_file().sync_all()?;
    temp.persist(target).map_err(|err| err.error)?;
    sync_dir(dir)
}

fn follow_symlink(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(real) => Ok(real),
            // A dangling link: write where it points, creating the file there.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let link = fs::read_link(path)?;
                Ok(parent_dir(path).join(link))
            }
            Err(err) => Err(err),
        },
        _ => Ok(path.to_path_buf()),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn new_file_permissions(mode: Option<u32>) -> Option<Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(Permissions::from_mode(mode.unwrap_or(0o666)))
}

#[cfg(not(unix))]
fn new_file_permissions(_mode: Option<u32>) -> Option<Permissions> {
    None
}

/// Makes the rename itself durable: without this a power loss can forget the new entry.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("note.md");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("note.md")]);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_of_an_existing_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_atomic_with_mode(&path, b"new", Some(0o600)).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn new_file_gets_the_requested_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        write_atomic_with_mode(&path, b"secret", Some(0o600)).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_a_symlink_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-config.toml");
        let link = dir.path().join("config.toml");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn a_resolved_path_is_never_written_through_a_link_swapped_in_later() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("bashrc");
        fs::write(&outside, "mine").unwrap();
        let checked = dir.path().join("note.md");
        std::os::unix::fs::symlink(&outside, &checked).unwrap();
        replace_real(&checked, b"new", None).unwrap();
        assert_eq!(fs::read_to_string(&outside).unwrap(), "mine");
        assert!(!fs::symlink_metadata(&checked).unwrap().is_symlink());
        assert_eq!(fs::read_to_string(&checked).unwrap(), "new");
    }

    #[test]
    fn fails_cleanly_when_the_folder_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("file.txt");
        assert!(write_atomic(&path, b"x").is_err());
        assert!(!path.exists());
    }
}
