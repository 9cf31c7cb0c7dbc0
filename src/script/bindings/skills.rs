//! Skills from scripts: `skill(name)`, `skill(name, args)` run one and return what it
//! printed (a prompt skill: the model's answer); `skills()` lists them.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use crate::script::catalog::Binder;
use crate::script::context::{RhaiResult, run_context};
use crate::session::Session;
use crate::skills::{Args, Caller, Invocation, Skills, invoke};

fn run_skill(call: &NativeCallContext, name: &str, args: &Args) -> RhaiResult<String> {
    let run = run_context(call)?;
    let skills = Skills::discover(&run.home, &run.config);
    match skills
        .invoke(name, args, Caller::Script)
        .map_err(|err| err.to_string())?
    {
        Invocation::Rhai { skill, args } => {
            invoke::run_rhai_captured(&skill, &run, args).map_err(|err| err.to_string().into())
        }
        // One turn with tools, its answer returned.
        Invocation::Prompt { message, .. } => {
            let mut agent = run.agent(&run.model, true)?;
            let mut session = Session::ephemeral(Vec::new());
            let report = run
                .turn(
                    &mut agent,
                    &mut session,
                    &message,
                    &mut crate::agent::LogObserver,
                )?
                .map_err(|err| format!("skill: {err}"))?;
            Ok(report.text)
        }
    }
}

fn arguments(args: &Dynamic) -> RhaiResult<Args> {
    if let Some(text) = args.clone().try_cast::<String>() {
        return Ok(Args::Typed(text));
    }
    if let Some(items) = args.clone().try_cast::<Array>() {
        return Ok(Args::Words(items.iter().map(ToString::to_string).collect()));
    }
    Err(format!(
        "skill: the arguments must be a string or an array, not {}",
        args.type_name()
    )
    .into())
}

pub(crate) fn register(b: &mut Binder) {
    b.func(
        "skill",
        "skill(name: String) -> String",
        "Runs a skill with no arguments and returns what it printed (a prompt skill: the answer).",
        |call: NativeCallContext, name: &str| run_skill(&call, name, &Args::none()),
    );
    b.func(
        "skill",
        "skill(name: String, args: String or Array) -> String",
        "Runs a skill with arguments, as `/name args` would; returns what it printed.",
        |call: NativeCallContext, name: &str, args: Dynamic| -> RhaiResult<String> {
            run_skill(&call, name, &arguments(&args)?)
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
