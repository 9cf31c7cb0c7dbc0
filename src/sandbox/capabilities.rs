//! Capabilities a command gives up, which only matter when LocalGPT runs as root (an
//! ordinary user's commands have none). LocalGPT is not dumpable, so reading its memory or
//! its `/proc/PID/environ` (the API keys) takes a capability: `CAP_SYS_PTRACE` — and, on
//! recent kernels, `CAP_SYS_ADMIN` or `CAP_PERFMON` as well — and Landlock's ptrace
//! scoping does not cover those reads everywhere. The others reach around the sandbox:
//! raw devices and `/dev/mem`, kernel modules, eBPF, reading files by handle, the MAC
//! policy. Dropped from the bounding set, they stay out after `exec`, even of a program
//! that would otherwise get them.

use rustix::thread::{CapabilitySet, remove_capability_from_bounding_set};

const DROPPED: [CapabilitySet; 10] = [
    CapabilitySet::SYS_PTRACE,
    CapabilitySet::SYS_ADMIN,
    CapabilitySet::PERFMON,
    CapabilitySet::SYS_RAWIO,
    CapabilitySet::SYS_MODULE,
    CapabilitySet::BPF,
    CapabilitySet::DAC_READ_SEARCH,
    CapabilitySet::SYS_BOOT,
    CapabilitySet::MAC_ADMIN,
    CapabilitySet::MAC_OVERRIDE,
];

/// Drops the capabilities (in the child, before `exec`). Without `CAP_SETPCAP` (not root)
/// there is nothing to drop: such a process never had them.
pub(crate) fn drop_dangerous() -> rustix::io::Result<()> {
    for capability in DROPPED {
        match remove_capability_from_bounding_set(capability) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => return Ok(()),
            // A capability this kernel does not know.
            Err(rustix::io::Errno::INVAL) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
