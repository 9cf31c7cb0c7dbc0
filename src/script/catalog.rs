//! The list of bindings with their signatures and one-line descriptions, built by the
//! same calls that register them, so `localgpt run --list-functions`, the REPL's help and
//! error messages can never drift from what is really there.

use rhai::{FuncRegistration, Module, RhaiNativeFunc, Variant};

#[derive(Debug, Clone)]
pub struct FnDoc {
    pub name: &'static str,
    pub family: &'static str,
    pub signature: &'static str,
    pub description: &'static str,
}

/// Registers functions into a module and records their documentation.
pub(crate) struct Binder<'a> {
    pub module: &'a mut Module,
    pub docs: &'a mut Vec<FnDoc>,
    pub family: &'static str,
}

impl Binder<'_> {
    /// `signature` is what people read, e.g. `ask(prompt: String) -> String`.
    pub(crate) fn func<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &'static str,
        signature: &'static str,
        description: &'static str,
        func: FUNC,
    ) where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        FuncRegistration::new(name)
            .with_comments([format!("/// {description}")])
            .with_volatility(true)
            .set_into_module(self.module, func);
        self.docs.push(FnDoc {
            name,
            family: self.family,
            signature,
            description,
        });
    }
}

/// The signatures of a binding, for "wrong arguments" messages.
pub(crate) fn signatures_of<'a>(docs: &'a [FnDoc], name: &str) -> Vec<&'a str> {
    docs.iter()
        .filter(|doc| doc.name == name)
        .map(|doc| doc.signature)
        .collect()
}
