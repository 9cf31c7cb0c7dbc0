//! `localgpt config …`: init, show, get, set, path and edit.

use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::Command as Process;

use anyhow::{Context as _, Result, bail};

use super::Context;
use crate::cli::ConfigCommand;
use crate::config::{ConfigError, Overrides, Settings, TEMPLATE, effective_document, get_value};
use crate::home::write_atomic_with_mode;
use crate::report::{EXIT_FAILURE, EXIT_OK, UsageError};

/// config.toml may hold API keys: a new one is readable by its owner only.
use crate::config::CONFIG_MODE;

pub fn run(command: ConfigCommand, ctx: &mut Context<'_>) -> Result<u8> {
    match command {
        ConfigCommand::Init { force } => init(ctx, force),
        ConfigCommand::Show => show(ctx),
        ConfigCommand::Get { key } => get(ctx, &key),
        ConfigCommand::Set { key, value } => set(ctx, &key, &value),
        ConfigCommand::Path => {
            writeln!(io::stdout().lock(), "{}", ctx.home.config_file().display())?;
            Ok(EXIT_OK)
        }
        ConfigCommand::Edit => edit(ctx),
    }
}

fn settings<'a>(ctx: &'a Context<'_>) -> Result<&'a Settings> {
    ctx.settings
        .as_ref()
        .context("internal: this command needs the settings loaded")
}

fn init(ctx: &Context<'_>, force: bool) -> Result<u8> {
    let path = ctx.home.config_file();
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut out = io::stdout().lock();
    match existing {
        Some(text) if text == TEMPLATE => {
            writeln!(out, "{} is already the annotated default", path.display())?;
        }
        Some(_) if !force => {
            return Err(UsageError(format!(
                "{} already exists and holds your settings. Use `localgpt config init --force` \
                 to replace it with the annotated default (your file is kept as config.toml.bak).",
                path.display()
            ))
            .into());
        }
        Some(text) => {
            let backup = path.with_extension("toml.bak");
            write_atomic_with_mode(&backup, text.as_bytes(), Some(CONFIG_MODE)).with_context(
                || format!("cannot back up the old config to {}", backup.display()),
            )?;
            write_config(&path, TEMPLATE)?;
            writeln!(
                out,
                "wrote {} (the previous one is in {})",
                path.display(),
                backup.display()
            )?;
        }
        None => {
            write_config(&path, TEMPLATE)?;
            writeln!(out, "wrote {}", path.display())?;
        }
    }
    Ok(EXIT_OK)
}

fn show(ctx: &Context<'_>) -> Result<u8> {
    let settings = settings(ctx)?;
    let doc = effective_document(settings);
    let mut out = io::stdout().lock();
    let header = format!(
        "# Settings in effect: {} with defaults, environment and flags applied.\n\
         # API keys are masked. Change a setting with `localgpt config set KEY VALUE`.\n",
        settings.path.display()
    );
    write!(out, "{}\n{doc}", ctx.style.dim(&header))?;
    out.flush()?;
    Ok(EXIT_OK)
}

fn get(ctx: &Context<'_>, key: &str) -> Result<u8> {
    let settings = settings(ctx)?;
    match get_value(settings, key)? {
        Some(value) => {
            writeln!(io::stdout().lock(), "{value}")?;
            Ok(EXIT_OK)
        }
        None => {
            writeln!(io::stderr().lock(), "`{key}` is not set")?;
            Ok(EXIT_FAILURE)
        }
    }
}

