//! The command surface: help for every command, version, exit codes.

use crate::common::{Test, text};
use predicates::prelude::*;

/// Every command and subcommand, as typed after `localgpt`.
const COMMANDS: &[&[&str]] = &[
    &["chat"],
    &["ask"],
    &["run"],
    &["memory"],
    &["memory", "search"],
    &["memory", "reindex"],
    &["memory", "stats"],
    &["memory", "recent"],
    &["memory", "add"],
    &["memory", "get"],
    &["sessions"],
    &["sessions", "list"],
    &["sessions", "show"],
    &["sessions", "rm"],
    &["skills"],
    &["skills", "list"],
    &["skills", "show"],
    &["skills", "run"],
    &["heartbeat"],
    &["heartbeat", "list"],
    &["heartbeat", "run"],
    &["heartbeat", "log"],
    &["daemon"],
    &["daemon", "start"],
    &["daemon", "stop"],
    &["daemon", "status"],
    &["daemon", "run"],
    &["serve"],
    &["config"],
    &["config", "init"],
    &["config", "show"],
    &["config", "get"],
    &["config", "set"],
    &["config", "path"],
    &["config", "edit"],
    &["completions"],
];

#[test]
fn every_command_has_help_that_describes_it() {
    let t = Test::new();
    for command in COMMANDS {
        let output = t.command().args(*command).arg("--help").output().unwrap();
        let help = text(&output.stdout);
        assert!(output.status.success(), "{command:?} --help failed");
        assert!(help.contains("Usage: localgpt"), "{command:?}: {help}");
        // A description line before the usage, not just a list of flags.
        let description = help.lines().next().unwrap_or_default();
        assert!(
            description.split_whitespace().count() >= 3,
            "{command:?}: {help}"
        );
        assert!(!help.contains("[default: ]"), "{command:?}: {help}");
    }
    assert!(!t.home().exists(), "--help must not create the home folder");
}

#[test]
fn top_level_help_lists_commands_and_global_flags() {
    let help = Test::new()
        .run(["--help"])
        .success()
        .get_output()
        .stdout
        .clone();
    let help = text(&help);
    for word in [
        "chat",
        "ask",
        "run",
        "memory",
        "sessions",
        "skills",
        "heartbeat",
        "daemon",
        "serve",
        "config",
        "completions",
        "--home",
        "--model",
        "--verbose",
        "--quiet",
        "--no-color",
        "--version",
        "Examples:",
    ] {
        assert!(help.contains(word), "help lacks {word}:\n{help}");
    }
}

#[test]
fn version_prints_the_package_version() {
    Test::new()
        .run(["--version"])
        .success()
        .stdout(format!("localgpt {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2() {
    let t = Test::new();
    t.run(["no-such-command"]).code(2);
    t.run(["config", "set", "only-a-key"]).code(2);
    t.run(["-q", "-v", "config", "show"]).code(2);
}

#[test]
fn completions_are_generated_for_each_shell() {
    let t = Test::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        t.run(["completions", shell])
            .success()
            .stdout(predicate::str::contains("localgpt"));
    }
    t.run(["completions", "tcsh"]).code(2);
}

#[test]
fn no_color_removes_escape_codes_from_help() {
    let output = Test::new()
        .run(["--no-color", "--help"])
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!output.contains(&0x1b), "escape codes with --no-color");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let t = Test::new();
    t.run(["config", "path"]).success();
    let mut child = t
        .std_command()
        .args(["config", "show"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte and hang up, as `| head -c1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    stdout.read_exact(&mut byte).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert!(
        !text(&output.stderr).contains("panicked"),
        "{}",
        text(&output.stderr)
    );
}
