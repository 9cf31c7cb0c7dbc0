//! Dispatch: set up what a command needs (home folder, settings, logging) and run it.
//!
//! Commands that repair the configuration (`config init`, `set`, `edit`, `path`) do not
//! load it first, so a broken config.toml never locks a person out of fixing it.

mod ask;
mod channels;
mod config;
mod daemon;
mod exit;
mod heartbeat;
mod mcp;
mod memory;
mod memory_review;
mod models;
mod models_bench;
mod run;
mod sandbox;
mod secrets;
mod serve;
mod sessions;
mod skills;
mod ui;

use std::io::{IsTerminal, Write};

use anyhow::Result;

use crate::cli::{
    ChannelsCommand, Cli, Command, ConfigCommand, DaemonCommand, HeartbeatCommand, McpCommand,
    MemoryCommand, ModelsCommand, SandboxCommand, SecretsCommand, SessionsCommand, SkillsCommand,
};
use crate::config::{Overrides, Settings};
use crate::env::EnvSource;
use crate::home::Home;
use crate::logging::{self, LogSetup, Verbosity};
use crate::report::EXIT_OK;
use crate::style::Style;

pub use exit::exit_code;

/// What every command gets: where things are and how to print.
pub(crate) struct Context<'a> {
    pub home: Home,
    pub env: &'a dyn EnvSource,
    pub verbosity: Verbosity,
    /// For stdout.
    pub style: Style,
    /// For stderr.
    pub err_style: Style,
    /// Settings, for the commands that load them.
    pub settings: Option<Settings>,
}

/// Runs the parsed command line; returns the exit code for a run that did not fail.
pub fn run(cli: Cli, env: &dyn EnvSource) -> Result<u8> {
    let global = &cli.global;
    let style = Style::detect(global.no_color, env, std::io::stdout().is_terminal());
    let err_style = Style::detect(global.no_color, env, std::io::stderr().is_terminal());
    let verbosity = Verbosity::from_flags(global.verbose, global.quiet);

    if let Some(Command::Completions { shell }) = &cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(
            *shell,
            &mut command,
            "localgpt",
            &mut std::io::stdout().lock(),
        );
        return Ok(EXIT_OK);
    }

    // Runs inside the sandbox, where LocalGPT's home is out of reach by design.
    if let Some(Command::Sandbox(SandboxCommand::Probe(args))) = &cli.command {
        return sandbox::probe(args);
    }

    let home = Home::locate(global.home.as_deref(), env)?;
    if let Some(Command::Config(ConfigCommand::Path)) = &cli.command {
        writeln!(std::io::stdout().lock(), "{}", home.config_file().display())?;
        return Ok(EXIT_OK);
    }

    let created = home.ensure(crate::config::TEMPLATE)?;
    let repairs_config = matches!(
        &cli.command,
        Some(Command::Config(
            ConfigCommand::Init { .. } | ConfigCommand::Set { .. } | ConfigCommand::Edit
        ))
    );
    let settings = if repairs_config {
        None
    } else {
        let overrides = Overrides {
            model: global.model.clone(),
            local_chat_model: crate::models::catalogue::best_installed(&home),
        };
        Some(Settings::load(&home.config_file(), env, &overrides)?)
    };

    let defaults = crate::config::schema::LoggingConfig::default();
    let log_config = settings.as_ref().map_or(&defaults, |s| &s.config.logging);
    let logs_dir = home.logs_dir();
    if let Some(warning) = logging::init(LogSetup {
        logs_dir: Some(&logs_dir),
        file_filter: &log_config.level,
        keep_days: log_config.keep_days,
        verbosity,
        style: err_style,
        rust_log: env.var("RUST_LOG"),
    }) {
        tracing::warn!("{warning}");
    }
    // Only the command's name: its arguments may hold a prompt or an API key.
    tracing::info!(
        home = %home.root().display(),
        "localgpt {} {}",
        env!("CARGO_PKG_VERSION"),
        command_name(cli.command.as_ref())
    );

    if created.first_run() && verbosity != Verbosity::Quiet {
        welcome(&home, &created, &err_style)?;
    }
    if let Some(settings) = &settings {
        warn_unknown_keys(settings);
    }

    let mut ctx = Context {
        home,
        env,
        verbosity,
        style,
        err_style,
        settings,
    };
    dispatch(cli.command, &mut ctx)
}

fn dispatch(command: Option<Command>, ctx: &mut Context<'_>) -> Result<u8> {
    match command {
        None => repl(ctx, None),
        Some(Command::Chat(args)) => repl(ctx, args.resume),
        Some(Command::Config(command)) => config::run(command, ctx),
        Some(Command::Secrets(command)) => secrets::run(command, ctx),
        Some(Command::Channels(command)) => channels::run(command, ctx),
        Some(Command::Memory(command)) => memory::run(command, ctx),
        Some(Command::Sessions(command)) => sessions::run(command, ctx),
        Some(Command::Ask(args)) => ask::run(args, ctx),
        Some(Command::Run(args)) => run::run(args, ctx),
        Some(Command::Skills(command)) => skills::run(command, ctx),
        Some(Command::Heartbeat(command)) => heartbeat::run(command, ctx),
        Some(Command::Daemon(command)) => daemon::run(command, ctx),
        Some(Command::Serve(args)) => serve::run(args, ctx),
        Some(Command::Ui(args)) => ui::run(args, ctx),
        Some(Command::Models(command)) => models::run(command, ctx),
        Some(Command::Sandbox(command)) => sandbox::run(command, ctx),
        Some(Command::Mcp(command)) => mcp::run(command, ctx),
        // Answered before the home folder is touched; see `run`.
        Some(Command::Completions { .. }) => Ok(EXIT_OK),
    }
}