fn set(ctx: &Context<'_>, key: &str, value: &str) -> Result<u8> {
    let path = ctx.home.config_file();
    let Some(updated) = crate::config::set_in_file(&path, key, value)? else {
        writeln!(io::stdout().lock(), "{key} is already {value}")?;
        return Ok(EXIT_OK);
    };
    tracing::info!(key, "changed a setting in {}", path.display());
    // Echo the value as `config get` would show it: an API key stays masked on screen.
    let mut out = io::stdout().lock();
    match Settings::from_text(&updated, &path, ctx.env, &Overrides::default()) {
        Ok(effective) => {
            let shown = get_value(&effective, key)?.unwrap_or_default();
            writeln!(out, "{key} = {shown}")?;
            // A value from the environment still wins; say so rather than surprise.
            if let Some(crate::config::Source::Env(var)) = effective.sources.get(key) {
                tracing::warn!(
                    "${var} is set and overrides `{key}`; unset it for this value to apply"
                );
            }
        }
        Err(err) => writeln!(out, "{key} set (note: {err})")?,
    }
    Ok(EXIT_OK)
}

fn edit(ctx: &Context<'_>) -> Result<u8> {
    let path = ctx.home.config_file();
    let original = read_config_text(&path)?;
    let editor = ctx
        .env
        .var("VISUAL")
        .or_else(|| ctx.env.var("EDITOR"))
        .unwrap_or_else(|| "vi".to_string());
    // The copy lives beside the real file so that saving it is a same-folder rename.
    let draft = tempfile::Builder::new()
        .prefix(".config.edit.")
        .suffix(".toml")
        .tempfile_in(ctx.home.root())
        .context("cannot create a draft copy of config.toml to edit")?;
    fs::write(draft.path(), &original).context("cannot write the draft copy of config.toml")?;
    let interactive = io::stdin().is_terminal();
    loop {
        run_editor(&editor, draft.path())?;
        let edited = fs::read_to_string(draft.path()).context("cannot read the edited draft")?;
        if edited == original {
            writeln!(io::stdout().lock(), "no changes")?;
            return Ok(EXIT_OK);
        }
        match Settings::from_text(&edited, &path, ctx.env, &Overrides::default()) {
            Ok(_) => {
                write_config(&path, &edited)?;
                writeln!(io::stdout().lock(), "saved {}", path.display())?;
                return Ok(EXIT_OK);
            }
            Err(err) if interactive => {
                let mut stderr = io::stderr().lock();
                writeln!(stderr, "{} {err}", ctx.err_style.error("error:"))?;
                write!(stderr, "Edit again? [Y/n] ")?;
                stderr.flush()?;
                let mut answer = String::new();
                io::stdin().lock().read_line(&mut answer)?;
                if answer.trim().eq_ignore_ascii_case("n") {
                    let kept = keep_rejected(&path, &edited)?;
                    bail!(UsageError(format!(
                        "{} is unchanged; your edit is kept in {}",
                        path.display(),
                        kept.display()
                    )));
                }
            }
            Err(err) => {
                let kept = keep_rejected(&path, &edited)?;
                return Err(anyhow::Error::new(err).context(format!(
                    "the edit was not saved ({} is unchanged; your edit is kept in {})",
                    path.display(),
                    kept.display()
                )));
            }
        }
    }
}

/// Keeps a refused edit so that the person's work is not lost with the draft.
fn keep_rejected(path: &Path, edited: &str) -> Result<std::path::PathBuf> {
    let kept = path.with_extension("toml.rejected");
    write_atomic_with_mode(&kept, edited.as_bytes(), Some(CONFIG_MODE))
        .with_context(|| format!("cannot save the refused edit to {}", kept.display()))?;
    Ok(kept)
}

fn run_editor(editor: &str, file: &Path) -> Result<()> {
    // Through the shell, so that EDITOR="code --wait" works as it does for git.
    let status = Process::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file)
        .status()
        .with_context(|| format!("cannot start the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` exited with {status}; config.toml is unchanged");
    }
    Ok(())
}

fn read_config_text(path: &Path) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(TEMPLATE.to_string()),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }
        .into()),
    }
}

fn write_config(path: &Path, text: &str) -> Result<()> {
    write_atomic_with_mode(path, text.as_bytes(), Some(CONFIG_MODE)).map_err(|source| {
        ConfigError::Write {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}
