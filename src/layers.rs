//! The layers of the application crate, checked: which module may use which. [`LAYERS`]
//! lists the top-level modules from the bottom up; a module may use any module of a lower
//! layer and none of its own or a higher one. The one admitted circle is agent ↔ script ↔
//! skills: the model runs skills, skills run scripts, scripts ask the model. The model
//! inference below all of them is a crate of its own (`crates/inference`), with its own
//! table; `crates/layering` reads the source and does the checking.

/// From the bottom up. A new module goes into the lowest layer its uses allow.
const LAYERS: localgpt_layering::Layers<'static> = &[
    (
        "leaves",
        &[
            "cli",
            "conversation",
            "env",
            "layers",
            "markdown",
            "runtime",
            "truncate",
        ],
    ),
    (
        "the home folder, output style, the cancel signal",
        &["cancel", "home", "style"],
    ),
    ("the secrets store", &["secrets"]),
    ("configuration", &["config"]),
    ("the policy and the log", &["logging", "policy"]),
    ("services", &["net", "report", "sandbox"]),
    (
        "engines and messages to chats",
        &["delivery", "mcp", "models"],
    ),
    ("providers", &["provider"]),
    ("stores", &["memory", "session"]),
    (
        "the agent, its scripts and skills",
        &["agent", "script", "skills"],
    ),
    ("runners", &["heartbeat", "mcp_serve", "terminal"]),
    ("the first run", &["offer"]),
    ("front doors", &["channels", "repl", "server"]),
    ("dispatch", &["commands"]),
];

const RULES: localgpt_layering::Rules<'static> = localgpt_layering::Rules {
    layers: LAYERS,
    // Modules of one layer that may use each other.
    admitted_circle: &["agent", "script", "skills"],
};

#[test]
fn modules_use_only_the_layers_below_them() {
    localgpt_layering::assert_layered(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &RULES,
    );
}
