//! `localgpt secrets …`: set, list, rm and migrate — API keys and channel tokens kept in
//! the encrypted store (`crate::secrets`) that settings refer to as `secret:NAME`.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context as _, Result, bail};
use toml_edit::{DocumentMut, Item, Value};

use super::Context;
use crate::cli::SecretsCommand;
use crate::config::CONFIG_MODE;
use crate::report::{EXIT_FAILURE, EXIT_OK};
use crate::secrets::{PASSPHRASE_ENV, REFERENCE_PREFIX, Vault, check_name};

pub fn run(command: SecretsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let vault = Vault::in_home(ctx.home.root(), ctx.env.var(PASSPHRASE_ENV));
    match command {
        SecretsCommand::Set { name } => set(&vault, &name),
        SecretsCommand::List => list(&vault),
        SecretsCommand::Rm { name } => {
            if vault.remove(&name)? {
                writeln!(io::stdout().lock(), "removed {name}")?;
                Ok(EXIT_OK)
            } else {
                writeln!(io::stderr().lock(), "there is no secret `{name}`")?;
                Ok(EXIT_FAILURE)
            }
        }
        SecretsCommand::Migrate => migrate(ctx, &vault),
    }
}

/// The value comes from the terminal, unechoed, or from standard input (`… | localgpt
/// secrets set NAME`): never from the command line, where the shell's history and other
/// users' `ps` would see it.
fn set(vault: &Vault, name: &str) -> Result<u8> {
    check_name(name)?;
    let value = if io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Value of {name}: "))
            .context("cannot read the value from the terminal")?
    } else {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the value from standard input")?;
        text.trim_end_matches(['\n', '\r']).to_string()
    };
    if value.is_empty() {
        bail!("the value of {name} is empty; nothing was stored");
    }
    vault.set(name, &value)?;
    writeln!(
        io::stdout().lock(),
        "stored {name} in {}; settings use it as \"{REFERENCE_PREFIX}{name}\"",
        vault.path().display()
    )?;
    Ok(EXIT_OK)
}

fn list(vault: &Vault) -> Result<u8> {
    let mut out = io::stdout().lock();
    let Some(source) = vault.key_source()? else {
        writeln!(
            out,
            "no secrets stored ({} does not exist yet)",
            vault.path().display()
        )?;
        return Ok(EXIT_OK);
    };
    let names = vault.names()?;
    writeln!(out, "{} ({source}):", vault.path().display())?;
    for name in &names {
        writeln!(out, "  {name}")?;
    }
    if names.is_empty() {
        writeln!(out, "  (none)")?;
    }
    Ok(EXIT_OK)
}

/// A key found written into config.toml: where, and the name it is stored under.
struct Found {
    place: Vec<String>,
    name: String,
    value: String,
}

/// Moves every key written into config.toml — providers' `api_key`, MCP servers'
/// `headers` and credential-named `env` variables — into the store and leaves `secret:NAME` in its place. The keys are stored
/// before the file is changed, and the file is replaced atomically under its lock: a
/// failure at any point loses nothing.
fn migrate(ctx: &Context<'_>, vault: &Vault) -> Result<u8> {
    let path = ctx.home.config_file();
    let real = path.canonicalize().unwrap_or_else(|_| path.clone());
    let mut moved: Vec<Found> = Vec::new();
    let changed = crate::home::try_update_locked(&real, Some(CONFIG_MODE), |text| {
        let mut doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let found = keys_in(&doc);
        let existing = vault.names().unwrap_or_default();
        for mut key in found {
            if existing.contains(&key.name) && vault.get(&key.name)? != key.value {
                key.name = free_name(&key.name, &existing);
            }
            vault.set(&key.name, &key.value)?;
            if let Some(value) = value_at(&mut doc, &key.place) {
                let decor = value.decor().clone();
                *value = Value::from(format!("{REFERENCE_PREFIX}{}", key.name));
                *value.decor_mut() = decor;
            }
            moved.push(key);
        }
        Ok::<_, anyhow::Error>(doc.to_string())
    })?;
    let mut out = io::stdout().lock();
    if !changed || moved.is_empty() {
        writeln!(
            out,
            "no keys written in {}; nothing to move",
            path.display()
        )?;
        return Ok(EXIT_OK);
    }
    for key in &moved {
        writeln!(
            out,
            "moved {} into {} as {REFERENCE_PREFIX}{}",
            key.place.join("."),
            vault.path().display(),
            key.name
        )?;
    }
    let backup = path.with_extension("toml.bak");
    if let Ok(old) = std::fs::read_to_string(&backup)
        && moved.iter().any(|key| old.contains(&key.value))
    {
        writeln!(
            out,
            "{} still holds some of these keys as they were: delete it once you no longer need it",
            backup.display()
        )?;
    }
    Ok(EXIT_OK)
}

fn keys_in(doc: &DocumentMut) -> Vec<Found> {
    let literal = |item: &Item| {
        item.as_str()
            .filter(|value| !value.is_empty() && !value.starts_with(REFERENCE_PREFIX))
            .map(String::from)
    };
    let mut found = Vec::new();
    if let Some(providers) = doc.get("providers").and_then(Item::as_table_like) {
        for (provider, table) in providers.iter() {
            if let Some(value) = table.get("api_key").and_then(literal) {
                found.push(Found {
                    place: vec!["providers".into(), provider.into(), "api_key".into()],
                    name: name_for(&[provider, "api_key"]),
                    value,
                });
            }
        }
    }
    let servers = doc
        .get("mcp")
        .and_then(|mcp| mcp.get("servers"))
        .and_then(Item::as_table_like);
    for (server, table) in servers.into_iter().flat_map(|servers| servers.iter()) {
        // Variables whose names say they hold a credential (`GITHUB_TOKEN`, `*_API_KEY`).
        let env = table.get("env").and_then(Item::as_table_like);
        for (variable, item) in env.into_iter().flat_map(|env| env.iter()) {
            let value = literal(item).filter(|value| !value.contains("${"));
            if let Some(value) = value.filter(|_| crate::config::is_secret_var(variable)) {
                found.push(Found {
                    place: vec![
                        "mcp".into(),
                        "servers".into(),
                        server.into(),
                        "env".into(),
                        variable.into(),
                    ],
                    name: name_for(&["mcp", server, variable]),
                    value,
                });
            }
        }
        let headers = table.get("headers").and_then(Item::as_table_like);
        for (header, item) in headers.into_iter().flat_map(|headers| headers.iter()) {
            // `${VAR}` is read from the environment when the header is sent: no key here.
            if let Some(value) = literal(item).filter(|value| !value.contains("${")) {
                found.push(Found {
                    place: vec![
                        "mcp".into(),
                        "servers".into(),
                        server.into(),
                        "headers".into(),
                        header.into(),
                    ],
                    name: name_for(&["mcp", server, header]),
                    value,
                });
            }
        }
    }
    found
}

/// `openai_api_key`, `mcp_github_authorization`: the parts lower-cased, joined by `_`,
/// anything a name cannot hold turned into `_`.
fn name_for(parts: &[&str]) -> String {
    let joined = parts.join("_").to_lowercase();
    let name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "key".to_string()
    } else {
        name
    }
}

fn free_name(name: &str, taken: &[String]) -> String {
    (2..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| name.to_string())
}

fn value_at<'a>(doc: &'a mut DocumentMut, place: &[String]) -> Option<&'a mut Value> {
    let (last, tables) = place.split_last()?;
    let mut table = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
    for part in tables {
        table = table.get_mut(part)?.as_table_like_mut()?;
    }
    table.get_mut(last)?.as_value_mut()
}
