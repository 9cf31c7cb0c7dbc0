//! Locked appends across processes: the REPL and the daemon both write to the daily log,
//! and neither may lose or tear the other's lines.

use std::collections::HashSet;
use std::process::Command;

use localgpt::home::append_locked;

const LINES_PER_WRITER: usize = 1000;
const TARGET_VAR: &str = "LOCALGPT_TEST_APPEND_TARGET";
const WRITER_VAR: &str = "LOCALGPT_TEST_APPEND_WRITER";

#[test]
fn two_processes_appending_1000_lines_each_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("2026-11-24.md");
    let this_test_binary = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|writer| {
            Command::new(&this_test_binary)
                .args([
                    "append::append_child_process",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                ])
                .env(TARGET_VAR, &target)
                .env(WRITER_VAR, writer)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "child failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let text = std::fs::read_to_string(&target).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * LINES_PER_WRITER);
    let unique: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(unique.len(), lines.len(), "a line was duplicated");
    for writer in ["a", "b"] {
        let mine: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| line.starts_with(&format!("writer {writer} ")))
            .collect();
        assert_eq!(mine.len(), LINES_PER_WRITER, "writer {writer} lost lines");
        // Each writer's lines are whole and in its own order.
        for (index, line) in mine.iter().enumerate() {
            assert!(
                line.starts_with(&format!("writer {writer} line {index:04} ")),
                "{line}"
            );
            assert!(line.ends_with("end"), "torn line: {line}");
        }
    }
}

/// The child half of the test above; does nothing when run on its own.
#[test]
#[ignore = "spawned as a child process by two_processes_appending_1000_lines_each_lose_none"]
fn append_child_process() {
    let (Ok(target), Ok(writer)) = (std::env::var(TARGET_VAR), std::env::var(WRITER_VAR)) else {
        return;
    };
    // Long lines, so a torn write would show.
    let padding = "x".repeat(2000);
    for index in 0..LINES_PER_WRITER {
        let line = format!("writer {writer} line {index:04} {padding} end");
        append_locked(std::path::Path::new(&target), &line).unwrap();
    }
}
