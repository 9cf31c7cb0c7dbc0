//! Scheduled tasks: every `workspace/heartbeat/NAME.rhai` whose `//!` header has a
//! `schedule:`. Other keys: `timeout:` (default `heartbeat.task_timeout`), `catch_up:`
//! (run once at start when runs were missed while the daemon was down) and
//! `description:`. A file without a schedule is not a task (it may be a module the tasks
//! import); one with a broken header is listed with its problem and never runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::parse_duration;
use super::schedule::Schedule;
use crate::config::Config;
use crate::home::Home;
use crate::skills::header;

#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub path: PathBuf,
    /// `Err` says what is wrong with the header (and where).
    pub schedule: Result<Schedule, String>,
    pub timeout: Duration,
    pub catch_up: bool,
    pub description: String,
    pub source: String,
}

impl Task {
    pub fn problem(&self) -> Option<&str> {
        self.schedule.as_ref().err().map(String::as_str)
    }
}

/// The folder tasks live in.
pub fn folder(home: &Home) -> PathBuf {
    home.workspace().join("heartbeat")
}

/// Every task, sorted by name.
pub fn discover(home: &Home, config: &Config) -> Vec<Task> {
    let Ok(entries) = std::fs::read_dir(folder(home)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rhai"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| read(&path, config))
        .collect()
}

fn read(path: &Path, config: &Config) -> Option<Task> {
    let name = path.file_stem()?.to_string_lossy().into_owned();
    let source = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) => {
            return Some(Task {
                name,
                path: path.to_path_buf(),
                schedule: Err(format!("cannot read it: {err}")),
                timeout: config.heartbeat.task_timeout(),
                catch_up: false,
                description: String::new(),
                source: String::new(),
            });
        }
    };
    let header = header::parse(&source);
    let field = header.field("schedule")?;
    let mut schedule = Schedule::parse(without_comment(&field.value))
        .map_err(|err| format!("line {}: {err}", field.line));
    let mut timeout = config.heartbeat.task_timeout();
    if let Some(field) = header.field("timeout") {
        match parse_duration(without_comment(&field.value)) {
            Ok(value) => timeout = value,
            Err(err) => schedule = Err(format!("line {}: timeout: {err}", field.line)),
        }
    }
    let mut catch_up = false;
    if let Some(field) = header.field("catch_up").or(header.field("catch-up")) {
        match header::parse_bool(without_comment(&field.value)) {
            Some(value) => catch_up = value,
            None => {
                schedule = Err(format!(
                    "line {}: catch_up must be true or false, not \"{}\"",
                    field.line, field.value
                ));
            }
        }
    }
    let description = header
        .get("description")
        .map(str::to_string)
        .unwrap_or_else(|| header.preamble.clone());
    Some(Task {
        name,
        path: path.to_path_buf(),
        schedule,
        timeout,
        catch_up,
        description,
        source,
    })
}

/// A header value without a trailing `# comment`, as a crontab line may have one
/// (`*/15 * * * *   # every quarter hour`). Only a `#` after a space starts one: `5#3`
/// (the third Friday) is part of the schedule.
fn without_comment(value: &str) -> &str {
    let mut previous = None;
    for (at, c) in value.char_indices() {
        if c == '#' && previous.is_some_and(char::is_whitespace) {
            return value.get(..at).unwrap_or(value).trim_end();
        }
        previous = Some(c);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_comment_is_not_part_of_a_value() {
        assert_eq!(
            without_comment("*/15 * * * *   # crontab: m h dom mon dow"),
            "*/15 * * * *"
        );
        assert_eq!(without_comment("0 9 * * 5#3"), "0 9 * * 5#3");
        assert_eq!(without_comment("@daily # every day"), "@daily");
        assert_eq!(without_comment("2m"), "2m");
    }

    #[test]
    fn tasks_are_files_with_a_schedule_and_broken_headers_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let tasks = folder(&home);
        std::fs::create_dir_all(&tasks).unwrap();
        std::fs::write(
            tasks.join("digest.rhai"),
            "//! description: Daily digest.\n//! schedule: 0 9 * * 1-5\n//! timeout: 2m\n//! catch_up: true\nprint(1);\n",
        )
        .unwrap();
        std::fs::write(tasks.join("helpers.rhai"), "fn x() { 1 }\n").unwrap();
        std::fs::write(tasks.join("bad.rhai"), "//! schedule: 0 25 * * *\n").unwrap();
        std::fs::write(
            tasks.join("slow.rhai"),
            "//! schedule: @hourly\n//! timeout: forever\n",
        )
        .unwrap();
        std::fs::write(tasks.join("notes.md"), "//! schedule: @hourly\n").unwrap();
        let found = discover(&home, &Config::default());
        let names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["bad", "digest", "slow"]);
        let digest = &found[1];
        assert!(digest.schedule.is_ok() && digest.catch_up);
        assert_eq!(digest.timeout, Duration::from_secs(120));
        assert_eq!(digest.description, "Daily digest.");
        assert!(
            found[0]
                .problem()
                .unwrap()
                .contains("line 1: the hour field")
        );
        assert!(found[2].problem().unwrap().contains("line 2: timeout"));
    }
}
