//! The kernel sandbox every shell command runs in — the model's `bash`, `!` at the prompt,
//! scripts' `bash()`/`sh()`, skills and heartbeat tasks all go through [`run_command`],
//! which also decides the policy's refusal (`tools.approval = "deny"`, or commands where
//! nobody can approve them) for all of them.
//!
//! The processes LocalGPT starts outside it, on purpose, each a program the person named
//! in their own configuration, never a command line from a model or a script:
//! - the editor of `localgpt config edit` (`$VISUAL`, `$EDITOR`): it must write
//!   `config.toml`, which the sandbox protects;
//! - `heartbeat.notify`: it must reach the desktop's notification service (a socket the
//!   sandbox closes); it gets the message as one argument, never through a shell;
//! - MCP servers under `[mcp.servers]` and the Claude CLI provider: programs the person
//!   configured, each with its own access to its service;
//! - `localgpt ui`'s browser opener and the daemon LocalGPT starts of itself.
//!
//! Path checks confine the file tools, not a shell: a command can open any file its user
//! can. So on Linux the command is confined by the kernel before it starts:
//!
//! - [`landlock`] (files): it reads everything but the protected places — LocalGPT's own
//!   files and the credential stores — and writes only the allowed roots (the workspace,
//!   the current folder, `tools.allowed_paths`) and a private temp folder. It cannot
//!   signal, ptrace or read the `/proc` files of processes outside its sandbox:
//!   LocalGPT's environment, with the API keys, included.
//! - [`seccomp`] (system calls): no `ptrace`, kernel keyring, mounting, kernel modules,
//!   eBPF, namespace switching or `personality` tricks.
//! - [`namespace`] (processes): the command's processes end with it — a background job or
//!   a `setsid` child is ended with the command, at its time limit and with the turn —
//!   unless the person asked for background jobs (their own `!` lines).
//! - [`capabilities`]: no `CAP_SYS_PTRACE`, which a command run as root would otherwise
//!   use to read LocalGPT's memory and environment.
//! - [`namespace`] (network, when `tools.bash_network = false`): a network of its own with
//!   nothing in it; and no Unix sockets (seccomp), since a pathname socket — the session
//!   bus, `docker.sock` — is a file no network namespace hides.
//!
//! `tools.sandbox = "auto"` uses what the kernel offers and says once what it could not;
//! `"required"` refuses to run a command without all of it; `"off"` runs commands as they
//! are. `localgpt sandbox check` shows what this kernel offers and proves it by trying.
//! Elsewhere than Linux the sandbox is reported unavailable.

#[cfg(target_os = "linux")]
mod capabilities;
pub mod check;
mod command;
#[cfg(target_os = "linux")]
mod landlock;
#[cfg(target_os = "linux")]
mod namespace;
mod output;
#[cfg(target_os = "linux")]
mod seccomp;
mod support;

pub use command::run_command;

/// Has the kernel send the process `command` starts a SIGTERM when the thread that
/// started it ends (with LocalGPT, since it is started from a thread that lives as long
/// as the process): for programs LocalGPT starts outside the sandbox and must not outlive
/// it, such as MCP servers.
pub(crate) fn stop_with_parent(command: &mut tokio::process::Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure makes one system call between fork and exec, and allocates
    // nothing.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
                .map_err(std::io::Error::from)
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}
pub(crate) use command::{CommandError, CommandResult};
pub(crate) use output::{HARD_CAP_BYTES, KEPT_BYTES};
pub(crate) use support::{LANDLOCK_ABI_WANTED, Support, support};

use std::path::PathBuf;

use crate::config::SandboxMode;
use crate::policy::Policy;

