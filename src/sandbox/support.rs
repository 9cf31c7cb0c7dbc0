//! What this kernel offers the sandbox, found once per process by asking for it: the
//! Landlock ABI through the `landlock` crate's hard requirements, seccomp and unprivileged
//! namespaces by applying them in a throwaway child.

use std::sync::{Once, OnceLock};

/// The Landlock ABI that has every right the sandbox asks for.
pub(crate) const LANDLOCK_ABI_WANTED: u8 = 6;

#[derive(Debug)]
pub(crate) struct Support {
    landlock_abi: Option<u8>,
    seccomp: bool,
    namespaces: OnceLock<bool>,
}

/// This kernel's support, found on first use.
pub(crate) fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(Support::detect)
}

impl Support {
    #[cfg(target_os = "linux")]
    fn detect() -> Support {
        Support {
            landlock_abi: linux::landlock_abi(),
            seccomp: linux::seccomp_works(),
            namespaces: OnceLock::new(),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn detect() -> Support {
        Support::without_anything()
    }

    /// A system with none of it (and tests of what happens there).
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    pub(crate) fn without_anything() -> Support {
        let namespaces = OnceLock::new();
        let _ = namespaces.set(false);
        Support {
            landlock_abi: None,
            seccomp: false,
            namespaces,
        }
    }

    /// The highest Landlock ABI this kernel enforces, of those the sandbox knows.
    pub(crate) fn landlock_abi(&self) -> Option<u8> {
        self.landlock_abi
    }

    pub fn seccomp(&self) -> bool {
        self.seccomp
    }

    /// Whether an unprivileged process may make a user and network namespace (tried
    /// only when first needed: it starts a process).
    pub fn namespaces(&self) -> bool {
        #[cfg(target_os = "linux")]
        return *self.namespaces.get_or_init(linux::namespaces_work);
        #[cfg(not(target_os = "linux"))]
        return false;
    }

    /// What the sandbox cannot do here, as phrases following "cannot" (empty: all of it).
    pub fn missing(&self, network: bool) -> Vec<String> {
        if cfg!(not(target_os = "linux")) {
            return vec!["run commands in a sandbox (there is one on Linux only)".to_string()];
        }
        let mut missing = Vec::new();
        match self.landlock_abi {
            None => missing.push(
                "confine commands' files (Landlock is not enabled in this kernel)".to_string(),
            ),
            Some(abi) if abi < LANDLOCK_ABI_WANTED => missing.push(format!(
                "confine all of what commands do to files and other processes (Landlock \
                 ABI {abi}; {LANDLOCK_ABI_WANTED} also confines truncating files, device \
                 ioctls and signals)"
            )),
            Some(_) => {}
        }
        if !self.seccomp {
            missing.push("filter commands' system calls (seccomp is not available)".to_string());
        }
        if !network && !self.seccomp && !self.namespaces() {
            missing.push(
                "keep commands off the network (tools.bash_network = false): neither \
                 namespaces nor seccomp are available"
                    .to_string(),
            );
        }
        missing
    }
}

/// Says once per process what the sandbox cannot do (`tools.sandbox = "auto"`).
pub(crate) fn say_once(missing: &[String]) {
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let message = format!(
            "the sandbox for shell commands cannot {} here; commands run with the rest of \
             it (`localgpt sandbox check` for details, tools.sandbox = \"required\" to refuse)",
            missing.join(", ")
        );
        tracing::warn!("{message}");
        eprintln!("localgpt: note: {message}");
    });
}

/// Says once per process that commands cannot create or remove entries directly in a
/// writable folder that holds protected places, where no namespaces can cover them.
pub(crate) fn say_carved_once(writable: &[std::path::PathBuf], protected: &[std::path::PathBuf]) {
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let folders: Vec<String> = writable
            .iter()
            .filter(|root| protected.iter().any(|place| place.starts_with(root)))
            .map(|root| root.display().to_string())
            .collect();
        let message = format!(
            "{} holds protected places ({}) and this system has no user namespaces to \
             cover them: commands can change what is inside its folders, but cannot \
             create or remove files directly in it",
            folders.join(", "),
            protected
                .iter()
                .map(|place| place.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        tracing::warn!("{message}");
        eprintln!("localgpt: note: {message}");
    });
}

#[cfg(target_os = "linux")]
mod linux {
    use landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetError, Scope,
    };

    /// Asks for each ABI's rights as a hard requirement, newest first: the first that the
    /// kernel accepts is the one it has.
    pub(crate) fn landlock_abi() -> Option<u8> {
        let known = [
            (ABI::V6, 6),
            (ABI::V5, 5),
            (ABI::V4, 4),
            (ABI::V3, 3),
            (ABI::V2, 2),
            (ABI::V1, 1),
        ];
        known
            .into_iter()
            .find(|(abi, _)| supports(*abi).is_ok())
            .map(|(_, number)| number)
    }

    fn supports(abi: ABI) -> Result<(), RulesetError> {
        let ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi))?;
        let ruleset = if abi >= ABI::V6 {
            ruleset.scope(Scope::Signal)?
        } else {
            ruleset
        };
        ruleset.create().map(drop)
    }

    /// Applies the filter in a throwaway child: a kernel without seccomp filters (or a
    /// container that forbids them) fails there, not in a command.
    pub(crate) fn seccomp_works() -> bool {
        let Ok(filter) = super::super::seccomp::filter(super::super::seccomp::Sockets::Any) else {
            return false;
        };
        works_in_a_child(move || {
            seccompiler::apply_filter(&filter).map_err(|_| std::io::Error::last_os_error())
        })
    }

    /// Makes the namespaces and covers a folder in a throwaway child (`unshare(1)` is not
    /// assumed to be installed; a system may allow user namespaces but not mounts in them).
    pub(crate) fn namespaces_work() -> bool {
        let covered = [std::env::temp_dir()];
        let Ok(isolation) = super::super::namespace::Isolation::new(true, true, &covered, &[])
        else {
            return false;
        };
        works_in_a_child(move || {
            isolation.enter()?;
            super::super::namespace::hold_processes().map_err(std::io::Error::from)
        })
    }

    /// Whether `sh -c :` starts and succeeds with `hook` run in it before `exec`.
    fn works_in_a_child(hook: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static) -> bool {
        let mut probe = std::process::Command::new("sh");
        probe.args(["-c", ":"]);
        // SAFETY: the hooks given make system calls on what the parent prepared.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut probe, hook);
        }
        probe
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}
