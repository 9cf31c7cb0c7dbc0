//! The heartbeat: `daemon run` firing scheduled tasks (no overlap, timeouts, failures and
//! provider outages recorded while it keeps going), daemon start/stop/status with the pid
//! file, `heartbeat list|run|log`, the HEARTBEAT.md check against the fake provider, and
//! the example tasks in `scripts/heartbeat/`.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::Value;

pub fn task(t: &Test, name: &str, source: &str) {
    t.write(&format!("workspace/heartbeat/{name}.rhai"), source);
}

pub fn runs(t: &Test) -> Vec<Value> {
    let out = t.run(["heartbeat", "log", "--json", "-n", "500"]).success();
    text(&out.get_output().stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

pub fn runs_of<'a>(all: &'a [Value], task: &str) -> Vec<&'a Value> {
    all.iter().filter(|run| run["task"] == task).collect()
}

/// Waits for a condition on the recorded runs; the deadline only bounds a failing test.
pub fn wait_for(t: &Test, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = runs(t);
        if done(&all) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn spawn_daemon(t: &Test) -> Child {
    t.std_command()
        .args(["daemon", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the daemon starts")
}

pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("the daemon exits")
}

#[test]
fn the_daemon_keeps_firing_through_failures_timeouts_overlaps_and_outages() {
    let t = Test::new()
        .env("OPENAI_API_KEY", "sk-test")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1");
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n",
    );
    task(
        &t,
        "tick",
        "//! schedule: */1 * * * * *\nprint(\"tick\");\n",
    );
    task(&t, "fail", "//! schedule: */1 * * * * *\nthrow \"boom\";\n");
    task(
        &t,
        "slow",
        "//! schedule: */1 * * * * *\n//! timeout: 1s\nsleep(2500);\nprint(\"never\");\n",
    );
    task(
        &t,
        "outage",
        "//! schedule: */1 * * * * *\nask(\"hello?\");\n",
    );
    task(&t, "helpers", "fn not_a_task() { 1 }\n");
    let mut daemon = spawn_daemon(&t);
    let all = wait_for(&t, "every task to run twice after a bad run", |all| {
        let after_bad = |task: &str, status: &str| {
            let of = runs_of(all, task);
            of.iter()
                .rposition(|r| r["status"] == status)
                .is_some_and(|bad| of[..bad].iter().any(|r| r["status"] != "skipped"))
        };
        runs_of(all, "tick").len() >= 3
            && after_bad("fail", "error")
            && after_bad("slow", "timeout")
            && after_bad("outage", "error")
            && runs_of(all, "slow")
                .iter()
                .any(|r| r["status"] == "skipped")
    });
    assert!(runs_of(&all, "helpers").is_empty());
    let fail = runs_of(&all, "fail")[0];
    assert!(fail["output"].as_str().unwrap().contains("boom"), "{fail}");
    let slow = runs_of(&all, "slow");
    assert!(
        slow.iter().all(|r| r["status"] != "ok"),
        "never overlaps or finishes"
    );
    let outage = runs_of(&all, "outage")[0];
    assert!(
        outage["output"].as_str().unwrap().contains("127.0.0.1:9"),
        "{outage}"
    );
    assert!(daemon.try_wait().unwrap().is_none(), "still running");
    assert!(terminate(&mut daemon).success());
    assert!(!t.path("daemon.pid").exists());
}

#[test]
fn new_tasks_are_picked_up_without_a_restart() {
    let t = Test::new();
    t.run(["heartbeat", "list"]).success();
    let mut daemon = spawn_daemon(&t);
    // The daemon holds the pid file once it is running.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid_of = || std::fs::read_to_string(t.path("daemon.pid")).unwrap_or_default();
    while !pid_of()
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| pid == daemon.id())
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    task(
        &t,
        "late",
        "//! schedule: */1 * * * * *\nprint(\"late\");\n",
    );
    wait_for(&t, "the new task to run", |all| {
        !runs_of(all, "late").is_empty()
    });
    assert!(terminate(&mut daemon).success());
}

#[test]
fn start_status_stop_and_a_second_start_is_refused() {
    let t = Test::new();
    task(
        &t,
        "tick",
        "//! schedule: */1 * * * * *\nprint(\"tick\");\n",
    );
    // A pid file left by a daemon that died is taken over.
    t.write("daemon.pid", "999999\n");
    let out = t.run(["daemon", "status"]).code(3);
    assert!(text(&out.get_output().stdout).contains("not running"));
    let out = t.run(["daemon", "start"]).success();
    let started = text(&out.get_output().stdout);
    let pid: u32 = started
        .split("pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{started}"));
    assert_eq!(t.read("daemon.pid").trim(), pid.to_string());
    let out = t.run(["daemon", "start"]).code(1);
    let refused = text(&out.get_output().stderr);
    assert!(
        refused.contains("already running for") && refused.contains(&pid.to_string()),
        "{refused}"
    );
    wait_for(&t, "a run", |all| !runs_of(all, "tick").is_empty());
    let out = t.run(["daemon", "status"]).success();
    let status = text(&out.get_output().stdout);
    assert!(status.contains(&format!("pid {pid}")), "{status}");
    assert!(
        status.contains("tick") && status.contains("next") && status.contains("last: ok"),
        "{status}"
    );
    assert!(status.contains("HEARTBEAT.md: next check"), "{status}");
    t.run(["daemon", "stop"]).success();
    assert!(!t.path("daemon.pid").exists());
    t.run(["daemon", "status"]).code(3);
    let out = t.run(["daemon", "stop"]).code(1);
    assert!(text(&out.get_output().stderr).contains("no daemon is running"));
}

