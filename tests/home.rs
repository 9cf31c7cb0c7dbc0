//! The home folder: created on first use, never overwritten, bad locations refused.

use crate::common::Test;
use predicates::prelude::*;
use std::fs;

#[test]
fn first_run_creates_the_layout_and_says_so() {
    let t = Test::new();
    t.run(["config", "show"])
        .success()
        .stderr(predicate::str::contains("created your LocalGPT home"));
    for path in [
        "config.toml",
        "workspace/MEMORY.md",
        "workspace/HEARTBEAT.md",
        "workspace/memory",
        "workspace/skills",
        "workspace/heartbeat",
        "sessions",
        "logs",
    ] {
        assert!(t.path(path).exists(), "{path} was not created");
    }
    assert!(t.read("workspace/MEMORY.md").contains("long-term memory"));
    assert!(t.read("workspace/HEARTBEAT.md").contains("daemon"));
    // The second run is quiet.
    t.run(["config", "show"])
        .success()
        .stderr(predicate::str::contains("created").not());
}

#[cfg(unix)]
#[test]
fn config_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let t = Test::new();
    t.run(["config", "path"]).success();
    t.run(["config", "show"]).success();
    let mode = fs::metadata(t.path("config.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn existing_files_are_never_overwritten() {
    let t = Test::new();
    t.write("workspace/MEMORY.md", "my own memory\n");
    t.write("config.toml", "[server]\nport = 4000\n");
    t.run(["config", "get", "server.port"])
        .success()
        .stdout("4000\n");
    assert_eq!(t.read("workspace/MEMORY.md"), "my own memory\n");
    assert_eq!(t.read("config.toml"), "[server]\nport = 4000\n");
    // What was missing is filled in.
    assert!(t.path("workspace/HEARTBEAT.md").exists());
}

#[test]
fn home_flag_wins_over_the_variable() {
    let t = Test::new();
    let other = t.scratch().join("other-home");
    t.command()
        .arg("--home")
        .arg(&other)
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{}\n", other.join("config.toml").display()));
}

#[test]
fn a_home_that_is_a_file_is_refused() {
    let t = Test::new();
    let file = t.scratch().join("not-a-folder");
    fs::write(&file, "x").unwrap();
    t.command()
        .arg("--home")
        .arg(&file)
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("it is a file, not a folder"))
        .stderr(predicate::str::contains("--home"));
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_home_that_cannot_be_created_is_refused() {
    let t = Test::new();
    let file = t.scratch().join("plain-file");
    fs::write(&file, "x").unwrap();
    // A folder inside a regular file cannot be created, whoever runs the test (even root).
    t.command()
        .arg("--home")
        .arg(file.join("home"))
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create"))
        .stderr(predicate::str::contains("LOCALGPT_HOME"));
}

#[cfg(unix)]
#[test]
fn an_unwritable_home_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let t = Test::new();
    let locked = t.scratch().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    if fs::write(locked.join("probe"), "x").is_ok() {
        // Running as root: permissions do not bind, and the case above covers creation.
        return;
    }
    t.command()
        .arg("--home")
        .arg(locked.join("home"))
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create"));
}

#[test]
fn logs_go_to_the_daily_log_file() {
    let t = Test::new();
    t.run(["config", "show"]).success();
    let logs: Vec<_> = fs::read_dir(t.path("logs"))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(logs.len(), 1);
    let name = logs[0].file_name().to_string_lossy().into_owned();
    assert!(
        name.starts_with("agent.") && name.ends_with(".log"),
        "{name}"
    );
    let log = fs::read_to_string(logs[0].path()).unwrap();
    assert!(log.contains("config show"), "{log}");
}

#[test]
fn verbose_mirrors_the_log_to_stderr_and_quiet_silences_the_welcome() {
    let t = Test::new();
    t.run(["-q", "config", "path"]).success();
    t.run(["-q", "config", "show"])
        .success()
        .stderr(predicate::str::is_empty());
    t.run(["-v", "config", "show"])
        .success()
        .stderr(predicate::str::contains("info: localgpt"));
}
