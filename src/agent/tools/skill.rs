//! `run_skill`: the model runs one of the skills the system prompt lists. A Rhai skill is
//! code the person installed, so running it asks once (under `tools.approval = "ask"`)
//! and its own steps then run as the person's code would; its printed output is the
//! answer. A prompt skill runs nothing: its instructions come back for the model to follow
//! with its other tools, each under the usual policy.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Sensitivity, Tool, ToolContext, str_arg};
use crate::cancel::Cancel;
use crate::script::RunContext;
use crate::skills::{Args, Caller, Invocation, Skills, invoke};

pub(crate) struct RunSkill;

/// Stops the skill's script when the turn that started it is dropped or cancelled.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// What the model asked for, decided by the one entry point.
fn invocation(args: &Value, ctx: &ToolContext) -> Result<Invocation, String> {
    let skills = Skills::discover(&ctx.home, &ctx.config);
    let typed = Args::Typed(str_arg(args, "args").to_string());
    skills
        .invoke(str_arg(args, "name"), &typed, Caller::Model)
        .map_err(|err| err.to_string())
}

#[async_trait]
impl Tool for RunSkill {
    fn name(&self) -> &str {
        "run_skill"
    }

    fn description(&self) -> &str {
        "Runs one of the skills listed under Skills. A program skill runs and returns its \
         output; an instruction skill returns its instructions, which you then follow."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The skill's name, as listed."},
                "args": {
                    "type": "string",
                    "description": "Its arguments, as the user would type them after /name."
                }
            },
            "required": ["name"],
            "additionalProperties": false
        })
    }

    fn assess(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        match invocation(args, ctx) {
            Ok(Invocation::Rhai { .. }) => Sensitivity::NeedsApproval(format!(
                "Run the skill {} {}",
                str_arg(args, "name"),
                str_arg(args, "args")
            )),
            Ok(Invocation::Prompt { .. }) => Sensitivity::Safe,
            Err(refusal) => Sensitivity::Refused(refusal),
        }
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let (skill, words) = match invocation(args, ctx)? {
            Invocation::Prompt { message, .. } => return Ok(message),
            Invocation::Rhai { skill, args } => (skill, args),
        };
        let cancel = Cancel::new();
        let _stop_when_dropped = CancelOnDrop(cancel.clone());
        // Approved once as a whole, its own steps then run as the person's code would.
        let run = RunContext::new(
            ctx.home.clone(),
            ctx.config.clone(),
            ctx.policy.clone().for_own_code(),
            tokio::runtime::Handle::current(),
        )
        .with_model(ctx.model.clone())
        .with_cancel(cancel);
        let finished = tokio::task::spawn_blocking(move || {
            invoke::run_rhai_captured(&skill, &run, words).map_err(|err| err.to_string())
        })
        .await
        .map_err(|err| format!("the skill stopped unexpectedly: {err}"))?;
        finished.map(|output| {
            if output.is_empty() {
                "(the skill finished without output)".to_string()
            } else {
                output
            }
        })
    }
}
