//! `localgpt ui`: the web page, logged in. A server already running here (`serve`, or the
//! daemon with `server.enabled`) is asked for a one-time login code with the API token;
//! otherwise this command serves the page itself, in the foreground.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};

use super::Context;
use super::serve::{DRAIN, shutdown_signal};
use crate::cli::UiArgs;
use crate::report::EXIT_OK;
use crate::server::{self, Listen};

pub fn run(args: UiArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: ui needs the settings loaded")?;
    let server_config = &settings.config.server;
    let address = SocketAddr::new(server_config.bind, server_config.port);
    let runtime = crate::runtime::with_workers(None).context("cannot start the async runtime")?;
    runtime.block_on(async {
        let http = crate::net::HttpSettings::from_config(&settings.config);
        if let Some(path) = code_from_running_server(&ctx.home, address, &http).await? {
            show(&format!("http://{address}{path}"), args.no_open)?;
            return anyhow::Ok(());
        }
        let (listener, state) = server::bind(
            &ctx.home,
            settings,
            &Listen {
                bind: None,
                port: None,
            },
        )
        .await?;
        let address = listener.local_addr()?;
        let code = state.guard.logins.mint_code().map_err(|err| anyhow!(err))?;
        writeln!(
            io::stderr().lock(),
            "LocalGPT on http://{address} (the API too; Ctrl-C stops)"
        )?;
        show(&format!("http://{address}/login?code={code}"), args.no_open)?;
        server::serve(listener, state, shutdown_signal(), DRAIN).await;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(EXIT_OK)
}

/// A login path from a LocalGPT server listening at `address`, if one is.
async fn code_from_running_server(
    home: &crate::home::Home,
    address: SocketAddr,
    http: &crate::net::HttpSettings,
) -> Result<Option<String>> {
    let client = crate::net::client_builder(http)
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;
    let health = client.get(format!("http://{address}/health")).send().await;
    let Ok(health) = health else {
        return Ok(None);
    };
    if !health.status().is_success() {
        return Err(anyhow!(
            "{address} answers, but not as LocalGPT's server (server.port is taken?)"
        ));
    }
    let token = server::guard::load_or_create_token(home)
        .with_context(|| format!("cannot read {}", home.api_token_file().display()))?;
    let answer: serde_json::Value = client
        .post(format!("http://{address}/api/ui/code"))
        .bearer_auth(token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("the server at {address} gave no login code"))?
        .json()
        .await
        .context("the server's answer is not JSON")?;
    Ok(answer["path"].as_str().map(str::to_string))
}

/// Opens `url` in the browser, or prints it.
fn show(url: &str, no_open: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if no_open {
        writeln!(out, "{url}")?;
        return Ok(());
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if opened {
        writeln!(out, "opened LocalGPT's page in your browser")?;
    } else {
        writeln!(
            out,
            "open this address in your browser (it logs you in once): {url}"
        )?;
    }
    Ok(())
}
