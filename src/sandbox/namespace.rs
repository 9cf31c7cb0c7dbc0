//! Namespaces, for three things Landlock alone cannot do:
//!
//! - A command's processes end with it: it runs as the first process of a PID namespace
//!   of its own, and when that one ends — the command finished, or was stopped at its
//!   time limit or the end of the turn — the kernel ends every process left in it: a
//!   background job (`server &`), a `setsid` child, a double fork. A process group alone
//!   lets all of those live on.
//! - The network off (`tools.bash_network = false`): the command runs in a network
//!   namespace of its own, with no interface but a loopback that is down — no connection
//!   to the internet, the local network or this machine's own services.
//! - Protected places inside a writable folder (LocalGPT started in the home folder,
//!   which holds `~/.ssh` and `~/.localgpt`): Landlock grants whole hierarchies, so a
//!   folder whose entries may be created and removed cannot keep one subfolder closed. In
//!   a mount namespace of its own, the command sees an empty folder mounted over each
//!   protected one (`/dev/null` over a protected file), with the parts LocalGPT opens on
//!   purpose (the workspace, the commands' temp folder) mounted back; the folder around
//!   them can then be granted whole. Landlock forbids changing mounts afterwards.
//!
//! An unprivileged process makes them inside a new user namespace, where it keeps its own
//! user and group ids. Everything here runs in the child between `fork` and `exec`, where
//! only async-signal-safe work is allowed: paths and id maps are prepared in the parent,
//! and nothing allocates.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags};
use rustix::thread::UnshareFlags;

/// Folders shown again inside one covered place, at most (the workspace and the
/// commands' temp folder, inside LocalGPT's home).
const MAX_REOPENED: usize = 4;

/// A protected place to cover, and the folders directly inside it to show again.
#[derive(Debug)]
struct Cover {
    target: CString,
    is_dir: bool,
    reopened: Vec<CString>,
}

/// What the child enters, prepared in the parent.
#[derive(Debug)]
pub(crate) struct Isolation {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    own_network: bool,
    /// Whether the command's processes are held in a PID namespace (see
    /// [`Isolation::hold_processes`]).
    own_pids: bool,
    covers: Vec<Cover>,
}

impl Isolation {
    /// A user namespace mapping this process's own ids to themselves; with `own_pids`, a
    /// PID namespace; with `own_network`, a network of its own; with `covered`, a mount
    /// namespace where those places are covered except the `reopened` folders directly
    /// inside them.
    pub fn new(
        own_pids: bool,
        own_network: bool,
        covered: &[PathBuf],
        reopened: &[PathBuf],
    ) -> Result<Isolation, String> {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        let mut covers = Vec::new();
        for place in covered {
            let reopened = reopened
                .iter()
                .filter(|folder| folder.parent() == Some(place))
                .map(|folder| c_path(folder))
                .collect::<Result<Vec<_>, _>>()?;
            if reopened.len() > MAX_REOPENED {
                return Err(format!(
                    "too many folders to show inside {}",
                    place.display()
                ));
            }
            covers.push(Cover {
                target: c_path(place)?,
                is_dir: place.is_dir(),
                reopened,
            });
        }
        Ok(Isolation {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            own_network,
            own_pids,
            covers,
        })
    }

    pub(crate) fn holds_processes(&self) -> bool {
        self.own_pids
    }