/// How one command will be confined: everything is prepared in the parent, so that the
/// child, between `fork` and `exec`, only makes system calls on it.
pub struct Plan {
    #[cfg(target_os = "linux")]
    confinement: Option<linux::Confinement>,
    /// Variables set for the command (its private temp folder).
    env: Vec<(&'static str, PathBuf)>,
}

impl Plan {
    /// The plan for a command run under `policy`; an error when `tools.sandbox` is
    /// `"required"` and the kernel cannot give all of it, or the sandbox cannot be made.
    pub(crate) fn for_policy(policy: &Policy) -> Result<Plan, String> {
        Plan::with_support(policy, support())
    }

    fn with_support(policy: &Policy, support: &Support) -> Result<Plan, String> {
        if policy.sandbox == SandboxMode::Off {
            return Ok(Plan::unconfined());
        }
        let missing = support.missing(policy.network);
        if !missing.is_empty() {
            if policy.sandbox == SandboxMode::Required {
                return Err(format!(
                    "not run: tools.sandbox is \"required\" and this system cannot {}; \
                     `localgpt sandbox check` shows what it supports",
                    missing.join(", ")
                ));
            }
            support::say_once(&missing);
        }
        Plan::confined(policy, support)
    }

    /// A plan that changes nothing.
    pub fn unconfined() -> Plan {
        Plan {
            #[cfg(target_os = "linux")]
            confinement: None,
            env: Vec::new(),
        }
    }

