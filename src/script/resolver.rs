//! `import` for scripts: `import "helpers" as h;` loads `helpers.rhai` next to the
//! importing script when there is one, as plain Rhai does; otherwise a name is a standard
//! library module (the workspace's `stdlib/git.rhai` if there is one, else the copy
//! embedded in the binary). `import "./lib/helpers" as h;` (a path) loads that file,
//! relative to the importing script. Embedded modules are compiled once per process and
//! shared by every run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;

/// The standard library, embedded at build time.
pub(crate) const STDLIB: [(&str, &str); 4] = [
    ("text", include_str!("../../stdlib/text.rhai")),
    ("md", include_str!("../../stdlib/md.rhai")),
    ("git", include_str!("../../stdlib/git.rhai")),
    ("fmt", include_str!("../../stdlib/fmt.rhai")),
];

/// Compiled embedded modules, shared across runs.
pub(crate) type ModuleCache = Arc<Mutex<HashMap<String, SharedModule>>>;

pub(crate) struct StdlibResolver {
    pub workspace_stdlib: PathBuf,
    pub script_dir: PathBuf,
    pub cache: ModuleCache,
    /// Source texts by module name, for error excerpts.
    pub sources: Arc<Mutex<super::error::Sources>>,
    /// What the run may read.
    pub policy: crate::policy::Policy,
    /// The modules being loaded now, outermost first: an import of one of them is a cycle.
    pub loading: Mutex<Vec<String>>,
}

/// Imports nested deeper than this are refused even without a cycle.
const MAX_IMPORT_DEPTH: usize = 32;

fn not_found(path: &str, pos: Position, detail: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorInModule(
        path.to_string(),
        detail.into(),
        pos,
    ))
}

impl StdlibResolver {
    fn compile(
        &self,
        engine: &Engine,
        name: &str,
        text: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Ok(mut sources) = self.sources.lock() {
            sources.insert(name.to_string(), text.to_string());
        }
        let mut ast = engine.compile(text).map_err(|err| {
            Box::new(EvalAltResult::ErrorInModule(
                name.to_string(),
                err.into(),
                pos,
            ))
        })?;
        ast.set_source(name);
        self.enter(name, pos)?;
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        if let Ok(mut loading) = self.loading.lock() {
            loading.pop();
        }
        let module = module
            .map_err(|err| Box::new(EvalAltResult::ErrorInModule(name.to_string(), err, pos)))?;
        Ok(Shared::new(module))
    }

    /// Notes that `name` is being loaded, refusing a cycle or a chain too deep.
    fn enter(&self, name: &str, pos: Position) -> Result<(), Box<EvalAltResult>> {
        let mut loading = self
            .loading
            .lock()
            .map_err(|_| not_found(name, pos, "the import table is unavailable".to_string()))?;
        if let Some(start) = loading.iter().position(|known| known == name) {
            let cycle: Vec<&str> = loading
                .iter()
                .skip(start)
                .map(String::as_str)
                .chain(std::iter::once(name))
                .collect();
            return Err(not_found(
                name,
                pos,
                format!("import cycle: {}", cycle.join(" → ")),
            ));
        }
        if loading.len() >= MAX_IMPORT_DEPTH {
            return Err(not_found(
                name,
                pos,
                format!("imports nest deeper than {MAX_IMPORT_DEPTH} modules"),
            ));
        }
        loading.push(name.to_string());
        Ok(())
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let base = source
            .map(Path::new)
            .and_then(Path::parent)
            .filter(|dir| dir.is_absolute())
            .map_or_else(|| self.script_dir.clone(), Path::to_path_buf);
        let is_file = path.contains('/') || path.ends_with(".rhai");
        let beside = base.join(format!("{path}.rhai"));
        if is_file || beside.is_file() {
            let mut file = base.join(path);
            if file.extension().is_none() {
                file.set_extension("rhai");
            }
            // The one path check, with the importing script's own folder readable.
            let roots = [self.script_dir.clone(), base.clone()];
            let file = self
                .policy
                .resolve_read_in(&file.to_string_lossy(), &roots)
                .map_err(|refusal| not_found(path, pos, refusal))?;
            let text = std::fs::read_to_string(&file).map_err(|err| {
                not_found(path, pos, format!("cannot read {}: {err}", file.display()))
            })?;
            return self.compile(engine, &file.to_string_lossy(), &text, pos);
        }
        let override_file = self.workspace_stdlib.join(format!("{path}.rhai"));
        if let Ok(text) = std::fs::read_to_string(&override_file) {
            return self.compile(engine, &override_file.to_string_lossy(), &text, pos);
        }
        let Some((_, text)) = STDLIB.iter().find(|(name, _)| *name == path) else {
            let known: Vec<&str> = STDLIB.iter().map(|(name, _)| *name).collect();
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                format!(
                    "{path} (the standard modules are {}; a file path needs ./)",
                    known.join(", ")
                ),
                pos,
            )));
        };
        if let Some(module) = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(path).cloned())
        {
            if let Ok(mut sources) = self.sources.lock() {
                sources.insert(path.to_string(), text.to_string());
            }
            return Ok(module);
        }
        let module = self.compile(engine, path, text, pos)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(path.to_string(), module.clone());
        }
        Ok(module)
    }
}
