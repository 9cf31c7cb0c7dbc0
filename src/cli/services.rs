//! The command lines of the services around the assistant: chat channels and the secrets
//! store.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Answer the configured chats in the foreground until Ctrl-C.
    Run,
    /// Check a channel's token and that its service answers (Telegram's getMe).
    Test {
        /// The channel: telegram.
        name: String,
    },
    /// Send TEXT to a chat, e.g. `localgpt channels send telegram:123456789 "done"`.
    Send { target: String, text: String },
    /// The configured channels, who may talk to them, and what waits to be answered.
    Status,
    /// A one-time code (valid ten minutes): whoever sends it to the bot first is added to
    /// its allow list.
    Pair {
        /// The channel: telegram.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret: its value is asked for unechoed, or read from standard input
    /// (`printf %s "$TOKEN" | localgpt secrets set telegram`), never taken from the
    /// command line. The store is created on first use, its key in the OS keyring or
    /// locked with a passphrase (LOCALGPT_SECRETS_PASSPHRASE, or asked).
    Set {
        /// Letters, digits, `_`, `-` and `.`; settings use it as `secret:NAME`.
        name: String,
    },
    /// The stored names (never the values), and where the store's key is kept.
    List,
    /// Remove a stored secret.
    Rm { name: String },
    /// Move every key written in config.toml (providers' api_key, MCP servers' headers)
    /// into the store, leaving `secret:NAME` in its place.
    Migrate,
}
