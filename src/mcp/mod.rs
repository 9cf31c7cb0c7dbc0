//! The Model Context Protocol as a client: the servers configured under
//! `[mcp.servers.NAME]`, whose tools the model (as `NAME__TOOL`), scripts (`mcp_call`) and
//! the person (`localgpt mcp`, `/mcp`) use. LocalGPT as a server is a front door of its
//! own (`mcp_serve`): it stands above the agent and skills, which use this.

pub mod client;

pub use client::{Hub, shutdown};
