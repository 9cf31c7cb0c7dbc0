//! `localgpt models install|list|rm`.

use std::io::{self, Write};

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::ModelsCommand;
use crate::models;
use crate::report::EXIT_OK;

pub fn run(command: ModelsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let mut out = io::stdout().lock();
    match command {
        ModelsCommand::Install { paths } => {
            for path in paths {
                let started = std::time::Instant::now();
                let installed = models::install(&ctx.home, &path)
                    .with_context(|| format!("cannot install {}", path.display()))?;
                writeln!(
                    out,
                    "installed {} ({}, {:.1} MB) in {} ({:.1} s)",
                    installed.name,
                    installed.kind,
                    installed.bytes as f64 / 1e6,
                    installed.path.display(),
                    started.elapsed().as_secs_f64()
                )?;
                let next = if installed.kind == "chat" {
                    format!(
                        "  `localgpt ask --model {} …` uses it; with no API key and no Ollama set up it is the default.",
                        crate::provider::local::model_id()
                    )
                } else {
                    "  `localgpt memory reindex` embeds your notes; `memory search` then finds by meaning too.".to_string()
                };
                writeln!(out, "{next}")?;
            }
        }
        ModelsCommand::List => {
            let installed = models::list(&ctx.home);
            if installed.is_empty() {
                writeln!(
                    out,
                    "no models installed (scripts/fetch-models.sh downloads and installs them)"
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
    }
    Ok(EXIT_OK)
}
