use super::*;

#[test]
fn missed_runs_are_caught_up_only_where_asked_and_reboot_tasks_run_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let home = crate::home::Home::at(dir.path());
    let folder = tasks::folder(&home);
    std::fs::create_dir_all(&folder).unwrap();
    for (name, header) in [
        ("eager", "//! schedule: 0 0 1 1 *\n//! catch_up: true\n"),
        ("lazy", "//! schedule: 0 0 1 1 *\n"),
        ("fresh", "//! schedule: 0 0 1 1 *\n//! catch_up: true\n"),
        ("boot", "//! schedule: @reboot\n"),
    ] {
        std::fs::write(
            folder.join(format!("{name}.rhai")),
            format!("{header}print(1);\n"),
        )
        .unwrap();
    }
    let history = History::open(&home.index_db()).unwrap();
    let long_ago = Utc::now() - chrono::Duration::days(800);
    for name in ["eager", "lazy"] {
        history
            .record(&Run {
                task: name.to_string(),
                trigger: "schedule".to_string(),
                started: long_ago,
                duration_ms: 1,
                status: Status::Ok,
                output: String::new(),
            })
            .unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let env = RunEnv {
        home: home.clone(),
        config: crate::config::Config::default(),
        model: "gpt-4o".to_string(),
        runtime: runtime.handle().clone(),
    };
    let mut scheduler = Scheduler::new(env, history);
    runtime.block_on(async {
        scheduler.plan(Utc::now());
        scheduler.start_of_day(Utc::now());
        while !scheduler.running.is_empty() {
            if let Some(name) = scheduler.done_rx.recv().await {
                scheduler.running.remove(&name);
            }
        }
    });
    let history = History::open(&home.index_db()).unwrap();
    let triggers = |task: &str| -> Vec<String> {
        history
            .recent(Some(task), 10)
            .unwrap()
            .into_iter()
            .map(|run| run.trigger)
            .collect()
    };
    assert_eq!(triggers("eager"), ["catch-up", "schedule"]);
    assert_eq!(triggers("lazy"), ["schedule"]);
    assert!(
        triggers("fresh").is_empty(),
        "never ran, so it missed nothing"
    );
    assert_eq!(triggers("boot"), ["reboot"]);
}
