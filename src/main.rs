//! The `localgpt` binary: parse the command line, run it, report an error once.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use localgpt::cli::Cli;
use localgpt::env::{EnvSource, ProcessEnv};
use localgpt::report;
use localgpt::style::Style;

fn main() -> ExitCode {
    keep_secrets_from_children();
    let env = ProcessEnv;
    // `--no-color` must reach clap before it renders help or a usage error.
    let no_color = std::env::args_os().any(|arg| arg == "--no-color");
    let mut command = Cli::command();
    if no_color {
        command = command.color(clap::ColorChoice::Never);
    }
    let cli = match command
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        // Help and --version exit 0, usage errors 2, as clap decides.
        Err(err) => err.exit(),
    };
    let long_lived = matches!(
        cli.command,
        Some(localgpt::cli::Command::Daemon(_) | localgpt::cli::Command::Serve(_))
    );
    if let Some(localgpt::cli::Command::Models(localgpt::cli::ModelsCommand::Bench(args))) =
        &cli.command
        && let Some(threads) = args.threads
    {
        bench_threads(threads);
    }
    inference_threads(long_lived);
    let err_style = Style::detect(
        cli.global.no_color,
        &env as &dyn EnvSource,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    report::log_panics();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        localgpt::commands::run(cli, &env)
    }));
    // MCP servers started over stdio do not outlive the command that started them.
    localgpt::mcp::shutdown();
    let outcome = ran.unwrap_or_else(|panic| {
        Err(anyhow::anyhow!(
            "internal error (a bug in LocalGPT; the log has details): {}",
            report::panic_message(panic.as_ref())
        ))
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report::print_error(&err, &err_style);
            ExitCode::from(localgpt::commands::exit_code(&err))
        }
    }
}

/// Marks the process not dumpable: its `/proc/PID/environ` (API keys are in the
/// environment), memory and file descriptors become unreadable to processes of the same
/// user — the commands LocalGPT itself starts included (`tr '\0' '\n' <
/// /proc/$PPID/environ`) — and it cannot be ptraced. Core dumps are off with it.
fn keep_secrets_from_children() {
    #[cfg(target_os = "linux")]
    if let Err(err) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        // Not fatal: commands still run with the secrets scrubbed from their environment.
        eprintln!("warning: cannot protect this process's memory from its children: {err}");
    }
}

/// `models bench --threads N` measures the model on N threads, whichever pool runs it.
fn bench_threads(threads: u16) {
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        // SAFETY: called before any thread exists that could read the environment at
        // the same time (clap's parsing starts none).
        unsafe { std::env::set_var(var, threads.to_string()) };
    }
}

/// Model inference would use every core, which collapses its throughput as soon as
/// anything else runs: embeddings (f32 matrix products, on rayon's threads) get one
/// thread on a 2-core machine and all cores but one elsewhere. The chat model (its
/// own pool, `CANDLE_NUM_THREADS`) gets every core in a foreground command, where a
/// person waits for each token and the work ends with the answer, and the same as the
/// embeddings in the daemon and the server, which run beside everything else. Either
/// variable, when set, wins.
fn inference_threads(long_lived: bool) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let background = if cores <= 2 { 1 } else { cores - 1 };
    let chat = if long_lived { background } else { cores };
    for (var, threads) in [
        ("RAYON_NUM_THREADS", background),
        ("CANDLE_NUM_THREADS", chat),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: called before any thread exists that could read the environment at
            // the same time (clap's parsing starts none).
            unsafe { std::env::set_var(var, threads.to_string()) };
        }
    }
}
