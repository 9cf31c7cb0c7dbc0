//! The daemon's loop. It sleeps until the next scheduled run, the next HEARTBEAT.md check,
//! a change in the workspace (seen by the file watcher) or a finished run — nothing wakes
//! it in between. Each run goes to a blocking thread; a run still going when its next time
//! comes is recorded as skipped, never doubled. On shutdown running tasks get
//! `heartbeat.stop_grace` to finish and are then cancelled.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use super::check::{self, CheckOutcome};
use super::history::{HEARTBEAT_TASK, History, Run, Status};
use super::runner::{RunEnv, run_task};
use super::schedule::{Schedule, Zone};
use super::tasks::{self, Task};
use crate::cancel::Cancel;
use crate::session::Transcript;

/// When the nightly consolidation of memory runs (local time), and under what name its
/// runs are recorded.
const CONSOLIDATION: &str = "30 3 * * *";
pub(crate) const CONSOLIDATION_TASK: &str = "memory consolidation";

/// Memory files are reindexed this long after the last change (editors write in bursts).
const REINDEX_DELAY: Duration = Duration::from_secs(2);

/// What `daemon status` reads: written whenever the plan changes.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub(crate) struct DaemonState {
    pub pid: u32,
    pub started: DateTime<Utc>,
    pub next_check: Option<DateTime<Utc>>,
    pub tasks: Vec<TaskState>,
    pub running: Vec<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct TaskState {
    pub name: String,
    pub schedule: String,
    pub next: Option<DateTime<Utc>>,
    pub problem: Option<String>,
}

struct Planned {
    task: Task,
    next: Option<DateTime<Utc>>,
}

pub(crate) struct Scheduler {
    env: RunEnv,
    zone: Zone,
    history: Arc<Mutex<History>>,
    planned: Vec<Planned>,
    running: HashMap<String, Cancel>,
    done_tx: mpsc::UnboundedSender<String>,
    done_rx: mpsc::UnboundedReceiver<String>,
    next_check: Option<DateTime<Utc>>,
    /// The nightly consolidation, unless `memory.consolidate` is "off".
    next_consolidation: Option<DateTime<Utc>>,
    reindex_at: Option<tokio::time::Instant>,
    transcript: Option<Transcript>,
    state: DaemonState,
}

impl Scheduler {
    pub fn new(env: RunEnv, history: History) -> Scheduler {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let now = Utc::now();
        let zone = env.config.heartbeat.zone();
        Scheduler {
            next_consolidation: next_consolidation(&env, now, zone),
            zone,
            next_check: Some(now + env.config.heartbeat.interval()),
            env,
            history: Arc::new(Mutex::new(history)),
            planned: Vec::new(),
            running: HashMap::new(),
            done_tx,
            done_rx,
            reindex_at: None,
            transcript: None,
            state: DaemonState {
                pid: std::process::id(),
                started: now,
                ..DaemonState::default()
            },
        }
    }

