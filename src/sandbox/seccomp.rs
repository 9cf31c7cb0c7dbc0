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

/// The filter; with `no_inet`, also no IPv4, IPv6 or raw packet sockets (the network's
/// off and no network namespace could be made).
pub fn filter(no_inet: bool) -> Result<BpfProgram, String> {
    // Built once per process for each variant: every command gets a copy.
    static BUILT: [OnceLock<Result<BpfProgram, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    BUILT[usize::from(no_inet)]
        .get_or_init(|| {
            build(no_inet).map_err(|err| format!("cannot build the seccomp filter: {err}"))
        })
        .clone()
}

fn build(no_inet: bool) -> Result<BpfProgram, seccompiler::BackendError> {
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
    if no_inet {
        let family = |value: i32| -> Result<SeccompRule, seccompiler::BackendError> {
            let value = u64::try_from(value).unwrap_or_default();
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                value,
            )?])
        };
        rules.insert(
            libc::SYS_socket,
            vec![
                family(libc::AF_INET)?,
                family(libc::AF_INET6)?,
                family(libc::AF_PACKET)?,
            ],
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
