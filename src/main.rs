//! The `localgpt` binary: parse the command line, run it, report an error once.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use localgpt::cli::Cli;
use localgpt::env::{EnvSource, ProcessEnv};
use localgpt::report;
use localgpt::style::Style;

fn main() -> ExitCode {
    inference_threads();
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
    let err_style = Style::detect(
        cli.global.no_color,
        &env as &dyn EnvSource,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    match localgpt::commands::run(cli, &env) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report::print_error(&err, &err_style);
            ExitCode::from(report::exit_code(&err))
        }
    }
}

/// Model inference (candle, through rayon) would use every core, which collapses its
/// throughput as soon as anything else runs: one thread on a 2-core machine, all cores but
/// one elsewhere — unless `RAYON_NUM_THREADS` says otherwise.
fn inference_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if cores <= 2 { 1 } else { cores - 1 };
        // SAFETY: called first thing in `main`, before any thread exists that could read
        // the environment at the same time.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}
