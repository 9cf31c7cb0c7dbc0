//! The Claude CLI as a provider (`claude-cli/<model>`): runs
//! `claude -p --output-format stream-json --verbose --include-partial-messages` as a child
//! process, writes the conversation to its stdin and maps its JSON lines to [`Event`]s.
//!
//! Claude Code runs its own tools with its own permission checks, outside LocalGPT's
//! policy, so LocalGPT's tools are not offered to it, and no flag that skips its
//! permission prompts is ever added here: only what the user puts in
//! `providers.claude-cli.args`.
//!
//! The system prompt (memory files included, often tens of KB) goes in a private file
//! (`--append-system-prompt-file`), never on the command line, where the kernel's limit on
//! one argument would refuse it; a CLI too old for that flag gets it at the top of stdin.

use std::process::Stdio;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::{ChatRequest, Completion, Event, Message, Provider, ProviderError, StopReason, Usage};

const PARTIAL_FLAG: &str = "--include-partial-messages";
const SYSTEM_FILE_FLAG: &str = "--append-system-prompt-file";

/// How this run passes the system prompt and asks for streaming; each falls back once
/// for an older CLI that does not know the flag.
#[derive(Clone, Copy)]
struct Flags {
    partial_messages: bool,
    system_in_file: bool,
}

pub(crate) struct ClaudeCli {
    command: String,
    extra_args: Vec<String>,
    label: String,
}

impl ClaudeCli {
    pub fn new(command: &str, extra_args: &[String]) -> ClaudeCli {
        ClaudeCli {
            command: command.to_string(),
            extra_args: extra_args.to_vec(),
            label: "the Claude CLI".to_string(),
        }
    }

    async fn run(
        &self,
        request: &ChatRequest,
        flags: Flags,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        let mut command = Command::new(&self.command);
        command.args(["-p", "--output-format", "stream-json", "--verbose"]);
        if flags.partial_messages {
            command.arg(PARTIAL_FLAG);
        }
        if !request.model.is_empty() && request.model != "default" {
            command.args(["--model", &request.model]);
        }
        // Created 0600 and removed when the run ends (the prompt holds the memory files).
        let system_file = if flags.system_in_file && !request.system.is_empty() {
            let mut file = tempfile::Builder::new()
                .prefix("localgpt-system-")
                .suffix(".md")
                .tempfile()
                .map_err(|err| ProviderError::Command {
                    command: self.command.clone(),
                    detail: format!("cannot write the system prompt to a file: {err}"),
                })?;
            std::io::Write::write_all(&mut file, request.system.as_bytes()).map_err(|err| {
                ProviderError::Command {
                    command: self.command.clone(),
                    detail: format!("cannot write the system prompt to a file: {err}"),
                }
            })?;
            command.arg(SYSTEM_FILE_FLAG).arg(file.path());
            Some(file)
        } else {
            None
        };
        command
            .args(&self.extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|err| ProviderError::Command {
            command: self.command.clone(),
            detail: if err.kind() == std::io::ErrorKind::NotFound {
                "was not found. Install Claude Code, or set providers.claude-cli.command to its path"
                    .to_string()
            } else {
                format!("could not be started: {err}")
            },
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            let mut prompt = render_conversation(&request.messages);
            if !flags.system_in_file && !request.system.is_empty() {
                prompt = format!(
                    "<instructions>\n{}\n</instructions>\n\n{prompt}",
                    request.system
                );
            }
            // A CLI that exits early closes its stdin; its own error says more than ours.
            let _ = stdin.write_all(prompt.as_bytes()).await;
        }
        let mut stderr = child.stderr.take();
        let stdout = child.stdout.take().ok_or_else(|| ProviderError::Command {
            command: self.command.clone(),
            detail: "gave no output stream".to_string(),
        })?;
        let mut lines = BufReader::new(stdout).lines();
        let mut completion = Completion::default();
        let mut streamed_text = false;
        let mut finished = false;
        while let Some(line) = lines
            .next_line()
            .await
            .map_err(|err| ProviderError::Command {
                command: self.command.clone(),
                detail: format!("output could not be read: {err}"),
            })?
        {
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            match value["type"].as_str() {
                Some("stream_event") => {
                    let event = &value["event"];
                    if event["type"] == "content_block_delta"
                        && event["delta"]["type"] == "text_delta"
                        && let Some(text) = event["delta"]["text"].as_str()
                    {
                        streamed_text = true;
                        completion.apply(Event::TextDelta(text.to_string()), sink);
                    }
                }
                Some("assistant") if !streamed_text => {
                    let blocks = value["message"]["content"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    for block in blocks {
                        if let Some(text) =
                            block["text"].as_str().filter(|_| block["type"] == "text")
                        {
                            completion.apply(Event::TextDelta(text.to_string()), sink);
                        }
                    }
                }
                Some("result") => {
                    let result = value["result"].as_str().unwrap_or_default();
                    // Claude Code prints these as if they were the answer.
                    if needs_login(result) || needs_login(&completion.text) {
                        return Err(ProviderError::Command {
                            command: self.command.clone(),
                            detail: format!(
                                "is not logged in ({}): run `{}` once and log in with /login",
                                result.trim(),
                                self.command
                            ),
                        });
                    }
                    if value["is_error"].as_bool() == Some(true) {
                        return Err(ProviderError::Command {
                            command: self.command.clone(),
                            detail: format!(
                                "reported an error: {}",
                                if result.is_empty() {
                                    "unknown error"
                                } else {
                                    result
                                }
                            ),
                        });
                    }
                    // A CLI that sent no message events still gives the answer here.
                    if completion.text.is_empty() && !result.is_empty() {
                        completion.apply(Event::TextDelta(result.to_string()), sink);
                    }
                    let usage = &value["usage"];
                    completion.apply(
                        Event::Usage(Usage {
                            input_tokens: usage["input_tokens"].as_u64().unwrap_or(0),
                            output_tokens: usage["output_tokens"].as_u64().unwrap_or(0),
                        }),
                        sink,
                    );
                    completion.apply(Event::Done(StopReason::EndTurn), sink);
                    finished = true;
                }
                _ => {}
            }
        }
        let status = child.wait().await.map_err(|err| ProviderError::Command {
            command: self.command.clone(),
            detail: format!("could not be waited for: {err}"),
        })?;
        drop(system_file);
        if finished {
            return Ok(completion);
        }
        let mut error_text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut error_text).await;
        }
        Err(ProviderError::Command {
            command: self.command.clone(),
            detail: format!(
                "ended ({status}) without an answer{}",
                if error_text.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::truncate::ellipsize(error_text.trim(), 500))
                }
            ),
        })
    }
}