#[test]
fn list_run_and_log_in_the_foreground() {
    let t = Test::new();
    task(
        &t,
        "digest",
        "//! description: Says hello.\n//! schedule: 0 9 * * 1-5\nprint(\"hello from the task\");\n",
    );
    task(&t, "broken", "//! schedule: 0 25 * * *\n");
    task(
        &t,
        "bash",
        "//! schedule: @daily\nprint(sh(\"echo hi\"));\n",
    );
    let out = t.run(["heartbeat", "list"]).success();
    let listing = text(&out.get_output().stdout);
    assert!(
        listing.contains("At 09:00") && listing.contains("(0 9 * * 1-5)"),
        "{listing}"
    );
    assert!(
        listing.contains("broken: line 1: the hour field `25`"),
        "{listing}"
    );
    assert!(listing.contains("HEARTBEAT.md  idle"), "{listing}");
    t.run(["heartbeat", "run", "digest"])
        .success()
        .stdout("hello from the task\n");
    // Nobody can approve a command in a task: off unless heartbeat.allow_bash.
    let out = t.run(["heartbeat", "run", "bash"]).code(1);
    assert!(text(&out.get_output().stdout).contains("heartbeat.allow_bash"));
    t.write("config.toml", "[heartbeat]\nallow_bash = true\n");
    t.run(["heartbeat", "run", "bash"])
        .success()
        .stdout("hi\n\n");
    t.run(["heartbeat", "run", "broken"]).code(2);
    t.run(["heartbeat", "run", "nope"]).code(2);
    let all = runs(&t);
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["task"], "digest");
    assert_eq!(all[2]["trigger"], "manual");
    assert_eq!(all[1]["status"], "error");
    let out = t.run(["heartbeat", "log", "digest"]).success();
    assert!(text(&out.get_output().stdout).contains("hello from the task"));
}

fn heartbeat_setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    let notified = t.scratch().join("notified.txt");
    let notifier = t.scratch().join("notify.sh");
    std::fs::write(
        &notifier,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            notified.display()
        ),
    )
    .unwrap();
    make_executable(&notifier);
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n[heartbeat]\nnotify = \"{}\"\n",
            notifier.display()
        ),
    );
    (fake, t)
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn heartbeat_ok_stays_quiet_and_other_replies_are_logged_and_sent_once() {
    let (fake, t) = heartbeat_setup();
    t.run(["heartbeat", "check"])
        .success()
        .stdout("nothing to do: HEARTBEAT.md lists nothing to do\n");
    assert!(fake.received().is_empty(), "the starter file has no work");

    t.write(
        "workspace/HEARTBEAT.md",
        "# Heartbeat\n- [ ] tell me when the certificate is due\n",
    );
    fake.push(Reply::text(&["HEARTBEAT_OK"]));
    t.run(["heartbeat", "check"]).success();
    let sent = fake.received()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sent.contains("tell me when the certificate is due"),
        "{sent}"
    );
    assert!(sent.contains("HEARTBEAT_OK"));
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let log = format!("workspace/memory/{today}.md");
    assert!(!t.path(&log).exists(), "an OK is not logged");
    assert!(!t.scratch().join("notified.txt").exists());

    fake.push(Reply::text(&["The certificate ", "expires on Friday."]));
    t.run(["heartbeat", "check"])
        .success()
        .stdout("The certificate expires on Friday.\n");
    assert!(
        t.read(&log)
            .contains("### Heartbeat\nThe certificate expires on Friday.")
    );
    let notified = std::fs::read_to_string(t.scratch().join("notified.txt")).unwrap();
    assert_eq!(notified, "The certificate expires on Friday.\n");

    // The same message within a day is neither logged nor sent again.
    fake.push(Reply::text(&["The certificate expires on Friday."]));
    let out = t.run(["heartbeat", "check"]).success();
    assert!(text(&out.get_output().stdout).contains("not logged or sent again"));
    assert_eq!(
        std::fs::read_to_string(t.scratch().join("notified.txt")).unwrap(),
        notified
    );
    assert_eq!(t.read(&log).matches("expires on Friday").count(), 1);

    // A provider failure is reported and recorded.
    fake.push(Reply::Status {
        code: 500,
        retry_after: None,
    });
    t.run(["heartbeat", "check"]).code(1);
    let all = runs(&t);
    let checks = runs_of(&all, "HEARTBEAT.md");
    let statuses: Vec<&str> = checks
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "skipped", "ok", "ok"]);
}

