//! `localgpt daemon start|stop|status|run`.

use std::io::{self, Write};

use anyhow::{Context as _, Result};
use chrono::Utc;

use super::Context;
use super::heartbeat::last_result;
use super::serve::{DRAIN, shutdown_signal};
use crate::cli::DaemonCommand;
use crate::heartbeat::daemon::{self, PidLock};
use crate::heartbeat::format_duration;
use crate::heartbeat::history::{HEARTBEAT_TASK, History};
use crate::heartbeat::runner::RunEnv;
use crate::heartbeat::schedule::Zone;
use crate::heartbeat::scheduler::{DaemonState, Scheduler, state_file};
use crate::report::EXIT_OK;

/// `daemon status` when no daemon runs, as LSB init scripts report it.
const EXIT_NOT_RUNNING: u8 = 3;

pub fn run(command: DaemonCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: daemon needs the settings loaded")?;
    match command {
        DaemonCommand::Start => {
            let log = ctx.home.logs_dir().join("daemon.out");
            let pid = daemon::spawn(&ctx.home, &log)?;
            writeln!(
                io::stdout().lock(),
                "started the daemon (pid {pid}); its log is in {}",
                ctx.home.logs_dir().display()
            )?;
            Ok(EXIT_OK)
        }
        DaemonCommand::Stop => {
            let wait = settings.config.heartbeat.stop_grace() + std::time::Duration::from_secs(10);
            let pid = daemon::stop(&ctx.home, wait)?;
            writeln!(io::stdout().lock(), "stopped the daemon (pid {pid})")?;
            Ok(EXIT_OK)
        }
        DaemonCommand::Status => status(ctx),
        DaemonCommand::Run { detach } => {
            if detach {
                // Its own session: closing the terminal that started it does not stop it.
                let _ = rustix::process::setsid();
            }
            let (lock, stale) = PidLock::acquire(&ctx.home)?;
            if let Some(pid) = stale {
                tracing::info!("took over a stale pid file (pid {pid} was not running)");
            }
            let runtime =
                crate::runtime::with_workers(Some(1)).context("cannot start the async runtime")?;
            let env = RunEnv::new(ctx.home.clone(), settings, runtime.handle().clone());
            let history = History::open(&ctx.home.index_db())?;
            tracing::info!(pid = std::process::id(), "daemon started");
            if !detach {
                writeln!(
                    io::stderr().lock(),
                    "daemon running (pid {}); Ctrl-C or `localgpt daemon stop` stops it",
                    std::process::id()
                )?;
            }
            runtime.block_on(async {
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let server = if settings.config.server.enabled {
                    let listen = crate::server::Listen {
                        bind: None,
                        port: None,
                    };
                    let (listener, state) =
                        crate::server::bind(&ctx.home, settings, &listen).await?;
                    tracing::info!("serving the API on {}", listener.local_addr()?);
                    let mut stopped = stopped.clone();
                    let until = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    Some(tokio::spawn(crate::server::serve(
                        listener, state, until, DRAIN,
                    )))
                } else {
                    None
                };
                // The Telegram bot, when one is configured: answered until the daemon stops.
                let channel_stop = crate::cancel::Cancel::new();
                let channel = settings.config.channels.telegram.is_some().then(|| {
                    let (home, config) = (ctx.home.clone(), settings.config.clone());
                    let (model, cancel) = (settings.model().to_string(), channel_stop.clone());
                    tokio::spawn(async move {
                        if let Err(err) =
                            crate::channels::telegram::run(&home, &config, &model, &cancel).await
                        {
                            tracing::error!("the Telegram channel stopped: {err:#}");
                        }
                    })
                });
                let signal = async {
                    shutdown_signal().await;
                    let _ = stop.send(true);
                };
                Scheduler::new(env, history).run(signal).await;
                let _ = stop.send(true);
                channel_stop.cancel();
                if let Some(server) = server {
                    let _ = server.await;
                }
                if let Some(channel) = channel {
                    let _ = channel.await;
                }
                anyhow::Ok(())
            })?;
            tracing::info!("daemon stopped");
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            drop(lock);
            Ok(EXIT_OK)
        }
    }
}

fn status(ctx: &Context<'_>) -> Result<u8> {
    let mut out = io::stdout().lock();
    let Some(pid) = daemon::running_pid(&ctx.home)? else {
        writeln!(
            out,
            "the daemon is not running (`localgpt daemon start` starts it)"
        )?;
        return Ok(EXIT_NOT_RUNNING);
    };
    let uptime = daemon::started_at(&ctx.home)
        .and_then(|at| at.elapsed().ok())
        .map(format_duration)
        .unwrap_or_else(|| "?".to_string());
    writeln!(out, "the daemon is running: pid {pid}, up {uptime}")?;
    let state: Option<DaemonState> = std::fs::read(state_file(&ctx.home))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let history = History::open(&ctx.home.index_db()).ok();
    let now = Utc::now();
    let zone = ctx
        .settings
        .as_ref()
        .map_or(Zone::Local, |settings| settings.config.heartbeat.zone());
    let due = |at: Option<chrono::DateTime<Utc>>| match at {
        Some(at) if at > now => format!(
            "{} (in {})",
            zone.show(at),
            format_duration((at - now).to_std().unwrap_or_default())
        ),
        Some(_) => "now".to_string(),
        None => "not scheduled".to_string(),
    };
    if let Some(state) = &state {
        for task in &state.tasks {
            let running = if state.running.contains(&task.name) {
                " (running)"
            } else {
                ""
            };
            match &task.problem {
                Some(problem) => writeln!(out, "  {}: broken: {problem}", task.name)?,
                None => writeln!(
                    out,
                    "  {}{running}: {}; next {}",
                    task.name,
                    task.schedule,
                    due(task.next)
                )?,
            }
            if let Some(last) = history.as_ref().and_then(|h| last_result(h, &task.name)) {
                writeln!(out, "      last: {last}")?;
            }
        }
        writeln!(
            out,
            "  {HEARTBEAT_TASK}: next check {}",
            due(state.next_check)
        )?;
        if let Some(last) = history
            .as_ref()
            .and_then(|h| last_result(h, HEARTBEAT_TASK))
        {
            writeln!(out, "      last: {last}")?;
        }
    }
    Ok(EXIT_OK)
}