/// Claude Code's answers when it has no credentials ("Not logged in · Please run /login",
/// "Invalid API key · Please run /login").
fn needs_login(text: &str) -> bool {
    let text = text.trim();
    text.contains("Please run /login") || text.starts_with("Not logged in")
}

/// The conversation as one prompt: the CLI keeps no history of ours between calls.
fn render_conversation(messages: &[Message]) -> String {
    if let [Message::User { content, .. }] = messages {
        return content.clone();
    }
    let mut prompt =
        String::from("Continue this conversation. Reply to the last user message.\n\n");
    for message in messages {
        match message {
            Message::User { content, .. } => prompt.push_str(&format!("User: {content}\n\n")),
            Message::Assistant { content, .. } => {
                prompt.push_str(&format!("Assistant: {content}\n\n"))
            }
            Message::Tool { name, content, .. } => {
                prompt.push_str(&format!("(Result of {name}: {content})\n\n"));
            }
        }
    }
    prompt
}

#[async_trait]
impl Provider for ClaudeCli {
    fn name(&self) -> &str {
        &self.label
    }

    async fn stream(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(Event) + Send),
    ) -> Result<Completion, ProviderError> {
        let mut flags = Flags {
            partial_messages: true,
            system_in_file: true,
        };
        // An older CLI that does not know a flag says so at once: ask again without it.
        for _ in 0..2 {
            match self.run(request, flags, sink).await {
                Err(ProviderError::Command { detail, .. })
                    if detail.contains(SYSTEM_FILE_FLAG) && flags.system_in_file =>
                {
                    flags.system_in_file = false;
                }
                Err(ProviderError::Command { detail, .. })
                    if (detail.contains(PARTIAL_FLAG) || detail.contains("unknown option"))
                        && flags.partial_messages =>
                {
                    flags.partial_messages = false;
                }
                other => return other,
            }
        }
        self.run(request, flags, sink).await
    }
}
