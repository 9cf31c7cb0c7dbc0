//! Skills from scripts: `skill(name)`, `skill(name, args)` run one and return what it
//! printed (a prompt skill: the model's answer); `skills()` lists them.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use crate::agent::Agent;
use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, RunContext, run_context};
use crate::skills::{Kind, Skills, invoke};

fn run_skill(call: &NativeCallContext, name: &str, args: Vec<String>) -> RhaiResult<String> {
    let run = run_context(call)?;
    let skills = Skills::discover(&run.home, &run.config);
    let skill = skills.find(name).map_err(|err| err.to_string())?;
    skill.check_runnable().map_err(|err| err.to_string())?;
    match skill.kind {
        Kind::Rhai => {
            invoke::run_rhai_captured(skill, &run, args).map_err(|err| err.to_string().into())
        }
        Kind::Prompt => prompt_turn(&run, &invoke::prompt_message(skill, &args)),
    }
}

/// A prompt skill from a script: one turn with tools, its answer returned.
fn prompt_turn(run: &RunContext, message: &str) -> RhaiResult<String> {
    let mut agent = {
        let _guard = run.runtime.enter();
        Agent::new(&run.home, &run.config, &run.model, run.policy.clone(), true)
            .map_err(|err| err.to_string())?
    };
    let mut conversation = Vec::new();
    let mut observer = crate::agent::LogObserver;
    let report = run
        .block_on(agent.turn(&mut conversation, message, None, &mut observer))?
        .map_err(|err| format!("skill: {err}"))?;
    Ok(report.text)
}

fn words(args: &Dynamic) -> RhaiResult<Vec<String>> {
    if let Some(text) = args.clone().try_cast::<String>() {
        return invoke::split_args(&text).map_err(Into::into);
    }
    if let Some(items) = args.clone().try_cast::<Array>() {
        return Ok(items.iter().map(ToString::to_string).collect());
    }
    Err(format!(
        "skill: the arguments must be a string or an array, not {}",
        args.type_name()
    )
    .into())
}

pub fn register(b: &mut Binder) {
    b.func(
        "skill",
        "skill(name: String) -> String",
        "Runs a skill with no arguments and returns what it printed (a prompt skill: the answer).",
        |call: NativeCallContext, name: &str| run_skill(&call, name, Vec::new()),
    );
    b.func(
        "skill",
        "skill(name: String, args: String or Array) -> String",
        "Runs a skill with arguments, as `/name args` would; returns what it printed.",
        |call: NativeCallContext, name: &str, args: Dynamic| -> RhaiResult<String> {
            let args = words(&args)?;
            run_skill(&call, name, args)
        },
    );
    b.func(
        "skills",
        "skills() -> [#{ name, kind, origin, description, usage, problem }]",
        "The skills available, as `localgpt skills list` shows them.",
        |call: NativeCallContext| -> RhaiResult<Array> {
            let run = run_context(&call)?;
            let skills = Skills::discover(&run.home, &run.config);
            Ok(skills
                .all()
                .iter()
                .map(|skill| {
                    let mut map = Map::new();
                    map.insert("name".into(), skill.name.clone().into());
                    map.insert("kind".into(), skill.kind.label().into());
                    map.insert("origin".into(), skill.origin.label().into());
                    map.insert("description".into(), skill.description.clone().into());
                    let optional = |text: Option<&String>| {
                        text.map_or(Dynamic::UNIT, |t| Dynamic::from(t.clone()))
                    };
                    map.insert("usage".into(), optional(skill.usage.as_ref()));
                    let problem = skill.problem.as_ref().or(skill.unavailable.as_ref());
                    map.insert("problem".into(), optional(problem));
                    Dynamic::from(map)
                })
                .collect())
        },
    );
}
