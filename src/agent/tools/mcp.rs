//! An MCP server's tool as one of the model's: `SERVER__TOOL`, with the server's
//! description and (normalised) schema, approved like `bash` unless the server's `trust`
//! says otherwise, its result rendered as text and cut like any tool output.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{Sensitivity, Tool, ToolContext, limit_output};
use crate::mcp::Hub;
use crate::mcp::client::{Offered, refusal, render, schema};

pub(crate) struct McpTool {
    hub: Arc<Hub>,
    offered: Offered,
    description: String,
}

impl McpTool {
    pub fn new(hub: Arc<Hub>, offered: Offered) -> McpTool {
        let tool = &offered.entry().tool;
        let description = format!(
            "{} (from the MCP server `{}`)",
            tool.description.as_deref().unwrap_or("").trim(),
            offered.server.name
        );
        McpTool {
            hub,
            offered,
            description,
        }
    }
}

#[async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.offered.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.offered.entry().parameters.clone()
    }

    fn check_arguments(&self, args: &Value) -> Result<(), String> {
        schema::check_required(&self.offered.entry().parameters, args)
    }

    fn assess(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        if !self.offered.needs_approval() {
            return Sensitivity::Safe;
        }
        let tool = &self.offered.entry().tool.name;
        if let Some(refusal) = refusal(&self.offered.server, tool, &ctx.policy) {
            return Sensitivity::Refused(refusal);
        }
        Sensitivity::NeedsApproval(format!(
            "Run MCP tool {}: {tool} {}",
            self.offered.server.name,
            crate::truncate::ellipsize(&args.to_string(), 200)
        ))
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let result = self
            .hub
            .call(
                &self.offered.server.name,
                &self.offered.entry().tool.name,
                args.clone(),
            )
            .await?;
        let (text, is_error) = render::tool_result(&result);
        let max_bytes =
            usize::try_from(ctx.config.tools.output_limit_kb * 1024).unwrap_or(usize::MAX);
        let text = limit_output(&text, max_bytes);
        if is_error { Err(text) } else { Ok(text) }
    }
}
