//! `run_skill`: the model runs one of the skills the system prompt lists. A Rhai skill is
//! code the person installed, so running it asks once (under `tools.approval = "ask"`)
//! and its own steps then run as the person's code would; its printed output is the
//! answer. A prompt skill runs nothing: its instructions come back for the model to follow
//! with its other tools, each under the usual policy.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Sensitivity, Tool, ToolContext, str_arg};
use crate::script::{Cancel, RunContext, approval_for_own_code};
use crate::skills::{Kind, SkillError, Skills, invoke};

pub struct RunSkill;

/// Stops the skill's script when the turn that started it is dropped (Ctrl-C).
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn arguments(args: &Value) -> Result<Vec<String>, String> {
    invoke::split_args(str_arg(args, "args"))
}

#[async_trait]
impl Tool for RunSkill {
    fn name(&self) -> &'static str {
        "run_skill"
    }

    fn description(&self) -> &'static str {
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

    fn sensitivity(&self, args: &Value, ctx: &ToolContext) -> Sensitivity {
        let name = str_arg(args, "name");
        let skills = Skills::discover(&ctx.home, &ctx.config);
        match skills.get(name) {
            Some(skill) if skill.kind == Kind::Rhai => Sensitivity::NeedsApproval(format!(
                "Run the skill {name} {}",
                str_arg(args, "args")
            )),
            _ => Sensitivity::Safe,
        }
    }

    async fn run(&self, args: &Value, ctx: &ToolContext) -> Result<String, String> {
        let name = str_arg(args, "name");
        let words = arguments(args)?;
        let skills = Skills::discover(&ctx.home, &ctx.config);
        let skill = skills.find(name).map_err(|err| err.to_string())?;
        if !skill.model_invocable {
            return Err(SkillError::NotInvocable {
                name: name.to_string(),
                by: "by the model (disable-model-invocation)",
            }
            .to_string());
        }
        skill.check_runnable().map_err(|err| err.to_string())?;
        if skill.kind == Kind::Prompt {
            return Ok(invoke::prompt_message(skill, &words));
        }
        let cancel = Cancel::new();
        let _stop_when_dropped = CancelOnDrop(cancel.clone());
        let run = RunContext::new(
            ctx.home.clone(),
            ctx.config.clone(),
            ctx.model.clone(),
            ctx.policy
                .clone()
                .with_approval(approval_for_own_code(ctx.policy.approval)),
            tokio::runtime::Handle::current(),
            cancel,
            ctx.policy.cwd().to_path_buf(),
            Arc::new(|_: &str| {}),
        );
        let skill = skill.clone();
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