fn repl(ctx: &mut Context<'_>, resume: Option<String>) -> Result<u8> {
    let settings = ctx
        .settings
        .take()
        .ok_or_else(|| anyhow::anyhow!("internal: the REPL needs the settings loaded"))?;
    let mut repl = crate::repl::Repl::new(ctx.home.clone(), settings, ctx.style, ctx.err_style)?;
    if let Some(id) = resume {
        repl.resume(&id)?;
    }
    repl.run()?;
    Ok(EXIT_OK)
}

/// The command's name without its arguments, e.g. "config set".
fn command_name(command: Option<&Command>) -> &'static str {
    match command {
        None => "",
        Some(Command::Chat(_)) => "chat",
        Some(Command::Ask(_)) => "ask",
        Some(Command::Run(_)) => "run",
        Some(Command::Memory(memory)) => match memory {
            MemoryCommand::Search { .. } => "memory search",
            MemoryCommand::Reindex { .. } => "memory reindex",
            MemoryCommand::Stats => "memory stats",
            MemoryCommand::Recent { .. } => "memory recent",
            MemoryCommand::Add { .. } => "memory add",
            MemoryCommand::Get { .. } => "memory get",
            MemoryCommand::Consolidate { .. } => "memory consolidate",
            MemoryCommand::Review { .. } => "memory review",
        },
        Some(Command::Sessions(command)) => match command {
            SessionsCommand::List { .. } => "sessions list",
            SessionsCommand::Show { .. } => "sessions show",
            SessionsCommand::Rm { .. } => "sessions rm",
            SessionsCommand::Prune { .. } => "sessions prune",
        },
        Some(Command::Skills(command)) => match command {
            SkillsCommand::List => "skills list",
            SkillsCommand::Show { .. } => "skills show",
            SkillsCommand::Run { .. } => "skills run",
            SkillsCommand::New { .. } => "skills new",
        },
        Some(Command::Heartbeat(command)) => match command {
            HeartbeatCommand::List => "heartbeat list",
            HeartbeatCommand::Run { .. } => "heartbeat run",
            HeartbeatCommand::Check => "heartbeat check",
            HeartbeatCommand::Log { .. } => "heartbeat log",
        },
        Some(Command::Daemon(command)) => match command {
            DaemonCommand::Start => "daemon start",
            DaemonCommand::Stop => "daemon stop",
            DaemonCommand::Status => "daemon status",
            DaemonCommand::Run { .. } => "daemon run",
        },
        Some(Command::Serve(_)) => "serve",
        Some(Command::Ui(_)) => "ui",
        Some(Command::Models(command)) => match command {
            ModelsCommand::Install { .. } => "models install",
            ModelsCommand::Import { .. } => "models import",
            ModelsCommand::List { .. } => "models list",
            ModelsCommand::Rm { .. } => "models rm",
            ModelsCommand::Bench(_) => "models bench",
            ModelsCommand::Pull { .. } => "models pull",
        },
        Some(Command::Sandbox(command)) => match command {
            SandboxCommand::Check => "sandbox check",
            SandboxCommand::Probe(_) => "sandbox probe",
        },
        Some(Command::Mcp(command)) => match command {
            McpCommand::List => "mcp list",
            McpCommand::Tools { .. } => "mcp tools",
            McpCommand::Call { .. } => "mcp call",
            McpCommand::Read { .. } => "mcp read",
            McpCommand::Serve => "mcp serve",
        },
        Some(Command::Completions { .. }) => "completions",
        Some(Command::Channels(command)) => match command {
            ChannelsCommand::Run => "channels run",
            ChannelsCommand::Test { .. } => "channels test",
            ChannelsCommand::Send { .. } => "channels send",
            ChannelsCommand::Status => "channels status",
            ChannelsCommand::Pair { .. } => "channels pair",
        },
        Some(Command::Secrets(command)) => match command {
            SecretsCommand::Set { .. } => "secrets set",
            SecretsCommand::List => "secrets list",
            SecretsCommand::Rm { .. } => "secrets rm",
            SecretsCommand::Migrate => "secrets migrate",
        },
        Some(Command::Config(config)) => match config {
            ConfigCommand::Init { .. } => "config init",
            ConfigCommand::Show => "config show",
            ConfigCommand::Get { .. } => "config get",
            ConfigCommand::Set { .. } => "config set",
            ConfigCommand::Path => "config path",
            ConfigCommand::Edit => "config edit",
        },
    }
}

fn welcome(home: &Home, created: &crate::home::Created, style: &Style) -> Result<()> {
    let mut err = std::io::stderr().lock();
    if created.paths.first().map(|p| p.as_path()) == Some(home.root()) {
        writeln!(
            err,
            "{} created your LocalGPT home at {}\n  config.toml            settings (`localgpt config show`)\n  workspace/MEMORY.md    long-term memory, plain Markdown\n  workspace/HEARTBEAT.md tasks for the background daemon\nNo API key? `localgpt models install` downloads a small offline chat model and search by\nmeaning (240 MB, Apache-2.0); `localgpt models` manages them.",
            style.success("Welcome!"),
            home.root().display()
        )?;
    } else {
        for path in &created.paths {
            tracing::info!("recreated missing {}", path.display());
        }
    }
    Ok(())
}

fn warn_unknown_keys(settings: &Settings) {
    for unknown in &settings.unknown {
        let place = match unknown.line {
            Some(line) => format!("{} line {line}", settings.path.display()),
            None => settings.path.display().to_string(),
        };
        let hint = unknown
            .suggestion
            .as_ref()
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        tracing::warn!(
            "{place}: unknown setting `{}` is ignored{hint}",
            unknown.key
        );
    }
}
