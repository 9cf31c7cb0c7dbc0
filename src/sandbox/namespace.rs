//! Namespaces, for two things Landlock alone cannot do:
//!
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
pub struct Isolation {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    own_network: bool,
    covers: Vec<Cover>,
}

impl Isolation {
    /// A user namespace mapping this process's own ids to themselves; with
    /// `own_network`, a network of its own; with `covered`, a mount namespace where those
    /// places are covered except the `reopened` folders directly inside them.
    pub fn new(
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
            covers,
        })
    }

    /// Enters the namespaces (in the child, before `exec`).
    pub fn enter(&self) -> rustix::io::Result<()> {
        // LocalGPT is not dumpable (its /proc files are root's), and a child inherits
        // that until `exec`: its own id maps would be unwritable. The child holds a copy
        // of LocalGPT's memory until `exec`; other sandboxed commands cannot reach it
        // (Landlock scopes ptrace), and they are the ones a model could steer.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)?;
        let mut flags = UnshareFlags::NEWUSER;
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
