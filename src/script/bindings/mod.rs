//! The functions scripts call, one file per family. They are the same Rust functions the
//! model's tools use, under the same policy: paths are confined, web access to local
//! addresses is refused unless allowed, secrets never reach a command.

mod chat;
mod data;

pub(crate) use data::ExitRequest;
mod fs;
mod http;
mod io;
mod llm;
mod mcp;
mod memory;
mod shell;
mod skills;

use rhai::Module;

use super::catalog::{Binder, FnDoc};

/// A family's registration function.
type Register = fn(&mut Binder);

/// Every binding in one module, and the documentation of each.
pub fn build() -> (Module, Vec<FnDoc>) {
    let mut module = Module::new();
    let mut docs = Vec::new();
    let families: [(&'static str, Register); 10] = [
        ("llm", llm::register),
        ("memory", memory::register),
        ("shell", shell::register),
        ("fs", fs::register),
        ("http", http::register),
        ("skills", skills::register),
        ("mcp", mcp::register),
        ("io", io::register),
        ("data", data::register),
        ("chat", chat::register),
    ];
    for (family, register) in families {
        register(&mut Binder {
            module: &mut module,
            docs: &mut docs,
            family,
        });
    }
    // A test hook, in debug builds only (the ones the test suite runs): the tests prove
    // with it that a panic at any front door is an error, never a dead process.
    #[cfg(debug_assertions)]
    module.set_native_fn(
        "__localgpt_panic",
        |message: &str| -> Result<(), Box<rhai::EvalAltResult>> { panic!("{message}") },
    );
    (module, docs)
}
