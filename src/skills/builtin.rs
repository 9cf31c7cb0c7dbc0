//! The built-in skills: the repository's `skills/*.rhai`, embedded at build time.

use super::{Kind, Origin, Skill, describe};

const BUILT_IN: [(&str, &str); 6] = [
    ("commit", include_str!("../../skills/commit.rhai")),
    ("daily", include_str!("../../skills/daily.rhai")),
    ("explain", include_str!("../../skills/explain.rhai")),
    ("pr", include_str!("../../skills/pr.rhai")),
    ("review", include_str!("../../skills/review.rhai")),
    ("summarize", include_str!("../../skills/summarize.rhai")),
];

/// Parsed once per process.
pub fn skills() -> &'static [Skill] {
    static PARSED: std::sync::OnceLock<Vec<Skill>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        BUILT_IN
            .iter()
            .map(|(name, source)| {
                describe(name, Kind::Rhai, Origin::BuiltIn, (*source).to_string())
            })
            .collect()
    })
}
