//! The daemon process: one per home folder, held by an exclusive lock on `daemon.pid`
//! for as long as it runs. The lock, not the file's existence, says whether a daemon is
//! alive, so a pid file left by a crash is stale by definition and simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::home::Home;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a daemon is already running for {home} (pid {pid}); `localgpt daemon stop` stops it")]
    Running { home: String, pid: u32 },
    #[error("no daemon is running for {0}")]
    NotRunning(String),
    #[error("cannot use the pid file {path}: {source}")]
    PidFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon did not start: {0}")]
    Start(String),
    #[error("the daemon (pid {pid}) did not stop within {seconds} s")]
    Stop { pid: u32, seconds: u64 },
}

/// Held by the running daemon; dropping it removes the pid file.
pub(crate) struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Takes the lock and writes our pid. `Ok(Some(pid))` in `stale` when a pid file was
    /// left behind by a daemon that is gone.
    pub(crate) fn acquire(home: &Home) -> Result<(PidLock, Option<u32>), DaemonError> {
        let path = home.pid_file();
        let fail = |source| DaemonError::PidFile {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(fail)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DaemonError::Running {
                    home: home.root().display().to_string(),
                    pid: read_pid(&mut file).unwrap_or(0),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(fail(err)),
        }
        let stale = read_pid(&mut file);
        file.set_len(0).map_err(fail)?;
        file.rewind().map_err(fail)?;
        writeln!(file, "{}", std::process::id()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        Ok((PidLock { file, path }, stale))
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Removed while still locked, so no other daemon can be using it.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// The pid of the daemon running for `home`, if one is (its pid file is locked).
pub(crate) fn running_pid(home: &Home) -> Result<Option<u32>, DaemonError> {
    let path = home.pid_file();
    let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DaemonError::PidFile { path, source }),
    };
    match file.try_lock() {
        Ok(()) => {
            // Nobody holds it: a stale file from a daemon that died.
            let _ = file.unlock();
            Ok(None)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(read_pid(&mut file).unwrap_or(0))),
        Err(std::fs::TryLockError::Error(source)) => Err(DaemonError::PidFile { path, source }),
    }
}

/// When the daemon started, from its pid file.
pub(crate) fn started_at(home: &Home) -> Option<std::time::SystemTime> {
    std::fs::metadata(home.pid_file()).ok()?.modified().ok()
}

/// Starts `localgpt daemon run` in the background, detached from the terminal, and waits
/// until it holds the lock.
pub fn spawn(home: &Home, log: &Path) -> Result<u32, DaemonError> {
    if let Some(pid) = running_pid(home)? {
        return Err(DaemonError::Running {
            home: home.root().display().to_string(),
            pid,
        });
    }
    let exe = std::env::current_exe().map_err(|err| DaemonError::Start(err.to_string()))?;
    let output = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|err| DaemonError::Start(format!("cannot open {}: {err}", log.display())))?;
    let errors = output
        .try_clone()
        .map_err(|err| DaemonError::Start(err.to_string()))?;
    let mut child = std::process::Command::new(exe)
        .arg("--home")
        .arg(home.root())
        .args(["daemon", "run", "--detach"])
        .stdin(std::process::Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .map_err(|err| DaemonError::Start(err.to_string()))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = running_pid(home)?
            && pid == child.id()
        {
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(DaemonError::Start(format!(
                "it exited at once ({status}); see {}",
                log.display()
            )));
        }
        if std::time::Instant::now() > deadline {
            return Err(DaemonError::Start(format!(
                "it did not take the pid file within 10 s; see {}",
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks the daemon to stop (SIGTERM) and waits for it; after `wait` it is killed.
pub fn stop(home: &Home, wait: Duration) -> Result<u32, DaemonError> {
    let Some(pid) = running_pid(home)? else {
        return Err(DaemonError::NotRunning(home.root().display().to_string()));
    };
    let process = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| DaemonError::NotRunning(home.root().display().to_string()))?;
    let _ = rustix::process::kill_process(process, rustix::process::Signal::TERM);
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        if running_pid(home)?.is_none() {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = rustix::process::kill_process(process, rustix::process::Signal::KILL);
    std::thread::sleep(Duration::from_millis(200));
    if running_pid(home)?.is_none() {
        return Ok(pid);
    }
    Err(DaemonError::Stop {
        pid,
        seconds: wait.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_home_and_stale_files_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::write(home.pid_file(), "999999\n").unwrap();
        assert_eq!(running_pid(&home).unwrap(), None);
        let (lock, stale) = PidLock::acquire(&home).unwrap();
        assert_eq!(stale, Some(999_999));
        assert_eq!(running_pid(&home).unwrap(), Some(std::process::id()));
        match PidLock::acquire(&home) {
            Err(DaemonError::Running { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Running, got {:?}", other.map(|_| ())),
        }
        drop(lock);
        assert!(!home.pid_file().exists());
        assert_eq!(running_pid(&home).unwrap(), None);
    }
}
