//! `localgpt serve`: the HTTP API in the foreground until SIGTERM or Ctrl-C, which stop
//! accepting and let requests in flight finish.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::ServeArgs;
use crate::report::{EXIT_OK, UsageError};
use crate::server::{self, Listen};

/// How long requests in flight (streams included) may take to finish on shutdown.
pub(crate) const DRAIN: Duration = Duration::from_secs(30);

pub fn run(args: ServeArgs, ctx: &mut Context<'_>) -> Result<u8> {
    if args.print_token {
        let token = server::guard::load_or_create_token(&ctx.home).with_context(|| {
            format!(
                "cannot read or create {}",
                ctx.home.api_token_file().display()
            )
        })?;
        writeln!(io::stdout().lock(), "{token}")?;
        return Ok(EXIT_OK);
    }
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: serve needs the settings loaded")?;
    let bind = args
        .bind
        .as_deref()
        .map(|text| {
            text.parse()
                .map_err(|_| UsageError(format!("--bind {text}: not an IP address")))
        })
        .transpose()?;
    let listen = Listen {
        bind,
        port: args.port,
    };
    let runtime = crate::runtime::with_workers(None).context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (listener, state) = server::bind(&ctx.home, settings, &listen).await?;
        let address = listener.local_addr()?;
        writeln!(
            io::stderr().lock(),
            "LocalGPT API on http://{address} (token: `localgpt serve --print-token`; Ctrl-C stops)"
        )?;
        server::serve(listener, state, shutdown_signal(), DRAIN).await;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(EXIT_OK)
}

/// SIGTERM (systemd, launchd, `daemon stop`) or SIGINT (Ctrl-C).
pub(crate) async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
