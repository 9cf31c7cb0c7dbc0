//! MCP: `mcp_tools([server])` → the configured servers' tools, `mcp_call(server, tool,
//! args)` → what the tool returned, as text. A script is the person's own, so a call is
//! not asked about — but where nobody can approve (a heartbeat task without
//! `heartbeat.allow_bash`) a tool that would need a yes is refused, as `bash()` is.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use crate::mcp::Hub;
use crate::mcp::client::{needs_approval, refusal, render};
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, RunContext, from_dynamic, run_context, to_dynamic};

fn tools(run: &RunContext, only: Option<&str>) -> RhaiResult<Array> {
    let hub = Hub::global(&run.config);
    if let Some(name) = only {
        hub.server(name)?;
    }
    let opened = run.block_on(hub.connect_all())?;
    let mut running = Vec::new();
    for (server, opened) in opened {
        match opened {
            Ok(connection) => running.push((server, connection)),
            // Asked for by name: its failure is the answer.
            Err(reason) if only == Some(server.name.as_str()) => return Err(reason.into()),
            Err(reason) => tracing::info!("{reason}"),
        }
    }
    let mut found = Array::new();
    for tool in crate::mcp::client::offered(&running) {
        if only.is_some_and(|name| name != tool.server.name) {
            continue;
        }
        let entry = tool.entry();
        let mut map = Map::new();
        map.insert("server".into(), tool.server.name.clone().into());
        map.insert("tool".into(), entry.tool.name.to_string().into());
        map.insert("name".into(), tool.name.clone().into());
        map.insert(
            "description".into(),
            entry
                .tool
                .description
                .as_deref()
                .unwrap_or("")
                .to_string()
                .into(),
        );
        map.insert("read_only".into(), entry.read_only.into());
        map.insert("parameters".into(), to_dynamic(&entry.parameters)?);
        found.push(map.into());
    }
    Ok(found)
}

fn call(run: &RunContext, server: &str, tool: &str, args: &Dynamic) -> RhaiResult<String> {
    let hub = Hub::global(&run.config);
    let arguments = if args.is_unit() {
        serde_json::Value::Null
    } else {
        from_dynamic(args)?
    };
    let connection = run.block_on(async {
        let found = hub.server(server)?;
        hub.connection(found)
            .await
            .map(|connection| (found.clone(), connection))
    })?;
    let (found, connection) = connection?;
    let Some(entry) = connection
        .tools
        .iter()
        .find(|entry| entry.tool.name == tool)
    else {
        let names: Vec<&str> = connection
            .tools
            .iter()
            .map(|e| e.tool.name.as_ref())
            .collect();
        return Err(format!(
            "{server} has no tool `{tool}` (it has: {})",
            names.join(", ")
        )
        .into());
    };
    if needs_approval(&found, entry)
        && let Some(refusal) = refusal(&found, tool, &run.policy)
    {
        return Err(refusal.into());
    }
    let result = run.block_on(hub.call(server, tool, arguments))??;
    let (text, is_error) = render::tool_result(&result);
    if is_error {
        return Err(format!("{server}'s {tool} failed: {text}").into());
    }
    Ok(text)
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "mcp_tools",
        "mcp_tools() -> [#{ server, tool, name, description, read_only, parameters }]",
        "The tools of every configured MCP server (started on first use); `name` is what the model calls it.",
        |call: NativeCallContext| -> RhaiResult<Array> { tools(&*run_context(&call)?, None) },
    );
    b.func(
        "mcp_tools",
        "mcp_tools(server: String) -> [#{ server, tool, name, description, read_only, parameters }]",
        "The tools of one MCP server; throws if it is unavailable.",
        |call: NativeCallContext, server: &str| -> RhaiResult<Array> {
            tools(&*run_context(&call)?, Some(server))
        },
    );
    b.func(
        "mcp_call",
        "mcp_call(server: String, tool: String, args: Map) -> String",
        "Calls an MCP tool and returns its result as text; throws if the tool reports an error.",
        |call_context: NativeCallContext,
         server: &str,
         tool: &str,
         args: Dynamic|
         -> RhaiResult<String> { call(&*run_context(&call_context)?, server, tool, &args) },
    );
    b.func(
        "mcp_call",
        "mcp_call(server: String, tool: String) -> String",
        "Calls an MCP tool that takes no arguments.",
        |call_context: NativeCallContext, server: &str, tool: &str| -> RhaiResult<String> {
            call(&*run_context(&call_context)?, server, tool, &Dynamic::UNIT)
        },
    );
}
