//! `localgpt sandbox check`: what the sandbox does here, proved by trying. A probe — this
//! same binary, `localgpt sandbox probe` — is started the way every shell command is (through
//! [`run_command`](super::run_command)), and attempts what a hostile command would: write
//! outside the allowed folders, read LocalGPT's settings and its environment, ptrace it,
//! weaken address randomisation, connect (to a port or a Unix socket) with the network
//! off, create a file in the home folder, leave a detached process running after it
//! ends. Each must be refused; a write to the private temp folder must work.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::SandboxMode;
use crate::policy::Policy;

/// One attempt and what came of it.
#[derive(Debug, Clone)]
pub(crate) struct Trial {
    pub what: String,
    /// Whether the sandbox should refuse it.
    pub should_refuse: bool,
    /// `Err` holds why it was refused.
    pub outcome: Result<(), String>,
}

impl Trial {
    pub(crate) fn as_expected(&self) -> bool {
        self.outcome.is_err() == self.should_refuse
    }
}

/// What a probe attempts (each field: the target, or nothing to skip the trial).
#[derive(Debug, Default, Clone)]
pub(crate) struct Attempts {
    pub write_outside: Option<PathBuf>,
    pub write_temp: Option<PathBuf>,
    pub read: Option<PathBuf>,
    pub environ_of: Option<u32>,
    pub ptrace: Option<u32>,
    pub personality: bool,
    pub connect: Option<std::net::SocketAddr>,
    /// A Unix socket listening outside the sandbox.
    pub connect_unix: Option<PathBuf>,
    /// A new file in the person's home folder (where login scripts live).
    pub write_home: Option<PathBuf>,
    /// A file a detached (`setsid`) child locks and holds after the probe ends.
    pub leave_behind: Option<PathBuf>,
}

/// Runs the trials under `policy` (its `tools.sandbox` taken as `"auto"` when it is
/// `"off"`, to show what the sandbox would do). `secret` is a file commands must not read.
pub(crate) async fn run_trials(policy: &Policy, secret: &Path) -> Result<Vec<Trial>, String> {
    // The probe is LocalGPT's own program, run because the person asked for the check:
    // whatever the policy says of commands the model or a task would run.
    let mut policy = policy
        .clone()
        .with_approval(crate::config::ApprovalMode::Auto)
        .with_commands(true);
    if policy.sandbox == SandboxMode::Off {
        policy.sandbox = SandboxMode::Auto;
    }
    let localgpt = std::process::id();
    let outside = folder_outside(&policy)?;
    let temp = policy.temp_dir().join("sandbox-check");
    let home_file = dirs::home_dir()
        .map(|home| home.join(format!(".localgpt-sandbox-check-{}", std::process::id())));
    let lock_dir =
        tempfile::tempdir().map_err(|err| format!("cannot make a temp folder: {err}"))?;
    // In the commands' own temp folder, which the probe may write.
    let lock_file = policy.temp_dir().join(format!("held-{localgpt}"));
    std::fs::create_dir_all(policy.temp_dir())
        .and_then(|()| std::fs::write(&lock_file, ""))
        .map_err(|err| format!("cannot make {}: {err}", lock_file.display()))?;
    let confined = Attempts {
        write_outside: outside.as_ref().map(|dir| dir.path().join("escaped")),
        read: Some(secret.to_path_buf()),
        environ_of: Some(localgpt),
        ptrace: Some(localgpt),
        personality: true,
        write_home: home_file.clone(),
        leave_behind: Some(lock_file.clone()),
        ..Attempts::default()
    };
    let mut trials = probe(&policy, &confined).await?;
    if let Some(home_file) = &home_file {
        let _ = std::fs::remove_file(home_file);
        let home_writable = home_file.parent().is_some_and(|home| {
            policy
                .writable_roots()
                .iter()
                .any(|root| home.canonicalize().is_ok_and(|home| home.starts_with(root)))
        });
        for trial in &mut trials {
            if trial.what.starts_with("create a file in your home folder") {
                trial.should_refuse = !home_writable;
            }
        }
    }
    let held = is_held(&lock_file);
    let _ = std::fs::remove_file(&lock_file);
    trials.push(Trial {
        what: "leave a detached (setsid) process running after the command".to_string(),
        should_refuse: !policy.background_jobs,
        outcome: if held {
            Ok(())
        } else {
            Err("ended with the command".to_string())
        },
    });
    trials.extend(
        probe(
            &policy,
            &Attempts {
                write_temp: Some(temp),
                ..Attempts::default()
            },
        )
        .await?,
    );
    // With the network off, even this machine's own services are out of reach.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|err| format!("cannot open a local port to connect to: {err}"))?;
    let address = listener
        .local_addr()
        .map_err(|err| format!("cannot open a local port to connect to: {err}"))?;
    // And so are Unix sockets: the session bus, `docker.sock`.
    let socket = lock_dir.path().join("listening.sock");
    let _listening = std::os::unix::net::UnixListener::bind(&socket)
        .map_err(|err| format!("cannot open a Unix socket to connect to: {err}"))?;
    let mut offline = policy.clone();
    offline.network = false;
    trials.extend(
        probe(
            &offline,
            &Attempts {
                connect: Some(address),
                connect_unix: Some(socket),
                ..Attempts::default()
            },
        )
        .await?,
    );
    Ok(trials)
}

