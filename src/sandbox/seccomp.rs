//! The system-call half of the sandbox, with seccomp: what a shell command never needs
//! and a hostile one would use to get out or to read other processes — `ptrace` and reading
//! another process's memory, the kernel keyring, mounting, loading kernel modules, eBPF,
//! `personality` flags that weaken address randomisation, entering other namespaces. Each
//! is answered "operation not permitted"; everything else runs.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Refused whatever their arguments.
const DENIED: [i64; 24] = [
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_bpf,
    libc::SYS_userfaultfd,
    libc::SYS_setns,
    libc::SYS_open_by_handle_at,
    libc::SYS_acct,
    libc::SYS_reboot,
];

/// `personality(PER_LINUX)` and the query `personality(0xffffffff)` are what programs
/// use; any other value sets flags such as ADDR_NO_RANDOMIZE.
const PERSONALITY_QUERY: u64 = 0xffff_ffff;

/// Which sockets a command may not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sockets {
    /// All of them: the network is on.
    Any,
    /// No Unix sockets: the network is off and a network namespace keeps the rest away.
    /// A pathname socket (`/run/user/ID/bus`, `docker.sock`) is a file the namespace
    /// does not hide, and through the session bus `systemd-run --user` runs anything
    /// outside the sandbox. `socketpair`, which reaches nobody, stays.
    NoUnix,
    /// No Unix, IPv4, IPv6 or raw packet sockets: the network is off and no network
    /// namespace could be made.
    NoUnixNoInet,
}

/// The filter for `sockets`.
pub fn filter(sockets: Sockets) -> Result<BpfProgram, String> {
    // Built once per process for each variant: every command gets a copy.
    static BUILT: [OnceLock<Result<BpfProgram, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    BUILT[sockets as usize]
        .get_or_init(|| {
            build(sockets).map_err(|err| format!("cannot build the seccomp filter: {err}"))
        })
        .clone()
}

fn build(sockets: Sockets) -> Result<BpfProgram, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|call| (*call, Vec::new())).collect();
    rules.insert(
        libc::SYS_personality,
        vec![SeccompRule::new(vec![
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0)?,
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                PERSONALITY_QUERY,
            )?,
        ])?],
    );
    let family = |value: i32| -> Result<SeccompRule, seccompiler::BackendError> {
        let value = u64::try_from(value).unwrap_or_default();
        SeccompRule::new(vec![SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            value,
        )?])
    };
    let refused: &[i32] = match sockets {
        Sockets::Any => &[],
        Sockets::NoUnix => &[libc::AF_UNIX],
        Sockets::NoUnixNoInet => &[
            libc::AF_UNIX,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_PACKET,
        ],
    };
    if !refused.is_empty() {
        rules.insert(
            libc::SYS_socket,
            refused
                .iter()
                .map(|value| family(*value))
                .collect::<Result<_, _>>()?,
        );
    }
    let arch = std::env::consts::ARCH.try_into()?;
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(u32::try_from(libc::EPERM).unwrap_or(1)),
        arch,
    )?
    .try_into()
}
