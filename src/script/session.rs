//! A long-lived script session for the REPL's `:` lines: one engine and one scope for
//! the whole REPL, so variables, `fn` definitions and `import`s survive from line to line.
//!
//! Rhai drops a line's imports when its evaluation ends and keeps functions only in the
//! AST that defined them, so the session keeps both itself: the functions defined so far
//! are merged into every evaluation, and the import statements seen so far run first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{AST, Dynamic, Engine, Scope};

use super::error::{self, ScriptError, Sources};
use super::{Deadline, RunContext, ScriptHost, bindings};

pub(crate) struct ScriptSession {
    engine: Engine,
    scope: Scope<'static>,
    /// Every function defined so far, without statements.
    functions: AST,
    /// Import statements seen so far, replayed before each line (modules are cached).
    imports: Vec<String>,
    sources: Arc<Mutex<Sources>>,
    deadline: Deadline,
    /// The memory one line's evaluation may hold.
    budget: Arc<super::ceiling::Budget>,
    run: Arc<RunContext>,
    docs: Vec<super::FnDoc>,
    lines: usize,
}

/// What evaluating a line gave.
pub(crate) enum Evaluated {
    Value(Dynamic),
    /// The line called `exit(code)`.
    Exit(i32),
}

impl ScriptSession {
    pub fn new(host: &ScriptHost, run: Arc<RunContext>) -> ScriptSession {
        let sources = Arc::new(Mutex::new(Sources::new()));
        let deadline = Arc::new(Mutex::new(Instant::now()));
        let budget =
            super::ceiling::Budget::new(run.config.script.max_memory_mb.saturating_mul(1 << 20));
        let engine = host.engine(&run, &sources, &deadline, &budget);
        let mut scope = Scope::new();
        scope.push("args", rhai::Array::new());
        ScriptSession {
            engine,
            scope,
            functions: AST::empty(),
            imports: Vec::new(),
            sources,
            deadline,
            budget,
            run,
            docs: host.docs().to_vec(),
            lines: 0,
        }
    }

    /// Evaluates one entry (which may span several lines).
    pub fn eval(&mut self, code: &str) -> Result<Evaluated, ScriptError> {
        self.lines += 1;
        let name = format!("<line {}>", self.lines);
        if let Ok(mut sources) = self.sources.lock() {
            sources.insert(name.clone(), code.to_string());
        }
        self.run.cancel.reset();
        if let Ok(mut deadline) = self.deadline.lock() {
            *deadline = Instant::now() + Duration::from_secs(self.run.config.script.timeout_secs);
        }
        let describe = |err: &rhai::EvalAltResult, sources: &Arc<Mutex<Sources>>| {
            let known = sources.lock().map(|s| s.clone()).unwrap_or_default();
            error::describe(err, &name, &known, &self.docs, &self.run.config.script)
        };
        let mut ast = match self.engine.compile_with_scope(&self.scope, code) {
            Ok(ast) => ast,
            Err(err) => return Err(describe(&err.into(), &self.sources)),
        };
        ast.set_source(name.as_str());
        let prelude = self
            .engine
            .compile(self.imports.join("\n"))
            .unwrap_or_else(|_| AST::empty());
        let program = prelude.merge(&self.functions).merge(&ast);
        self.budget.reset();
        let result = {
            let _counted = self.budget.enter();
            super::caught(|| {
                self.engine
                    .eval_ast_with_scope::<Dynamic>(&mut self.scope, &program)
            })
        };
        // Functions defined on this line stay, whatever happened to its statements.
        let mut defined = ast.clone();
        defined.clear_statements();
        self.functions = self.functions.merge(&defined);
        match result {
            Ok(value) => {
                self.imports.extend(import_statements(code));
                Ok(Evaluated::Value(value))
            }
            Err(err) => match *err {
                rhai::EvalAltResult::ErrorTerminated(token, _)
                    if token.is::<bindings::ExitRequest>() =>
                {
                    let code = token.cast::<bindings::ExitRequest>().0;
                    Ok(Evaluated::Exit(i32::try_from(code).unwrap_or(1)))
                }
                other => Err(describe(&other, &self.sources)),
            },
        }
    }

    /// Variables defined so far, for completion.
    pub fn variables(&self) -> Vec<String> {
        self.scope
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect()
    }

    /// Functions defined so far, for completion.
    pub fn functions(&self) -> Vec<String> {
        self.functions
            .iter_functions()
            .map(|f| f.name.to_string())
            .collect()
    }
}

/// The `import "…" as …;` statements of an entry, one per line as written.
fn import_statements(code: &str) -> Vec<String> {
    code.lines()
        .map(str::trim)
        .filter(|line| line.starts_with("import ") && line.ends_with(';'))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_statements_are_found() {
        assert_eq!(
            import_statements("import \"text\" as t;\nlet x = 1;\n  import \"md\" as md;"),
            ["import \"text\" as t;", "import \"md\" as md;"]
        );
    }
}
