//! The `localgpt` binary: parse the command line, run it, report an error once.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use localgpt::cli::Cli;
use localgpt::env::{EnvSource, ProcessEnv};
use localgpt::report;
use localgpt::style::Style;

fn main() -> ExitCode {
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