    /// Enters the namespaces (in the child, before `exec`).
    pub(crate) fn enter(&self) -> rustix::io::Result<()> {
        // LocalGPT is not dumpable (its /proc files are root's), and a child inherits
        // that until `exec`: its own id maps would be unwritable. The child holds a copy
        // of LocalGPT's memory until `exec`; other sandboxed commands cannot reach it
        // (Landlock scopes ptrace), and they are the ones a model could steer.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)?;
        let mut flags = UnshareFlags::NEWUSER;
        if self.own_pids {
            flags |= UnshareFlags::NEWPID;
        }
        if self.own_network {
            flags |= UnshareFlags::NEWNET;
        }
        if !self.covers.is_empty() {
            flags |= UnshareFlags::NEWNS;
        }
        // SAFETY: the child has one thread, so no other thread can see its file
        // descriptor table change (no FILES flag is passed anyway).
        unsafe { rustix::thread::unshare_unsafe(flags) }?;
        write_all(c"/proc/self/setgroups", b"deny")?;
        write_all(c"/proc/self/uid_map", &self.uid_map)?;
        write_all(c"/proc/self/gid_map", &self.gid_map)?;
        if self.covers.is_empty() {
            return Ok(());
        }
        // Nothing mounted here may propagate back out (it cannot, from a namespace owned
        // by a less privileged user, but the kernel wants it said).
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )?;
        for cover in &self.covers {
            // The folders to show again, taken (as detached copies of their mounts)
            // before they are covered.
            let mut trees: [Option<OwnedFd>; MAX_REOPENED] = Default::default();
            for (tree, folder) in trees.iter_mut().zip(&cover.reopened) {
                *tree = Some(rustix::mount::open_tree(
                    rustix::fs::CWD,
                    folder.as_c_str(),
                    OpenTreeFlags::OPEN_TREE_CLONE
                        | OpenTreeFlags::OPEN_TREE_CLOEXEC
                        | OpenTreeFlags::AT_RECURSIVE,
                )?);
            }
            if cover.is_dir {
                rustix::mount::mount(
                    c"localgpt-covered",
                    cover.target.as_c_str(),
                    c"tmpfs",
                    MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                    c"mode=0755,size=1m",
                )?;
            } else {
                rustix::mount::mount_bind(c"/dev/null", cover.target.as_c_str())?;
            }
            for (tree, folder) in trees.iter().zip(&cover.reopened) {
                if let Some(tree) = tree {
                    rustix::fs::mkdir(folder.as_c_str(), Mode::from_raw_mode(0o700))?;
                    rustix::mount::move_mount(
                        tree.as_fd(),
                        c"",
                        rustix::fs::CWD,
                        folder.as_c_str(),
                        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The last step in the child, after everything else is applied: it forks the command
/// into the PID namespace made by [`Isolation::enter`] (whose first process is the next
/// one forked) and stays as its parent, reporting its status — `std` and tokio know this
/// process, so stopping it must stop the command too. Returns in the command, which goes
/// on to `exec`; never returns in the parent.
///
/// Only async-signal-safe system calls, and no allocation.
pub(crate) fn hold_processes() -> rustix::io::Result<()> {
    // SAFETY: called between fork and exec in a child that has one thread; the forked
    // process goes on to `exec` and this one makes only system calls until `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    if pid == 0 {
        // The command, first of its PID namespace. If its parent goes (stopped at the time
        // limit), it goes too, and with it every process in the namespace.
        // (Its parent lies outside the namespace, so `getppid` says 0 and cannot tell
        // whether the parent went before this line; it shares the parent's process
        // group, which is stopped whole at the time limit all the same.)
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
        return Ok(());
    }
    // The parent: it keeps no copy of the command's pipes (their readers wait for the
    // command's end, not this process's) nor of `std`'s exec-error pipe (whose closing
    // tells the spawner that `exec` happened).
    close_all_descriptors();
    let code = wait_for(pid);
    // SAFETY: ends this process without running anything of the parent's (no atexit
    // handlers, no buffered output of LocalGPT's flushed twice).
    unsafe { libc::_exit(code) }
}

/// The exit code to report for the command `pid`: its own, or 128 + the signal that
/// ended it, as a shell reports it.
fn wait_for(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid place for the kernel to write to.
        let waited = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if waited == pid {
            break;
        }
        if waited < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 127;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        127
    }
}

fn close_all_descriptors() {
    // SAFETY: close_range takes plain integers and closes descriptors of this process only.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, 0_u32, u32::MAX, 0_u32) };
    if closed != 0 {
        // Kernels before 5.9: one by one, as far as descriptors usually go.
        for fd in 0..4096 {
            // SAFETY: closing a descriptor that is not open only returns EBADF.
            unsafe { libc::close(fd) };
        }
    }
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} holds a NUL byte", path.display()))
}

fn write_all(path: &std::ffi::CStr, bytes: &[u8]) -> rustix::io::Result<()> {
    let file = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let written = rustix::io::write(file.as_fd(), bytes)?;
    if written == bytes.len() {
        Ok(())
    } else {
        Err(rustix::io::Errno::IO)
    }
}