    /// Runs until `shutdown` resolves, then stops gracefully.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let (watch_tx, mut watch_rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
        let _watcher = self.watch(watch_tx);
        let now = Utc::now();
        self.plan(now);
        self.start_of_day(now);
        // Catch up with whatever changed while the daemon was not running.
        self.reindex_at = Some(tokio::time::Instant::now() + REINDEX_DELAY);
        tokio::pin!(shutdown);
        loop {
            let now = Utc::now();
            self.fire_due(now);
            self.write_state();
            let sleep = tokio::time::sleep(self.until_next(Utc::now()));
            tokio::select! {
                () = sleep => {
                    if self.reindex_at.is_some_and(|at| at <= tokio::time::Instant::now()) {
                        self.reindex_at = None;
                        self.reindex();
                    }
                }
                Some(paths) = watch_rx.recv() => {
                    let mut paths = paths;
                    while let Ok(more) = watch_rx.try_recv() {
                        paths.extend(more);
                    }
                    self.changed(&paths);
                }
                Some(name) = self.done_rx.recv() => {
                    self.running.remove(&name);
                }
                () = &mut shutdown => break,
            }
        }
        self.stop().await;
    }

    fn watch(
        &self,
        sender: mpsc::UnboundedSender<Vec<PathBuf>>,
    ) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher as _;
        let workspace = self.env.home.workspace();
        let _ = std::fs::create_dir_all(tasks::folder(&self.env.home));
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                {
                    let _ = sender.send(event.paths);
                }
            })
            .map_err(|err| tracing::warn!("cannot watch {}: {err}", workspace.display()))
            .ok()?;
        match watcher.watch(&workspace, notify::RecursiveMode::Recursive) {
            Ok(()) => Some(watcher),
            Err(err) => {
                tracing::warn!(
                    "cannot watch {} ({err}); new tasks are seen after a restart",
                    workspace.display()
                );
                None
            }
        }
    }

    fn changed(&mut self, paths: &[PathBuf]) {
        let folder = tasks::folder(&self.env.home);
        if paths.iter().any(|path| path.starts_with(&folder)) {
            tracing::info!("the tasks folder changed; reading it again");
            self.plan(Utc::now());
        }
        let memory_changed = paths.iter().any(|path| {
            path.extension().is_some_and(|ext| ext == "md") && !path.starts_with(&folder)
        });
        if memory_changed {
            self.reindex_at = Some(tokio::time::Instant::now() + REINDEX_DELAY);
        }
    }

    /// Reads the tasks and when each runs next; a task that keeps its schedule keeps its
    /// next time.
    fn plan(&mut self, now: DateTime<Utc>) {
        let found = tasks::discover(&self.env.home, &self.env.config);
        let mut planned = Vec::with_capacity(found.len());
        for task in found {
            let previous = self.planned.iter().find(|p| {
                p.task.name == task.name
                    && p.task.schedule.as_ref().ok().map(Schedule::expression)
                        == task.schedule.as_ref().ok().map(Schedule::expression)
            });
            let next = match (previous, &task.schedule) {
                (Some(previous), _) => previous.next,
                (None, Ok(schedule)) => schedule.next_after(now, self.zone),
                (None, Err(problem)) => {
                    tracing::warn!("heartbeat task {}: {problem}", task.name);
                    None
                }
            };
            planned.push(Planned { task, next });
        }
        self.planned = planned;
    }

    /// `@reboot` tasks, and `catch_up` tasks that missed runs while the daemon was down.
    fn start_of_day(&mut self, now: DateTime<Utc>) {
        let mut starts = Vec::new();
        for planned in &self.planned {
            let Ok(schedule) = &planned.task.schedule else {
                continue;
            };
            if matches!(schedule, Schedule::Reboot) {
                starts.push((planned.task.clone(), "reboot"));
            } else if planned.task.catch_up {
                let last = self
                    .history
                    .lock()
                    .ok()
                    .and_then(|h| h.last_started(&planned.task.name).ok().flatten());
                let missed = last
                    .and_then(|last| schedule.next_after(last, self.zone))
                    .is_some_and(|due| due < now);
                if missed {
                    starts.push((planned.task.clone(), "catch-up"));
                }
            }
        }
        for (task, trigger) in starts {
            self.start(&task, trigger);
        }
    }

    fn fire_due(&mut self, now: DateTime<Utc>) {
        let mut due = Vec::new();
        for planned in &mut self.planned {
            if planned.next.is_some_and(|next| next <= now) {
                due.push(planned.task.clone());
                // From now, not from the missed time: late runs are not replayed.
                planned.next = planned
                    .task
                    .schedule
                    .as_ref()
                    .ok()
                    .and_then(|s| s.next_after(now, self.zone));
            }
        }
        for task in due {
            self.start(&task, "schedule");
        }
        if self.next_check.is_some_and(|at| at <= now) {
            self.next_check = Some(now + self.env.config.heartbeat.interval());
            self.start_check(now);
        }
        if self.next_consolidation.is_some_and(|at| at <= now) {
            self.next_consolidation = next_consolidation(&self.env, now, self.zone);
            self.start_consolidation(now);
        }
    }

    /// Distils the daily logs written since the last run (a week at most) into proposed
    /// changes to MEMORY.md, or makes them with `memory.consolidate = "auto"`.
    fn start_consolidation(&mut self, now: DateTime<Utc>) {
        if self.running.contains_key(CONSOLIDATION_TASK) {
            return;
        }
        let last = self
            .history
            .lock()
            .ok()
            .and_then(|h| h.last_started(CONSOLIDATION_TASK).ok().flatten());
        let days = last.map_or(7, |last| (now - last).num_days().clamp(1, 7) as u32);
        let cancel = Cancel::new();
        self.running
            .insert(CONSOLIDATION_TASK.to_string(), cancel.clone());
        let (env, history, done) = (self.env.clone(), self.history.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let clock = std::time::Instant::now();
            let apply =
                env.config.memory.consolidate == crate::config::schema::ConsolidateMode::Auto;
            let work = async {
                let found = crate::agent::consolidation::find(
                    &env.home,
                    &env.config,
                    &env.model,
                    env.policy(),
                    days,
                    &cancel,
                )
                .await?;
                crate::agent::consolidation::settle(&env.home, &env.config, found, apply)
            };
            let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work))
                .await
                .unwrap_or_else(|panic| {
                    Err(format!(
                        "internal error (a bug in LocalGPT): {}",
                        crate::report::panic_message(panic.as_ref())
                    ))
                });
            let (status, output) = match outcome {
                Ok(crate::agent::consolidation::Settled::Nothing) => {
                    (Status::Ok, "nothing to change in MEMORY.md".to_string())
                }
                Ok(crate::agent::consolidation::Settled::Applied(copy)) => (
                    Status::Ok,
                    format!(
                        "MEMORY.md changed; the copy from before is {}",
                        copy.display()
                    ),
                ),
                Ok(crate::agent::consolidation::Settled::Proposed(count)) => (
                    Status::Ok,
                    format!("{count} changes to MEMORY.md wait for `localgpt memory review`"),
                ),
                Err(err) => (Status::Error, err),
            };
            let run = Run {
                task: CONSOLIDATION_TASK.to_string(),
                trigger: "schedule".to_string(),
                started: now,
                duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
                status,
                output,
            };
            Self::record(&history, &run);
            let _ = done.send(CONSOLIDATION_TASK.to_string());
        });
    }

    fn until_next(&self, now: DateTime<Utc>) -> Duration {
        let mut next = self.planned.iter().filter_map(|p| p.next).min();
        for at in [self.next_check, self.next_consolidation]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        let mut wait = next
            .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
            // Nothing scheduled: sleep long; the watcher wakes us for a new task.
            .unwrap_or(Duration::from_secs(86_400));
        if let Some(at) = self.reindex_at {
            wait = wait.min(at.saturating_duration_since(tokio::time::Instant::now()));
        }
        wait
    }

    fn record(history: &Mutex<History>, run: &Run) {
        match history.lock() {
            Ok(history) => {
                if let Err(err) = history.record(run) {
                    tracing::error!("{err}");
                }
            }
            Err(_) => tracing::error!("the run history is unavailable"),
        }
        tracing::info!(
            task = run.task,
            trigger = run.trigger,
            status = run.status.as_str(),
            ms = run.duration_ms,
            "heartbeat run"
        );
    }

    fn start(&mut self, task: &Task, trigger: &str) {
        if self.running.contains_key(&task.name) {
            Self::record(
                &self.history,
                &Run {
                    task: task.name.clone(),
                    trigger: trigger.to_string(),
                    started: Utc::now(),
                    duration_ms: 0,
                    status: Status::Skipped,
                    output: "the previous run was still going".to_string(),
                },
            );
            return;
        }
        let cancel = Cancel::new();
        self.running.insert(task.name.clone(), cancel.clone());
        let (env, history, done) = (self.env.clone(), self.history.clone(), self.done_tx.clone());
        let (task, trigger) = (task.clone(), trigger.to_string());
        tokio::task::spawn_blocking(move || {
            let run = run_task(&env, &task, &trigger, cancel, None);
            Self::record(&history, &run);
            let _ = done.send(task.name);
        });
    }

    fn start_check(&mut self, now: DateTime<Utc>) {
        if let Some(reason) = check::idle_reason(&self.env, now, false) {
            tracing::debug!("heartbeat check skipped: {reason}");
            return;
        }
        if self.running.contains_key(HEARTBEAT_TASK) {
            tracing::info!("the previous heartbeat check is still going");
            return;
        }
        if self.transcript.is_none() {
            self.transcript = Transcript::start(
                &self.env.home,
                &self.env.model,
                "heartbeat",
                chrono::Local::now(),
            )
            .map_err(|err| tracing::warn!("the heartbeat session will not be saved: {err}"))
            .ok();
        }
        let cancel = Cancel::new();
        self.running
            .insert(HEARTBEAT_TASK.to_string(), cancel.clone());
        let (env, history, done) = (self.env.clone(), self.history.clone(), self.done_tx.clone());
        let transcript = self.transcript.clone();
        tokio::spawn(async move {
            let clock = std::time::Instant::now();
            // A bug that panics in one check is recorded as its failure; the daemon and
            // the next checks go on.
            let check = check::run_check(&env, &history, transcript.as_ref(), now, &cancel);
            let outcome =
                futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(check))
                    .await
                    .unwrap_or_else(|panic| {
                        CheckOutcome::Failed(format!(
                            "internal error (a bug in LocalGPT): {}",
                            crate::report::panic_message(panic.as_ref())
                        ))
                    });
            let run = check_run(outcome, now, clock.elapsed());
            Self::record(&history, &run);
            let _ = done.send(HEARTBEAT_TASK.to_string());
        });
    }

    /// Brings the index up to date, then embeds the new chunks (when semantic search is
    /// on), batch by batch, so searches meanwhile see every batch that is done.
    fn reindex(&self) {
        let (home, config) = (self.env.home.clone(), self.env.config.clone());
        tokio::task::spawn_blocking(move || {
            let today = chrono::Local::now().date_naive();
            let mut memory = match crate::memory::Memory::open(&home, &config.memory, today) {
                Ok(memory) => memory,
                Err(err) => return tracing::warn!("memory reindex failed: {err}"),
            };
            match memory.reindex(false, &mut |_, _| {}) {
                Ok(report) => tracing::info!("memory reindexed: {report:?}"),
                Err(err) => return tracing::warn!("memory reindex failed: {err}"),
            }
            // Loaded for the job and dropped after it: an idle daemon stays small.
            let Some(model) = crate::memory::embed::configured_key(&home, &config) else {
                return;
            };
            if memory.pending_embeddings(&model).unwrap_or(0) == 0 {
                return;
            }
            let embedder = match crate::memory::embed::configured(&home, &config) {
                Ok(embedder) => embedder,
                Err(err) => return tracing::warn!("semantic search is off: {err}"),
            };
            if let Some(embedder) = &embedder {
                match memory.embed_pending(embedder, usize::MAX, &mut |_| {}) {
                    Ok(0) => {}
                    Ok(done) => tracing::info!("embedded {done} chunks"),
                    Err(err) => tracing::warn!("embedding failed: {err}"),
                }
            }
        });
    }

    fn write_state(&mut self) {
        self.state.next_check = self.next_check;
        self.state.tasks = self
            .planned
            .iter()
            .map(|p| TaskState {
                name: p.task.name.clone(),
                schedule: p
                    .task
                    .schedule
                    .as_ref()
                    .map(|s| s.expression().to_string())
                    .unwrap_or_default(),
                next: p.next,
                problem: p.task.problem().map(str::to_string),
            })
            .collect();
        let mut running: Vec<String> = self.running.keys().cloned().collect();
        running.sort();
        self.state.running = running;
        if let Ok(text) = serde_json::to_vec_pretty(&self.state)
            && let Err(err) = crate::home::write_atomic(&state_file(&self.env.home), &text)
        {
            tracing::warn!("cannot write the daemon state: {err}");
        }
    }

    async fn stop(&mut self) {
        let grace = self.env.config.heartbeat.stop_grace();
        if !self.running.is_empty() {
            tracing::info!(
                "stopping: waiting up to {} for {} running task(s)",
                super::format_duration(grace),
                self.running.len()
            );
        }
        let deadline = tokio::time::Instant::now() + grace;
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline, self.done_rx.recv()).await {
                Ok(Some(name)) => {
                    self.running.remove(&name);
                }
                _ => break,
            }
        }
        for cancel in self.running.values() {
            cancel.cancel();
        }
        // Cancelled runs notice within a moment and record themselves.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.running.is_empty() {
            match tokio::time::timeout_at(deadline, self.done_rx.recv()).await {
                Ok(Some(name)) => {
                    self.running.remove(&name);
                }
                _ => break,
            }
        }
        let _ = std::fs::remove_file(state_file(&self.env.home));
    }
}

