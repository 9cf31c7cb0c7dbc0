//! The Model Context Protocol, both ways.
//!
//! - [`client`]: the servers configured under `[mcp.servers.NAME]`, whose tools the model
//!   (as `NAME__TOOL`), scripts (`mcp_call`) and the person (`localgpt mcp`, `/mcp`) use.
//! - [`serve`]: LocalGPT as a server (`localgpt mcp serve`, and `/mcp` on the API), so
//!   that other assistants can search and add to its memory and run its skills.

pub mod client;
pub mod serve;

pub use client::{Hub, shutdown};