    #[cfg(target_os = "linux")]
    fn confined(policy: &Policy, support: &Support) -> Result<Plan, String> {
        let temp = private_temp_dir(policy)?;
        let confinement = linux::Confinement::new(policy, support, &temp)?;
        let env = if confinement.confines_files() {
            ["TMPDIR", "TMP", "TEMP"]
                .into_iter()
                .map(|name| (name, temp.clone()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Plan {
            confinement: Some(confinement),
            env,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn confined(_policy: &Policy, _support: &Support) -> Result<Plan, String> {
        Ok(Plan::unconfined())
    }

    /// Sets the command up to confine itself when it starts.
    pub fn apply(self, command: &mut tokio::process::Command) {
        for (name, value) in &self.env {
            command.env(name, value);
        }
        #[cfg(target_os = "linux")]
        if let Some(confinement) = self.confinement {
            confinement.apply(command);
        }
    }
}

/// The commands' private temp folder, made on first use and readable by its owner only
/// (other users' processes have no business in it).
fn private_temp_dir(policy: &Policy) -> Result<PathBuf, String> {
    let dir = policy.temp_dir();
    let made = || -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        dir.canonicalize()
    };
    made().map_err(|err| {
        format!(
            "cannot make the commands' temp folder {}: {err}",
            dir.display()
        )
    })
}

#[cfg(target_os = "linux")]
mod linux {
    use std::path::{Path, PathBuf};

    use super::landlock::{Reach, ruleset};
    use super::namespace::Isolation;
    use super::{Support, seccomp, support};
    use crate::policy::Policy;

    /// What the child applies to itself, in this order: it gives up capabilities, takes
    /// its own network (so the id maps are written while /proc is still open to it), the
    /// Landlock ruleset, the seccomp filter (last, as it refuses what the steps before
    /// may use).
    pub(crate) struct Confinement {
        isolation: Option<Isolation>,
        ruleset: Option<::landlock::RulesetCreated>,
        filter: Option<seccompiler::BpfProgram>,
    }

    impl Confinement {
        pub fn new(policy: &Policy, support: &Support, temp: &Path) -> Result<Self, String> {
            let mut protected: Vec<PathBuf> = policy
                .protected()
                .places()
                .into_iter()
                .map(Path::to_path_buf)
                .collect();
            protected.extend(policy.env_files());
            let mut writable: Vec<PathBuf> = policy
                .writable_roots()
                .iter()
                .filter(|root| policy.may_show(root))
                .cloned()
                .collect();
            writable.push(temp.to_path_buf());
            // Protected places inside a writable folder (the person's home, when LocalGPT
            // started there) are covered in a mount namespace, so that the folder can be
            // granted whole; without namespaces it is carved around them instead.
            let inside_writable: Vec<PathBuf> = protected
                .iter()
                .filter(|place| {
                    writable
                        .iter()
                        .any(|root| place.starts_with(root) && *place != root)
                })
                .cloned()
                .collect();
            let namespaces = support.namespaces();
            let covered = if namespaces {
                inside_writable
            } else {
                if !inside_writable.is_empty() {
                    support::say_carved_once(&writable, &inside_writable);
                }
                Vec::new()
            };
            let own_network = !policy.network && namespaces;
            let own_pids = namespaces && !policy.background_jobs;
            let isolation = if own_pids || own_network || !covered.is_empty() {
                Some(Isolation::new(own_pids, own_network, &covered, &writable)?)
            } else {
                None
            };
            let ruleset = if support.landlock_abi().is_some() {
                let reach = Reach {
                    writable,
                    protected,
                    network: policy.network,
                    writable_whole: !covered.is_empty(),
                };
                Some(ruleset(&reach).map_err(|err| format!("cannot make the sandbox: {err}"))?)
            } else {
                None
            };
            // Without a network namespace, the network is kept off by refusing the
            // sockets that reach it.
            let filter = if support.seccomp() {
                let sockets = match (policy.network, own_network) {
                    (true, _) => seccomp::Sockets::Any,
                    (false, true) => seccomp::Sockets::NoUnix,
                    (false, false) => seccomp::Sockets::NoUnixNoInet,
                };
                Some(seccomp::filter(sockets)?)
            } else {
                None
            };
            Ok(Confinement {
                isolation,
                ruleset,
                filter,
            })
        }

        pub(crate) fn confines_files(&self) -> bool {
            self.ruleset.is_some()
        }

        pub fn apply(self, command: &mut tokio::process::Command) {
            let Confinement {
                isolation,
                mut ruleset,
                filter,
            } = self;
            let hook = move || -> std::io::Result<()> {
                super::capabilities::drop_dangerous()?;
                if let Some(isolation) = &isolation {
                    isolation.enter()?;
                }
                if let Some(ruleset) = ruleset.take() {
                    // The error keeps no more than errno, which needs no allocation.
                    ruleset
                        .restrict_self()
                        .map_err(|_| std::io::Error::last_os_error())?;
                }
                if let Some(filter) = &filter {
                    seccompiler::apply_filter(filter)
                        .map_err(|_| std::io::Error::last_os_error())?;
                }
                if isolation.as_ref().is_some_and(Isolation::holds_processes) {
                    super::namespace::hold_processes()?;
                }
                Ok(())
            };
            // SAFETY: the hook runs in the child between fork and exec, where only
            // async-signal-safe calls are sound: it makes system calls on buffers and file
            // descriptors prepared in the parent, and allocates nothing.
            unsafe {
                command.pre_exec(hook);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ToolsConfig;

    fn policy(mode: SandboxMode) -> (tempfile::TempDir, Policy) {
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::Home::at(dir.path().join("home"));
        home.ensure("").unwrap();
        let tools = ToolsConfig {
            sandbox: mode,
            ..ToolsConfig::default()
        };
        let policy = Policy::new(&home, dir.path(), &tools);
        (dir, policy)
    }

    #[test]
    fn required_refuses_where_the_kernel_cannot_and_auto_goes_on() {
        let bare = Support::without_anything();
        let (_dir, required) = policy(SandboxMode::Required);
        let refusal = Plan::with_support(&required, &bare).err().unwrap();
        assert!(
            refusal.contains("tools.sandbox is \"required\""),
            "{refusal}"
        );
        assert!(refusal.contains("Landlock"), "{refusal}");
        let (_dir, auto) = policy(SandboxMode::Auto);
        assert!(Plan::with_support(&auto, &bare).is_ok());
        let (_dir, off) = policy(SandboxMode::Off);
        assert!(Plan::with_support(&off, &bare).is_ok());
    }
}
