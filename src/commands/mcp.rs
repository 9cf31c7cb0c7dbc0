//! `localgpt mcp list|tools|call|read|serve`.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};

use super::Context;
use crate::cli::McpCommand;
use crate::config::McpTrust;
use crate::mcp::Hub;
use crate::mcp::client::{Connection, Server, offered, render};
use crate::report::{EXIT_FAILURE, EXIT_OK};
use crate::style::Style;

pub fn run(command: McpCommand, ctx: &mut Context<'_>) -> Result<u8> {
    let config = ctx
        .settings
        .as_ref()
        .context("internal: mcp needs the settings loaded")?
        .config
        .clone();
    if let McpCommand::Serve = command {
        return crate::mcp_serve::stdio(&ctx.home, &config);
    }
    let runtime = crate::runtime::on_this_thread().context("cannot start the async runtime")?;
    let hub = Hub::global(&config);
    let style = ctx.style;
    let code = runtime.block_on(async {
        match command {
            McpCommand::List => list(&hub, &ctx.home.config_file(), &style).await,
            McpCommand::Tools { server } => tools(&hub, server.as_deref(), &style).await,
            McpCommand::Call {
                server,
                tool,
                arguments,
            } => call(&hub, &server, &tool, &arguments).await,
            McpCommand::Read { server, uri } => read(&hub, &server, &uri).await,
            McpCommand::Serve => Ok(EXIT_OK),
        }
    });
    crate::mcp::shutdown();
    code
}

async fn list(hub: &Hub, config_file: &std::path::Path, style: &Style) -> Result<u8> {
    let mut out = io::stdout().lock();
    if hub.servers().is_empty() {
        writeln!(
            out,
            "no MCP servers are configured (add [mcp.servers.NAME] to {}; docs/mcp.md shows how)",
            config_file.display()
        )?;
        return Ok(EXIT_OK);
    }
    let opened = hub.connect_all().await;
    let width = hub
        .servers()
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for server in hub.servers() {
        let how = describe(&server.config);
        let found = opened.iter().find(|(s, _)| Arc::ptr_eq(s, server));
        let state = match found {
            None => style.dim("disabled"),
            Some((_, Ok(connection))) => format!(
                "{}  {} tools, {} prompts, {} resources{}",
                style.success("running"),
                connection.tools.len(),
                connection.prompts.len(),
                connection.resources.len(),
                connection
                    .server_info
                    .as_deref()
                    .map(|info| format!("  ({info})"))
                    .unwrap_or_default()
            ),
            Some((_, Err(reason))) => style.error(reason),
        };
        writeln!(out, "{:<width$}  {state}", server.name)?;
        writeln!(out, "{:<width$}  {}", "", style.dim(&how))?;
        if let Some((_, Ok(connection))) = found {
            for prompt in &connection.prompts {
                writeln!(out, "{:<width$}  prompt {}", "", prompt.name)?;
            }
            for resource in &connection.resources {
                writeln!(
                    out,
                    "{:<width$}  resource {}  {}",
                    "", resource.uri, resource.name
                )?;
            }
        }
    }
    Ok(EXIT_OK)
}

fn describe(server: &crate::config::McpServerConfig) -> String {
    let mut how = match (&server.command, &server.url) {
        (Some(command), _) => format!("stdio: {} {}", command, server.args.join(" ")),
        (None, Some(url)) => format!("{}", url),
        (None, None) => String::new(),
    };
    let trust = match server.trust {
        McpTrust::Ask => "every call asked about",
        McpTrust::ReadOnly => "read-only tools run unasked",
        McpTrust::All => "trusted: no call asked about",
    };
    how.push_str(&format!("; {trust}"));
    how.trim().to_string()
}

async fn tools(hub: &Hub, only: Option<&str>, style: &Style) -> Result<u8> {
    if let Some(name) = only {
        hub.server(name).map_err(|err| anyhow!(err))?;
    }
    let mut running: Vec<(Arc<Server>, Arc<Connection>)> = Vec::new();
    let mut failed = false;
    let mut out = io::stdout().lock();
    for (server, opened) in hub.connect_all().await {
        match opened {
            Ok(connection) => running.push((server, connection)),
            Err(reason) => {
                if only.is_none_or(|name| name == server.name) {
                    failed = true;
                    writeln!(out, "{}", style.error(&reason))?;
                }
            }
        }
    }
    for tool in offered(&running) {
        if only.is_some_and(|name| name != tool.server.name) {
            continue;
        }
        let entry = tool.entry();
        let asks = if tool.needs_approval() {
            "asks"
        } else {
            "runs unasked"
        };
        writeln!(
            out,
            "{}  {}",
            style.bold(&tool.name),
            style.dim(&format!(
                "({} tool {}{}; {asks})",
                tool.server.name,
                entry.tool.name,
                if entry.read_only { ", read-only" } else { "" }
            ))
        )?;
        if let Some(description) = &entry.tool.description {
            let first = description.lines().next().unwrap_or_default();
            writeln!(out, "    {}", crate::truncate::ellipsize(first.trim(), 100))?;
        }
    }
    for (server, connection) in &running {
        if only.is_some_and(|name| name != server.name) {
            continue;
        }
        for (name, why) in &connection.skipped {
            writeln!(
                out,
                "{}",
                style.warning(&format!("{}: {name} is left out: {why}", server.name))
            )?;
        }
    }
    Ok(if failed { EXIT_FAILURE } else { EXIT_OK })
}

async fn call(hub: &Hub, server: &str, tool: &str, arguments: &str) -> Result<u8> {
    let arguments: serde_json::Value = serde_json::from_str(arguments)
        .with_context(|| format!("the arguments are not JSON: {arguments}"))?;
    let result = hub
        .call(server, tool, arguments)
        .await
        .map_err(|err| anyhow!(err))?;
    let (text, is_error) = render::tool_result(&result);
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(if is_error { EXIT_FAILURE } else { EXIT_OK })
}

async fn read(hub: &Hub, server: &str, uri: &str) -> Result<u8> {
    let result = hub.read(server, uri).await.map_err(|err| anyhow!(err))?;
    let mut out = io::stdout().lock();
    for contents in &result.contents {
        writeln!(out, "{}", render::resource(contents))?;
    }
    Ok(EXIT_OK)
}
