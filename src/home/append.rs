//! Appending to a shared file under an advisory lock.
//!
//! The REPL, `localgpt ask`, a script and the daemon may all append to the same daily log
//! at the same moment. Each append takes an exclusive `flock`-style lock on the file for
//! the duration of one entry, so entries never interleave and none is lost, and it starts
//! the entry on a fresh line even when a person left the file without a final newline.

use std::fs::{File, OpenOptions};
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
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    file.lock()?;
    let result = append_entry(&mut file, text);
    // Closing the file releases the lock too; unlocking first just makes it prompt.
    let unlocked = file.unlock();
    result.and(unlocked)
}

fn append_entry(file: &mut File, text: &str) -> io::Result<()> {
    let mut entry = String::with_capacity(text.len() + 2);
    if !ends_with_newline_or_is_empty(file)? {
        entry.push('\n');
    }
    entry.push_str(text);
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