/// Where the running daemon describes its plan.
/// The next nightly consolidation after `now`, unless `memory.consolidate` is "off".
fn next_consolidation(env: &RunEnv, now: DateTime<Utc>, zone: Zone) -> Option<DateTime<Utc>> {
    if env.config.memory.consolidate == crate::config::schema::ConsolidateMode::Off {
        return None;
    }
    Schedule::parse(CONSOLIDATION).ok()?.next_after(now, zone)
}

pub(crate) fn state_file(home: &crate::home::Home) -> PathBuf {
    home.root().join("daemon.state.json")
}

/// A check's outcome as a history record.
pub(crate) fn check_run(outcome: CheckOutcome, started: DateTime<Utc>, took: Duration) -> Run {
    let (status, output) = match outcome {
        CheckOutcome::Ok => (Status::Ok, check::OK_TOKEN.to_string()),
        CheckOutcome::Message(message) => (Status::Ok, message),
        CheckOutcome::Repeated(message) => (
            Status::Skipped,
            format!("said within the last 24 hours, not sent again: {message}"),
        ),
        CheckOutcome::Failed(error) => (Status::Error, error),
        CheckOutcome::Cancelled => (Status::Cancelled, "stopped with the daemon".to_string()),
    };
    Run {
        task: HEARTBEAT_TASK.to_string(),
        trigger: "interval".to_string(),
        started,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        status,
        output,
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
