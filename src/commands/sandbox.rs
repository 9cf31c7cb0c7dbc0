//! `localgpt sandbox check` (and the probe it starts inside the sandbox).

use std::io::{self, Write};

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::{ProbeArgs, SandboxCommand};
use crate::config::SandboxMode;
use crate::policy::Policy;
use crate::report::EXIT_OK;
use crate::sandbox::check::{Attempts, run_probe, run_trials};
use crate::sandbox::support;

/// The exit status when a trial was not refused (or the check could not run).
const EXIT_ESCAPED: u8 = 1;

pub fn run(command: SandboxCommand, ctx: &mut Context<'_>) -> Result<u8> {
    match command {
        SandboxCommand::Check => check(ctx),
        SandboxCommand::Probe(args) => probe(&args),
    }
}

pub fn probe(args: &ProbeArgs) -> Result<u8> {
    let attempts = Attempts {
        write_outside: args.write_outside.clone(),
        write_temp: args.write_temp.clone(),
        read: args.read.clone(),
        environ_of: args.environ_of,
        ptrace: args.ptrace,
        personality: args.personality,
        connect: args.connect,
        connect_unix: args.connect_unix.clone(),
        write_home: args.write_home.clone(),
        leave_behind: args.leave_behind.clone(),
    };
    writeln!(io::stdout().lock(), "{}", run_probe(&attempts))?;
    Ok(EXIT_OK)
}

fn check(ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: sandbox check needs the settings loaded")?;
    let tools = &settings.config.tools;
    let style = ctx.style;
    let mut out = io::stdout().lock();
    let mode = match tools.sandbox {
        SandboxMode::Auto => "auto",
        SandboxMode::Required => "required",
        SandboxMode::Off => "off",
    };
    writeln!(
        out,
        "{} (tools.sandbox = \"{mode}\", tools.bash_network = {})",
        style.bold("Sandbox for shell commands"),
        tools.bash_network
    )?;
    let support = support();
    let yes_no = |yes: bool| if yes { "yes" } else { "no" };
    let landlock = match support.landlock_abi() {
        Some(abi) if abi >= crate::sandbox::LANDLOCK_ABI_WANTED => format!("ABI {abi} or newer"),
        Some(abi) => format!("ABI {abi}"),
        None => "no".to_string(),
    };
    writeln!(out, "  Landlock (files, ptrace, signals)  {landlock}")?;
    writeln!(
        out,
        "  seccomp (system calls)             {}",
        yes_no(support.seccomp())
    )?;
    writeln!(
        out,
        "  namespaces (network off)           {}",
        yes_no(support.namespaces())
    )?;
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let policy = Policy::new(&ctx.home, &cwd, tools);
    writeln!(
        out,
        "  current folder                     {}",
        if policy.cwd_holds_home() {
            "read-only: it holds your home folder (login scripts)"
        } else {
            "writable"
        }
    )?;
    writeln!(
        out,
        "  processes                          {}",
        if support.namespaces() {
            "end with the command (PID namespace)"
        } else {
            "process group stopped at the time limit (no namespaces)"
        }
    )?;
    writeln!(
        out,
        "  .env files                         {} found here and in your home's projects, closed",
        policy.env_files().len()
    )?;
    writeln!(
        out,
        "  output                             {} MiB kept a stream, stopped past {} MiB",
        crate::sandbox::KEPT_BYTES / (1024 * 1024),
        crate::sandbox::HARD_CAP_BYTES / (1024 * 1024)
    )?;
    for missing in support.missing(tools.bash_network) {
        writeln!(out, "  {}", style.warning(&format!("cannot {missing}")))?;
    }
    if tools.sandbox == SandboxMode::Off {
        writeln!(
            out,
            "  {}",
            style.warning(
                "commands run unconfined (tools.sandbox = \"off\"); trying what \"auto\" would do:"
            )
        )?;
    }

    let runtime = crate::runtime::on_this_thread().context("cannot start the async runtime")?;
    let trials = match runtime.block_on(run_trials(&policy, &ctx.home.config_file())) {
        Ok(trials) => trials,
        Err(err) => {
            writeln!(
                out,
                "{}",
                style.error(&format!("cannot try the sandbox: {err}"))
            )?;
            return Ok(EXIT_ESCAPED);
        }
    };
    writeln!(out, "{}", style.bold("Tried inside it"))?;
    let mut all_held = true;
    for trial in &trials {
        let mark = if trial.as_expected() {
            style.success("ok")
        } else {
            all_held = false;
            style.error("NO")
        };
        writeln!(out, "  {mark}  {trial}")?;
    }
    Ok(if all_held { EXIT_OK } else { EXIT_ESCAPED })
}
