//! `localgpt run`: a Rhai script from a file, `-e CODE` or stdin, with `args`; or the list
//! of functions scripts can call.

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cancel::interruptible_runtime;
use crate::cli::RunArgs;
use crate::policy::Policy;
use crate::report::{EXIT_OK, UsageError};
use crate::script::context::{stdout_lines, stdout_raw, terminal_confirmer};
use crate::script::{Confirmer, RunContext, Script, ScriptHost};

pub fn run(args: RunArgs, ctx: &mut Context<'_>) -> Result<u8> {
    let host = ScriptHost::new();
    if args.list_functions {
        list_functions(&host)?;
        return Ok(EXIT_OK);
    }
    let cwd = std::env::current_dir().context("cannot tell the current folder")?;
    let (script, script_dir) = load(args, &cwd)?;
    let settings = ctx
        .settings
        .as_ref()
        .context("internal: run needs the settings loaded")?;
    let (runtime, cancel) = interruptible_runtime(1).context("cannot start the async runtime")?;
    let policy = Policy::new(&ctx.home, &cwd, &settings.config.tools).for_own_code();
    let run = Arc::new(
        RunContext::new(
            ctx.home.clone(),
            settings.config.clone(),
            policy,
            runtime.handle().clone(),
        )
        .with_cancel(cancel)
        .with_script_dir(script_dir)
        .with_output(stdout_lines())
        .with_stream(stdout_raw())
        .with_confirm(terminal_confirm_if_interactive()),
    );
    let outcome = host.run(&run, &script)?;
    drop(run);
    runtime.shutdown_background();
    Ok(outcome.exit_status())
}

/// `confirm()` asks only where a person is at a terminal to answer.
pub(crate) fn terminal_confirm_if_interactive() -> Option<Confirmer> {
    let interactive = io::stdin().is_terminal() && io::stderr().is_terminal();
    interactive.then(terminal_confirmer)
}

/// The script to run and the folder relative imports start from.
fn load(args: RunArgs, cwd: &std::path::Path) -> Result<(Script, PathBuf)> {
    if let Some(code) = args.code {
        // With -e there is no script path: every word after it is an argument.
        let mut script_args: Vec<String> = args
            .script
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        script_args.extend(args.args);
        let script = Script {
            name: "<expression>".to_string(),
            text: code,
            args: script_args,
        };
        return Ok((script, cwd.to_path_buf()));
    }
    let Some(path) = args.script else {
        return Err(UsageError(
            "nothing to run: give a script file, `-` for stdin, or -e 'CODE' (see --list-functions)".to_string(),
        )
        .into());
    };
    if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the script from stdin")?;
        let script = Script {
            name: "<stdin>".to_string(),
            text,
            args: args.args,
        };
        return Ok((script, cwd.to_path_buf()));
    }
    let bytes = std::fs::read(&path)
        .map_err(|err| UsageError(format!("cannot read the script {}: {err}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| UsageError(format!("{} is not UTF-8 text", path.display())))?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| cwd.to_path_buf(), |dir| cwd.join(dir));
    let script = Script {
        name: path.to_string_lossy().into_owned(),
        text,
        args: args.args,
    };
    Ok((script, dir))
}

fn list_functions(host: &ScriptHost) -> Result<()> {
    let mut out = io::stdout().lock();
    let mut family = "";
    for doc in host.docs() {
        if doc.family != family {
            family = doc.family;
            writeln!(out, "\n{family}")?;
        }
        writeln!(out, "  {}\n      {}", doc.signature, doc.description)?;
    }
    writeln!(
        out,
        "\ncontext\n  args\n      The script's arguments, an array of strings.\n\n\
         Also: Rhai's whole standard library (strings, arrays, maps, math, parse_json, …),\n\
         and the modules `import \"text\"`, `\"md\"`, `\"git\"`, `\"fmt\"`."
    )?;
    Ok(())
}