/// Whether a process still holds the lock on `path` (a detached child of the probe that
/// outlived it). Such a survivor is ended here: it wrote its process id into the file.
fn is_held(path: &Path) -> bool {
    use rustix::fs::{FlockOperation, flock};
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
        return false;
    }
    let survivor = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = survivor {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    true
}

/// A new folder the sandbox must not let commands write: in the system's temp folder, or
/// the person's home when that one is writable (LocalGPT started from `/tmp`).
fn folder_outside(policy: &Policy) -> Result<Option<tempfile::TempDir>, String> {
    let candidates = [Some(std::env::temp_dir()), dirs::home_dir()];
    for parent in candidates.into_iter().flatten() {
        let Ok(parent) = parent.canonicalize() else {
            continue;
        };
        if policy
            .writable_roots()
            .iter()
            .any(|root| parent.starts_with(root))
        {
            continue;
        }
        return tempfile::Builder::new()
            .prefix("localgpt-sandbox-check")
            .tempdir_in(&parent)
            .map(Some)
            .map_err(|err| format!("cannot make a folder in {}: {err}", parent.display()));
    }
    Ok(None)
}

/// Starts this binary as `localgpt sandbox probe …`, as any shell command is started, and
/// reads what it reports.
async fn probe(policy: &Policy, attempts: &Attempts) -> Result<Vec<Trial>, String> {
    let exe = std::env::current_exe()
        .map_err(|err| format!("cannot find this program to start the probe: {err}"))?;
    let mut words = vec![shell_quote(&exe.to_string_lossy()), "sandbox probe".into()];
    let mut flag = |name: &str, value: String| {
        words.push(format!("--{name}"));
        if !value.is_empty() {
            words.push(shell_quote(&value));
        }
    };
    if let Some(path) = &attempts.write_outside {
        flag("write-outside", path.to_string_lossy().into_owned());
    }
    if let Some(path) = &attempts.write_temp {
        flag("write-temp", path.to_string_lossy().into_owned());
    }
    if let Some(path) = &attempts.read {
        flag("read", path.to_string_lossy().into_owned());
    }
    if let Some(pid) = attempts.environ_of {
        flag("environ-of", pid.to_string());
    }
    if let Some(pid) = attempts.ptrace {
        flag("ptrace", pid.to_string());
    }
    if attempts.personality {
        flag("personality", String::new());
    }
    if let Some(address) = attempts.connect {
        flag("connect", address.to_string());
    }
    for (name, path) in [
        ("connect-unix", &attempts.connect_unix),
        ("write-home", &attempts.write_home),
        ("leave-behind", &attempts.leave_behind),
    ] {
        if let Some(path) = path {
            flag(name, path.to_string_lossy().into_owned());
        }
    }
    let result = super::run_command(&words.join(" "), policy, Duration::from_secs(30), false)
        .await
        .map_err(|err| format!("cannot start the probe: {err}"))?;
    if result.status != 0 {
        return Err(format!(
            "the probe failed (exit status {}): {}",
            result.status,
            result.stderr.trim()
        ));
    }
    Ok(parse_report(&result.stdout, attempts))
}

fn parse_report(report: &str, attempts: &Attempts) -> Vec<Trial> {
    report
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (name, verdict, detail) = (fields.next()?, fields.next()?, fields.next()?);
            let (what, should_refuse) = describe(name, attempts)?;
            let outcome = match verdict {
                "refused" => Err(detail.to_string()),
                _ => Ok(()),
            };
            Some(Trial {
                what,
                should_refuse,
                outcome,
            })
        })
        .collect()
}

fn describe(name: &str, attempts: &Attempts) -> Option<(String, bool)> {
    let shown = |path: &Option<PathBuf>| {
        path.as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    Some(match name {
        "write-outside" => (
            format!(
                "write outside the allowed folders ({})",
                shown(&attempts.write_outside)
            ),
            true,
        ),
        "write-temp" => (
            format!(
                "write in the private temp folder ({})",
                shown(&attempts.write_temp)
            ),
            false,
        ),
        "read" => (
            format!("read LocalGPT's settings ({})", shown(&attempts.read)),
            true,
        ),
        "environ" => (
            "read LocalGPT's environment (/proc/PID/environ)".to_string(),
            true,
        ),
        "ptrace" => ("ptrace LocalGPT".to_string(), true),
        "personality" => (
            "turn off address randomisation (personality)".to_string(),
            true,
        ),
        "connect" => (
            format!(
                "connect to this machine ({}) with the network off",
                attempts.connect.map(|a| a.to_string()).unwrap_or_default()
            ),
            true,
        ),
        "connect-unix" => (
            format!(
                "connect to a Unix socket ({}) with the network off",
                shown(&attempts.connect_unix)
            ),
            true,
        ),
        "write-home" => (
            format!(
                "create a file in your home folder, where login scripts live ({})",
                shown(&attempts.write_home)
            ),
            true,
        ),
        _ => return None,
    })
}

/// Quotes `text` for `sh`, whatever it holds.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl fmt::Display for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Err(why) => write!(f, "{}: refused ({why})", self.what),
            Ok(()) => write!(f, "{}: done", self.what),
        }
    }
}

