//! The command line of `localgpt config`.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write the annotated config.toml (every setting, explained).
    Init {
        /// Replace an existing config.toml (the old one is kept as config.toml.bak).
        #[arg(long)]
        force: bool,
    },
    /// Print every setting in effect — file, environment and flags — with keys masked.
    Show,
    /// Print one setting, e.g. `localgpt config get server.port`.
    Get {
        /// A dotted setting name such as agent.model or providers.openai.base_url.
        key: String,
    },
    /// Change one setting in config.toml, keeping its comments. The value is checked first.
    Set {
        /// A dotted setting name such as agent.model or server.port.
        key: String,
        /// The new value: a number, true/false, a word, or TOML such as ["a", "b"].
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print the path of config.toml.
    Path,
    /// Open config.toml in $VISUAL or $EDITOR; the result is checked before it is saved.
    Edit,
}
