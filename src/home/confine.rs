//! The one rule for every door that opens the person's files (the tools, the API, the MCP
//! server, the web page, scripts, the prompt's memory): a path is resolved once to where
//! it really leads, that place must lie inside the allowed root, and the file is then
//! opened so that nothing on the way can have become a link since.
//!
//! A link inside the root that leads elsewhere inside it is fine (`alias.md` → `real.md`);
//! one that leads out, or nowhere (a dangling link would be written *through*, creating a
//! file wherever it points), is refused. On Linux the open itself is `openat2` with
//! `RESOLVE_NO_SYMLINKS` on the resolved path, so a link swapped in between the check and
//! the open is refused too; elsewhere, and on kernels before 5.6, `O_NOFOLLOW` guards the
//! last step.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{HomeError, resolve_under};

/// Where the absolute `path` really leads: its longest existing part canonicalised (links
/// followed), the rest appended as new names. Refused: a `..` below a folder that does
/// not exist (it cannot be judged) and a link that leads nowhere. The reason given does
/// not repeat the path unless it names a part of it.
pub(crate) fn real_path(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path;
    let mut rest: Vec<&OsStr> = Vec::new();
    let canonical = loop {
        match existing.canonicalize() {
            Ok(canonical) => break canonical,
            Err(_) => {
                if existing
                    .symlink_metadata()
                    .is_ok_and(|meta| meta.file_type().is_symlink())
                {
                    return Err(format!(
                        "{} is a link that leads nowhere; writing through it would create a \
                         file wherever it points",
                        existing.display()
                    ));
                }
                // `file_name` is `None` for a `..` (or the root).
                let Some(name) = existing.file_name() else {
                    return Err("the path does not exist up to a `..`".to_string());
                };
                rest.push(name);
                existing = existing
                    .parent()
                    .ok_or_else(|| "no part of this path exists".to_string())?;
            }
        }
    };
    let mut resolved = canonical;
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}

/// `relative` inside `root`, resolved to where it really leads, which must be inside
/// `root` too: the memory doors' rule (MEMORY.md, HEARTBEAT.md, the daily logs).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let root = dir.path().canonicalize()?;
/// std::fs::write(root.join("MEMORY.md"), "notes")?;
/// # #[cfg(unix)] {
/// std::os::unix::fs::symlink("/etc/passwd", root.join("k.md"))?;
/// assert!(localgpt::home::resolve_beneath(&root, "k.md").is_err());
/// # }
/// assert_eq!(localgpt::home::resolve_beneath(&root, "MEMORY.md")?, root.join("MEMORY.md"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve_beneath(root: &Path, relative: &str) -> Result<PathBuf, HomeError> {
    let joined = resolve_under(root, relative)?;
    let leads_out = |reason| HomeError::Escapes {
        path: relative.to_string(),
        reason,
        root: root.to_path_buf(),
    };
    let real_root = root
        .canonicalize()
        .map_err(|_| leads_out("is under a folder that does not exist"))?;
    let real = real_path(&joined).map_err(|_| leads_out("is a link that leads nowhere"))?;
    if real.starts_with(&real_root) {
        Ok(real)
    } else {
        Err(leads_out("leads out through a link"))
    }
}

/// Opens the file at `real` (a path [`real_path`] or [`resolve_beneath`] gave) for
/// reading, refusing it if any part of the path is a link now.
pub(crate) fn open_real(real: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let opened = rustix::fs::openat2(
            rustix::fs::CWD,
            real,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        );
        match opened {
            Ok(fd) => return Ok(File::from(fd)),
            // Kernels before 5.6 (and some seccomp profiles) lack openat2.
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {}
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::XDEV) => return Err(link_now(real)),
            Err(err) => return Err(err.into()),
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    open_no_follow(&mut options, real)
}

/// Opens `path` with `options`, never through a link at its last step (`O_NOFOLLOW`):
/// one there is refused, saying so.
pub(super) fn open_no_follow(options: &mut std::fs::OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits();
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            options,
            i32::try_from(nofollow).unwrap_or_default(),
        );
    }
    options.open(path).map_err(|err| {
        if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            link_now(path)
        } else {
            err
        }
    })
}

/// The whole file at `real`, as [`open_real`] opens it.
pub(crate) fn read_real(real: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_real(real)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_real`] as text (invalid UTF-8 is an error, as `fs::read_to_string` makes it).
pub(crate) fn read_real_to_string(real: &Path) -> io::Result<String> {
    let mut text = String::new();
    open_real(real)?.read_to_string(&mut text)?;
    Ok(text)
}

fn link_now(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is a link; not opened through it", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_inside_stay_and_links_out_or_nowhere_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("memory")).unwrap();
        std::fs::write(root.join("memory/real.md"), "mine").unwrap();
        std::fs::write(dir.path().join("secret"), "key").unwrap();
        symlink(root.join("memory/real.md"), root.join("memory/alias.md")).unwrap();
        symlink(dir.path().join("secret"), root.join("memory/k.md")).unwrap();
        symlink(dir.path().join("gone"), root.join("memory/dangling.md")).unwrap();
        symlink(dir.path(), root.join("up")).unwrap();
        let real_root = root.canonicalize().unwrap();
        assert_eq!(
            resolve_beneath(&root, "memory/alias.md").unwrap(),
            real_root.join("memory/real.md")
        );
        assert_eq!(
            resolve_beneath(&root, "memory/new.md").unwrap(),
            real_root.join("memory/new.md")
        );
        for hostile in [
            "memory/k.md",
            "memory/dangling.md",
            "up/secret",
            "up/new.md",
            "../secret",
        ] {
            assert!(resolve_beneath(&root, hostile).is_err(), "{hostile}");
        }
        let real = resolve_beneath(&root, "memory/alias.md").unwrap();
        assert_eq!(read_real_to_string(&real).unwrap(), "mine");
        // A path that is a link when opened is refused, whatever was checked before.
        let link = real_root.join("memory/k.md");
        assert!(read_real(&link).is_err());
        let through = real_root.join("up/secret");
        assert!(read_real(&through).is_err());
    }
}