/// The probe's side, inside the sandbox: makes each attempt and prints
/// `name<TAB>allowed|refused<TAB>detail` per line.
pub(crate) fn run_probe(attempts: &Attempts) -> String {
    let mut lines = Vec::new();
    let mut record = |name: &str, result: Result<(), String>| {
        let line = match result {
            Ok(()) => format!("{name}\tallowed\t"),
            Err(why) => format!("{name}\trefused\t{why}"),
        };
        lines.push(line);
    };
    let show = |err: std::io::Error| err.to_string();
    let write = |path: &Path| {
        std::fs::write(path, "probe")
            .map(|()| {
                let _ = std::fs::remove_file(path);
            })
            .map_err(show)
    };
    if let Some(path) = &attempts.write_outside {
        record("write-outside", write(path));
    }
    if let Some(path) = &attempts.write_temp {
        record("write-temp", write(path));
    }
    if let Some(path) = &attempts.read {
        record("read", std::fs::read(path).map(drop).map_err(show));
    }
    if let Some(pid) = attempts.environ_of {
        record(
            "environ",
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(drop)
                .map_err(show),
        );
    }
    if let Some(pid) = attempts.ptrace {
        record("ptrace", os::ptrace_attach(pid));
    }
    if attempts.personality {
        record("personality", os::no_randomisation());
    }
    if let Some(address) = attempts.connect {
        record(
            "connect",
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5))
                .map(drop)
                .map_err(show),
        );
    }
    if let Some(path) = &attempts.connect_unix {
        record(
            "connect-unix",
            std::os::unix::net::UnixStream::connect(path)
                .map(drop)
                .map_err(show),
        );
    }
    if let Some(path) = &attempts.write_home {
        record("write-home", write(path));
    }
    if let Some(path) = &attempts.leave_behind {
        // Not a verdict of its own: the check looks after the probe has ended.
        if let Err(err) = os::leave_behind(path) {
            lines.push(format!("leave-behind\tfailed\t{err}"));
        }
    }
    lines.join("\n")
}

#[cfg(target_os = "linux")]
mod os {
    use std::path::Path;

    /// Starts a detached child (a session of its own, as `setsid` makes) that locks
    /// `path`, writes its process id into it and waits; returns once the lock is held.
    pub(crate) fn leave_behind(path: &Path) -> Result<(), String> {
        use rustix::fs::{FlockOperation, flock};
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|err| err.to_string())?;
        let (ready_read, ready_write) = rustix::pipe::pipe().map_err(|err| err.to_string())?;
        // SAFETY: the probe runs no other threads that hold locks the child needs; the
        // child makes only system calls and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        if pid == 0 {
            let _ = rustix::process::setsid();
            if flock(&file, FlockOperation::LockExclusive).is_ok() {
                let _ = write!(file, "{}", std::process::id());
                let _ = rustix::io::write(&ready_write, b"1");
                loop {
                    // SAFETY: pause takes no arguments; it waits for a signal that ends us.
                    unsafe { libc::pause() };
                }
            }
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(1) };
        }
        drop(ready_write);
        let mut ready = [0_u8; 1];
        match rustix::io::read(&ready_read, &mut ready) {
            Ok(1) => Ok(()),
            _ => Err("the detached child could not lock its file".to_string()),
        }
    }

    /// Attaches to `pid` and lets go at once.
    pub(crate) fn ptrace_attach(pid: u32) -> Result<(), String> {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return Err("no such process".to_string());
        };
        let null = std::ptr::null_mut::<libc::c_void>();
        // SAFETY: PTRACE_ATTACH and PTRACE_DETACH take no pointers.
        let attached = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, null, null) };
        if attached == -1 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: as above.
        unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, null, null) };
        Ok(())
    }

    /// Asks for the personality flag that turns address randomisation off.
    pub(crate) fn no_randomisation() -> Result<(), String> {
        let flag = libc::c_ulong::try_from(libc::ADDR_NO_RANDOMIZE).unwrap_or_default();
        // SAFETY: personality takes and returns plain integers.
        if unsafe { libc::personality(flag) } == -1 {
            Err(std::io::Error::last_os_error().to_string())
        } else {
            Ok(())
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub(crate) fn leave_behind(_path: &std::path::Path) -> Result<(), String> {
        Ok(())
    }

    pub(crate) fn ptrace_attach(_pid: u32) -> Result<(), String> {
        Ok(())
    }

    pub(crate) fn no_randomisation() -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_any_text_one_word() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
