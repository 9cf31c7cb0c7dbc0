//! Changing a shared file under an advisory lock.
//!
//! The REPL, `localgpt ask`, a script and the daemon may all write to the same daily log
//! or MEMORY.md at the same moment. Each change takes an exclusive `flock`-style lock on
//! the file for its whole duration, so entries never interleave and none is lost.
//!
//! [`update_locked`] replaces the file atomically (rename), which gives the path a new
//! inode; a writer that was waiting on the old inode's lock notices when it gets the lock
//! and starts again on the new file, so no change is ever written into a replaced file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Appends `text` to the file at `path` as one indivisible entry, creating the file if
/// needed. A newline is added at the end when `text` lacks one, and at the start when the
/// file's last byte is not a newline.
///
/// The lock is advisory: it orders LocalGPT's own processes (and any other program that
/// locks), which is what keeps concurrent appends whole.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("2026-11-24.md");
/// localgpt::home::append_locked(&log, "- 09:00 met Ana about the launch")?;
/// localgpt::home::append_locked(&log, "- 09:30 launch moved to Friday")?;
/// assert_eq!(std::fs::read_to_string(&log)?.lines().count(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn append_locked(path: &Path, text: &str) -> io::Result<()> {
    append_locked_with(path, |_| text.to_string())
}

/// Like [`append_locked`], with the entry built while the lock is held: `make_entry` is
/// told whether the file is empty, so a header can be written exactly once even when
/// several processes create the file at the same moment.
pub(crate) fn append_locked_with(
    path: &Path,
    make_entry: impl FnOnce(bool) -> String,
) -> io::Result<()> {
    let mut file = lock_current(path, None)?;
    let result = append_entry(&mut file, make_entry);
    // Closing the file releases the lock too; unlocking first just makes it prompt.
    let unlocked = file.unlock();
    result.and(unlocked)
}

/// Rewrites the file at `path` (created empty if missing) as `change` says, under the
/// lock, replacing it atomically. Nothing is written when `change` returns the text as is.
pub(crate) fn update_locked(path: &Path, change: impl FnOnce(&str) -> String) -> io::Result<()> {
    try_update_locked(path, None, |old| Ok::<_, io::Error>(change(old))).map(drop)
}

/// [`update_locked`] for a change that can fail (then nothing is written) and for files
/// that must be created with `new_file_mode` (a config file holding keys: 0600). Returns
/// whether the file changed. Two processes changing one setting each both keep theirs:
/// the second reads what the first wrote.
pub(crate) fn try_update_locked<E: From<io::Error>>(
    path: &Path,
    new_file_mode: Option<u32>,
    change: impl FnOnce(&str) -> Result<String, E>,
) -> Result<bool, E> {
    let mut file = lock_current(path, new_file_mode)?;
    let result = (|| -> Result<bool, E> {
        let mut old = String::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_string(&mut old)?;
        let new = change(&old)?;
        if new == old {
            return Ok(false);
        }
        super::replace_real(path, new.as_bytes(), new_file_mode)?;
        Ok(true)
    })();
    let unlocked = file.unlock();
    let changed = result?;
    unlocked?;
    Ok(changed)
}

/// Opens `path` (creating it, with `new_file_mode` when given) and locks it, making sure
/// the lock is on the file the path names now and not on one replaced while we waited.
/// A link is never written through: who means to write where one leads resolves it first
/// (the config file kept in a dotfiles repository), and the doors that take paths from
/// outside ([`super::resolve_beneath`], the policy) refuse links that lead out.
fn lock_current(path: &Path, new_file_mode: Option<u32>) -> io::Result<File> {
    loop {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        if let Some(mode) = new_file_mode {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        }
        #[cfg(not(unix))]
        let _ = new_file_mode;
        let file = super::confine::open_no_follow(&mut options, path)?;
        file.lock()?;
        if is_same_file(&file, path)? {
            return Ok(file);
        }
    }
}

#[cfg(unix)]
fn is_same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(held.dev() == now.dev() && held.ino() == now.ino()),
        // Removed while we waited: take it again, which creates it afresh.
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(not(unix))]
fn is_same_file(_file: &File, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

fn append_entry(file: &mut File, make_entry: impl FnOnce(bool) -> String) -> io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    let text = make_entry(len == 0);
    let mut entry = String::with_capacity(text.len() + 2);
    if !ends_with_newline_or_is_empty(file)? {
        entry.push('\n');
    }
    entry.push_str(&text);
    if !text.ends_with('\n') {
        entry.push('\n');
    }
    // One write call for the whole entry: with O_APPEND the kernel places it at the end
    // atomically with respect to other appenders, and the lock covers writers that split.
    file.write_all(entry.as_bytes())?;
    file.flush()
}

fn ends_with_newline_or_is_empty(file: &mut File) -> io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn creates_the_file_and_terminates_each_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026-11-24.md");
        append_locked(&path, "- first").unwrap();
        append_locked(&path, "- second\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "- first\n- second\n");
    }

    #[test]
    fn starts_on_a_new_line_when_the_file_lacks_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("MEMORY.md");
        fs::write(&path, "# Memory\nedited by hand").unwrap();
        append_locked(&path, "- appended").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# Memory\nedited by hand\n- appended\n"
        );
    }

    #[test]
    fn the_header_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("day.md");
        for n in 0..3 {
            append_locked_with(&path, |empty| {
                let header = if empty { "# Day\n\n" } else { "" };
                format!("{header}- entry {n}")
            })
            .unwrap();
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# Day\n\n- entry 0\n- entry 1\n- entry 2\n"
        );
    }

    #[test]
    fn updates_and_appends_from_many_threads_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("MEMORY.md");
        std::thread::scope(|scope| {
            for writer in 0..2 {
                let path = &path;
                scope.spawn(move || {
                    for n in 0..100 {
                        append_locked(path, &format!("append {writer} {n}")).unwrap();
                    }
                });
                scope.spawn(move || {
                    for n in 0..100 {
                        update_locked(path, |old| format!("{old}update {writer} {n}\n")).unwrap();
                    }
                });
            }
        });
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 400, "{text}");
    }

    #[test]
    fn update_without_change_does_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("same.md");
        fs::write(&path, "keep\n").unwrap();
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        update_locked(&path, |old| old.to_string()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn concurrent_threads_lose_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.md");
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    for line in 0..250 {
                        append_locked(path, &format!("writer {writer} line {line}")).unwrap();
                    }
                });
            }
        });
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1000);
        assert!(text.lines().all(|line| line.starts_with("writer ")));
    }
}