#[test]
fn the_example_tasks_run() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\n[heartbeat]\nallow_bash = true\n",
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/heartbeat");
    for name in ["memory-digest", "disk-space"] {
        let source = std::fs::read_to_string(examples.join(format!("{name}.rhai"))).unwrap();
        task(&t, name, &source);
    }
    let out = t.run(["heartbeat", "list"]).success();
    let listing = text(&out.get_output().stdout);
    assert!(!listing.contains("broken"), "{listing}");

    // Nothing logged yesterday: the digest says so without asking the model.
    t.run(["heartbeat", "run", "memory-digest"]).success();
    assert!(fake.received().is_empty());
    let yesterday = (chrono::Local::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    t.write(
        &format!("workspace/memory/{yesterday}.md"),
        "## 10:00\nShipped the release.\n",
    );
    fake.push(Reply::text(&["- Shipped the release."]));
    t.run(["heartbeat", "run", "memory-digest"]).success();
    assert!(
        fake.received()[0]
            .body
            .to_string()
            .contains("Shipped the release.")
    );
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(
        t.read(&format!("workspace/memory/{today}.md"))
            .contains("- Shipped the release.")
    );

    // The disk watcher stays quiet under its threshold and speaks above it.
    let out = t.run(["heartbeat", "run", "disk-space"]).success();
    let quiet = text(&out.get_output().stdout);
    assert!(quiet.contains("% used"), "{quiet}");
    t.command()
        .args(["heartbeat", "run", "disk-space"])
        .env("LOCALGPT_DISK_WARN_PERCENT", "0")
        .assert()
        .success();
    assert!(
        t.read(&format!("workspace/memory/{today}.md"))
            .contains("Disk space")
    );
}

#[test]
fn stopping_gives_running_tasks_their_grace_then_cancels_them() {
    let t = Test::new();
    t.write("config.toml", "[heartbeat]\nstop_grace = \"1s\"\n");
    task(
        &t,
        "quick",
        "//! schedule: */1 * * * * *\nsleep(300);\nprint(\"finished in time\");\n",
    );
    task(
        &t,
        "endless",
        "//! schedule: */1 * * * * *\nsleep(60000);\nprint(\"never\");\n",
    );
    t.run(["daemon", "start"]).success();
    wait_for(&t, "both tasks to start", |all| {
        !runs_of(all, "quick").is_empty()
    });
    let started = Instant::now();
    t.run(["daemon", "stop"]).success();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the grace is 1 s"
    );
    let all = runs(&t);
    let endless = runs_of(&all, "endless");
    // Recorded as what happened to it: cancelled, not an error of the task.
    let cancelled = endless
        .iter()
        .find(|r| r["status"] == "cancelled")
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert!(
        cancelled["output"]
            .as_str()
            .unwrap()
            .contains("the daemon is stopping"),
        "{cancelled}"
    );
    assert!(runs_of(&all, "quick").iter().any(|r| r["status"] == "ok"));
}

#[test]
fn the_docs_task_example_is_a_valid_task_and_times_show_their_zone() {
    let t = Test::new();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/daemon.md"))
            .expect("docs/daemon.md");
    let example = readme
        .split("A task is a `.rhai` file")
        .nth(1)
        .and_then(|rest| rest.split("```rhai\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("docs/daemon.md's task example");
    task(&t, "disk", &format!("{example}print(\"ok\");\n"));
    t.write("config.toml", "[heartbeat]\ntimezone = \"Asia/Tokyo\"\n");
    let out = t.run(["heartbeat", "list"]).success();
    let listed = text(&out.get_output().stdout);
    assert!(!listed.contains("broken"), "{listed}");
    assert!(listed.contains("*/15 * * * *"), "{listed}");
    assert!(listed.contains("timeout: 30s"), "{listed}");
    assert!(listed.contains("(Asia/Tokyo)"), "{listed}");
}

#[test]
fn a_busy_task_stopped_by_its_own_timeout_is_recorded_as_a_timeout_that_names_it() {
    let t = Test::new();
    // Busy, not waiting: only the clock check between operations can stop it.
    t.write("config.toml", "[script]\nmax_operations = 100000000000\n");
    task(
        &t,
        "spin",
        "//! schedule: @daily\n//! timeout: 1s\nloop { }\n",
    );
    t.run(["heartbeat", "run", "spin"]).code(1);
    let all = runs(&t);
    let run = runs_of(&all, "spin")[0];
    assert_eq!(run["status"], "timeout", "{run}");
    let output = run["output"].as_str().unwrap();
    assert!(output.contains("1s (the task's timeout)"), "{output}");
    assert!(!output.contains("script.timeout_secs"), "{output}");
}
