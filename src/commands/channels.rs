//! `localgpt channels …`: run, test, send and status — the chat services the assistant
//! answers on (`crate::channels`).

use std::io::{self, Write};

use anyhow::{Context as _, Result, bail};

use super::Context;
use crate::cancel::interruptible_runtime;
use crate::channels::telegram;
use crate::cli::ChannelsCommand;
use crate::config::Settings;
use crate::delivery::Target;
use crate::report::{EXIT_FAILURE, EXIT_OK};

pub fn run(command: ChannelsCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: channels need the settings loaded")?;
    // Two workers: the poller keeps taking button presses while a turn waits for one.
    let (runtime, cancel) = interruptible_runtime(2).context("cannot start the async runtime")?;
    match command {
        ChannelsCommand::Run => {
            let model = settings.model().to_string();
            eprintln!("answering Telegram; Ctrl-C stops");
            runtime.block_on(telegram::run(&ctx.home, &settings.config, &model, &cancel))?;
            Ok(EXIT_OK)
        }
        ChannelsCommand::Test { name } => {
            only_telegram(&name)?;
            let (bot, config) = telegram::bot(&settings.config)?;
            let me = runtime.block_on(bot.get_me())?;
            writeln!(
                io::stdout().lock(),
                "telegram: the token is good: @{} (bot id {}) at {}; {} user(s) allowed",
                me.username.unwrap_or_default(),
                me.id,
                config.api_url,
                config.allow.len()
            )?;
            Ok(EXIT_OK)
        }
        ChannelsCommand::Send { target, text } => {
            let target = Target::parse(&target)?;
            runtime.block_on(crate::delivery::send(&settings.config, target, &text))?;
            Ok(EXIT_OK)
        }
        ChannelsCommand::Status => status(ctx, settings),
        ChannelsCommand::Pair { name } => {
            only_telegram(&name)?;
            let (bot, _) = telegram::bot(&settings.config)?;
            let me = runtime.block_on(bot.get_me())?;
            let dir = ctx.home.root().join("channels");
            let code = telegram::pairing::new_code(&dir)
                .with_context(|| format!("cannot write the pairing code in {}", dir.display()))?;
            writeln!(
                io::stdout().lock(),
                "send this code to @{} within {} minutes (from the Telegram account to allow; \
                 the bot must be running: `localgpt channels run` or the daemon):\n\n    {code}",
                me.username.unwrap_or_default(),
                telegram::pairing::VALID_FOR.as_secs() / 60
            )?;
            Ok(EXIT_OK)
        }
    }
}

fn only_telegram(name: &str) -> Result<()> {
    if name != "telegram" {
        bail!("there is no channel `{name}`; LocalGPT speaks telegram");
    }
    Ok(())
}

fn status(ctx: &Context<'_>, settings: &Settings) -> Result<u8> {
    let mut out = io::stdout().lock();
    let Some(telegram) = &settings.config.channels.telegram else {
        writeln!(
            out,
            "no channels configured ([channels.telegram] in config.toml)"
        )?;
        return Ok(EXIT_FAILURE);
    };
    let token = match &telegram.token {
        Some(token) => token.to_string(),
        None => "not set".to_string(),
    };
    writeln!(
        out,
        "telegram: {} — token {token}; {} user(s) allowed",
        telegram.api_url,
        telegram.allow.len()
    )?;
    let dir = ctx.home.root().join("channels");
    match telegram::journal::Journal::open(&dir) {
        Ok(journal) => writeln!(
            out,
            "  next update {}; {} message(s) waiting for an answer",
            journal.offset(),
            journal.pending().len()
        )?,
        Err(err) => writeln!(out, "  the journal cannot be read: {err}")?,
    }
    Ok(EXIT_OK)
}
