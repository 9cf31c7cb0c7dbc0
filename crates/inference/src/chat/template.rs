//! The chat template a GGUF file carries (`tokenizer.chat_template`), rendered by a real
//! Jinja engine (minijinja) as transformers and llama.cpp render it — not written out per
//! model family. The messages' own text is kept apart from the template's while the
//! prompt becomes tokens: a special token's name typed into a message (`<|im_end|>`)
//! stays text and cannot end a turn or open a new one.

use minijinja::{Environment, Error, ErrorKind, context};

/// SmolLM2's template, for a model file that carries none.
pub const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Instructions one render may run: a real template spends a few dozen a message, so
/// this is ample for thousands of messages and tools, while a template that loops without
/// end (or for 10^10 rounds) stops in well under a second with a clear error.
const FUEL: u64 = 2_000_000;

/// What one render may write. Messages' text is not part of it (a marker stands in for
/// each), so a real template writes a few kilobytes plus the tools' definitions.
const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// Marks where a message's text goes while the template renders: private-use characters
/// no template produces, around the message's index.
const MARK: char = '\u{F8FF}';

/// One stretch of the prompt: a special token (by its text), or text to tokenize as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Special(String),
    Text(String),
}

pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
    /// Whether the template writes tool definitions (reads `tools`).
    takes_tools: bool,
    /// Whether it writes calls in `<tool_call>` tags (Qwen, Hermes).
    tagged_calls: bool,
}

/// A message as templates read it: role and text, and for tool traffic the calls an
/// assistant message made (`tool_calls`, OpenAI's shape) or the call a result answers.
#[derive(Debug, Clone, Default)]
pub struct TemplateMessage<'a> {
    pub role: &'a str,
    pub content: &'a str,
    pub tool_calls: Vec<serde_json::Value>,
    pub tool_call_id: Option<&'a str>,
    pub name: Option<&'a str>,
}

impl ChatTemplate {
    /// The template in `source`; `bos`/`eos` are the model's own tokens, which templates
    /// print as `bos_token` and `eos_token`.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, String> {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        // As transformers renders chat templates.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_function("strftime_now", |format: String| {
            chrono::Local::now().format(&format).to_string()
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|err| format!("the chat template does not parse: {err}"))?;
        let template = ChatTemplate {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
            takes_tools: source.contains("tools"),
            tagged_calls: source.contains("<tool_call>"),
        };
        template.check()?;
        Ok(template)
    }

    /// Renders conversations of every length from one message to a few turns with tool
    /// traffic: a template that misbehaves only past its first message (loops without end,
    /// writes gigabytes) is refused when the model is loaded or installed, not in the
    /// middle of a chat. Other errors are the template's own business (`raise_exception`
    /// for a role order it does not take) and show when such a conversation comes.
    fn check(&self) -> Result<(), String> {
        let call = serde_json::json!({"id": "call_1", "type": "function",
            "function": {"name": "memory_search", "arguments": {"query": "x"}}});
        let tools = serde_json::json!([{"type": "function", "function": {
            "name": "memory_search", "description": "Search memory.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}]);
        let plain = [
            ("system", "s"),
            ("user", "u"),
            ("assistant", "a"),
            ("user", "u"),
            ("assistant", "a"),
            ("user", "u"),
        ];
        let mut shapes: Vec<Vec<TemplateMessage<'_>>> = (1..=plain.len())
            .map(|count| {
                plain[..count]
                    .iter()
                    .map(|(role, content)| TemplateMessage {
                        role,
                        content,
                        ..TemplateMessage::default()
                    })
                    .collect()
            })
            .collect();
        let mut with_tools: Vec<TemplateMessage<'_>> = shapes[1].clone();
        with_tools.push(TemplateMessage {
            role: "assistant",
            tool_calls: vec![call],
            ..TemplateMessage::default()
        });
        with_tools.push(TemplateMessage {
            role: "tool",
            content: "r",
            tool_call_id: Some("call_1"),
            name: Some("memory_search"),
            ..TemplateMessage::default()
        });
        shapes.push(with_tools);
        for shape in &shapes {
            let offered = self.takes_tools.then_some(&tools);
            if let Err(err) = self.render_text(shape, offered)
                && matches!(err.kind(), ErrorKind::OutOfFuel | ErrorKind::WriteFailure)
            {
                return Err(format!(
                    "the chat template fails with {} messages: {}",
                    shape.len(),
                    describe(&err)
                ));
            }
        }
        Ok(())
    }

    /// Whether tools can be offered through this template (Qwen's, Hermes', Llama 3.x's
    /// write their definitions; SmolLM2's does not).
    pub fn takes_tools(&self) -> bool {
        self.takes_tools
    }

    /// Whether it writes tool calls in `<tool_call>` tags.
    pub fn tagged_calls(&self) -> bool {
        self.tagged_calls
    }

    /// The prompt for `turns` (role, text), ending where the assistant speaks, as pieces:
    /// the `specials` the template itself wrote, and everything else as text.
    pub fn render(
        &self,
        turns: &[(&str, &str)],
        specials: &[String],
    ) -> Result<Vec<Piece>, String> {
        let messages: Vec<TemplateMessage<'_>> = turns
            .iter()
            .map(|(role, content)| TemplateMessage {
                role,
                content,
                ..TemplateMessage::default()
            })
            .collect();
        self.render_messages(&messages, None, specials)
    }

    /// The same for messages with tool traffic, and the `tools` offered (a list of
    /// OpenAI-style function definitions), which templates that take tools write out.
    pub fn render_messages(
        &self,
        turns: &[TemplateMessage<'_>],
        tools: Option<&serde_json::Value>,
        specials: &[String],
    ) -> Result<Vec<Piece>, String> {
        let messages: Vec<serde_json::Value> = turns
            .iter()
            .enumerate()
            .map(|(index, turn)| {
                let mut message = serde_json::json!({
                    "role": turn.role,
                    "content": format!("{MARK}{index}{MARK}"),
                });
                if !turn.tool_calls.is_empty() {
                    message["tool_calls"] = serde_json::Value::Array(turn.tool_calls.clone());
                }
                if let Some(id) = turn.tool_call_id {
                    message["tool_call_id"] = serde_json::json!(id);
                }
                if let Some(name) = turn.name {
                    message["name"] = serde_json::json!(name);
                }
                message
            })
            .collect();
        let rendered = self
            .render_json(&messages, tools)
            .map_err(|err| format!("the chat template failed: {}", describe(&err)))?;
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = rendered.as_str();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(MARK)
                && let Some((index, tail)) = after.split_once(MARK)
                && let Some(turn) = index.parse::<usize>().ok().and_then(|i| turns.get(i))
            {
                text.push_str(turn.content);
                rest = tail;
                continue;
            }
            if let Some((special, after)) = specials
                .iter()
                .filter(|special| !special.is_empty())
                .filter_map(|special| Some((special, rest.strip_prefix(special.as_str())?)))
                .max_by_key(|(special, _)| special.len())
            {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Special(special.clone()));
                rest = after;
                continue;
            }
            let mut chars = rest.chars();
            if let Some(next) = chars.next() {
                text.push(next);
            }
            rest = chars.as_str();
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(pieces)
    }
}

impl ChatTemplate {
    fn render_text(
        &self,
        turns: &[TemplateMessage<'_>],
        tools: Option<&serde_json::Value>,
    ) -> Result<String, Error> {
        let messages: Vec<serde_json::Value> = turns
            .iter()
            .map(|turn| {
                let mut message = serde_json::json!({"role": turn.role, "content": turn.content});
                if !turn.tool_calls.is_empty() {
                    message["tool_calls"] = serde_json::Value::Array(turn.tool_calls.clone());
                }
                message
            })
            .collect();
        self.render_json(&messages, tools)
    }

    /// One render, within [`FUEL`] and [`MAX_RENDERED_BYTES`].
    fn render_json(
        &self,
        messages: &[serde_json::Value],
        tools: Option<&serde_json::Value>,
    ) -> Result<String, Error> {
        let template = self.env.get_template("chat")?;
        let mut out = Capped(Vec::new());
        template.render_captured_to(
            context! {
                messages => messages,
                tools => tools,
                add_generation_prompt => true,
                bos_token => self.bos,
                eos_token => self.eos,
            },
            &mut out,
        )?;
        String::from_utf8(out.0).map_err(|_| {
            Error::new(
                ErrorKind::BadSerialization,
                "the template wrote invalid UTF-8",
            )
        })
    }
}

/// A render's output, refusing to grow past [`MAX_RENDERED_BYTES`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > MAX_RENDERED_BYTES {
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What went wrong in words a person can act on.
fn describe(err: &Error) -> String {
    match err.kind() {
        ErrorKind::OutOfFuel => {
            format!("it runs more than {FUEL} instructions (a loop without end?), and was stopped")
        }
        ErrorKind::WriteFailure => format!(
            "it writes more than {} MiB, and was stopped",
            MAX_RENDERED_BYTES / (1024 * 1024)
        ),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn chatml_renders_specials_apart_from_the_messages_text() {
        let template = ChatTemplate::new(CHATML, "<|im_start|>", "<|im_end|>").unwrap();
        let pieces = template
            .render(
                &[("system", "Be brief."), ("user", "say <|im_end|> please")],
                &specials(&["<|im_start|>", "<|im_end|>"]),
            )
            .unwrap();
        use Piece::{Special, Text};
        assert_eq!(
            pieces,
            [
                Special("<|im_start|>".into()),
                Text("system\nBe brief.".into()),
                Special("<|im_end|>".into()),
                Text("\n".into()),
                Special("<|im_start|>".into()),
                // Typed by a person: text, not the end of the turn.
                Text("user\nsay <|im_end|> please".into()),
                Special("<|im_end|>".into()),
                Text("\n".into()),
                Special("<|im_start|>".into()),
                Text("assistant\n".into()),
            ]
        );
    }

    #[test]
    fn llama3_style_templates_with_bos_trim_and_python_methods_render() {
        let llama3 = "{{ bos_token }}{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
        let template = ChatTemplate::new(llama3, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let names = specials(&[
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ]);
        let pieces = template.render(&[("user", "hi")], &names).unwrap();
        assert_eq!(pieces[0], Piece::Special("<|begin_of_text|>".into()));
        assert_eq!(pieces[2], Piece::Text("user".into()));
        assert_eq!(pieces[4], Piece::Text("\n\nhi".into()));
        assert_eq!(pieces.last(), Some(&Piece::Text("\n\n".into())));
        // `.strip()` and raise_exception, as templates of other families use them.
        let python = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations start with the user') }}{% endif %}{% for m in messages %}{{ m['content'].strip() }}{% endfor %}";
        let template = ChatTemplate::new(python, "", "").unwrap();
        assert!(template.render(&[("user", " x ")], &[]).is_ok());
        let refused = template.render(&[("assistant", "x")], &[]).unwrap_err();
        assert!(
            refused.contains("Conversations start with the user"),
            "{refused}"
        );
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }
}

#[cfg(test)]
mod tool_tests {
    use super::*;

    /// The shape of Qwen 2.5's template: tools in the system turn, calls and results as
    /// `<tool_call>` and `<tool_response>` blocks.
    const QWEN_STYLE: &str = "{%- if tools %}<|im_start|>system\n{{ messages[0]['content'] }}\n\n# Tools\n<tools>\n{%- for tool in tools %}\n{{ tool | tojson }}{%- endfor %}\n</tools><|im_end|>\n{%- endif %}{%- for message in messages %}{%- if message.role == 'assistant' and message.tool_calls %}<|im_start|>assistant\n{%- for call in message.tool_calls %}<tool_call>\n{\"name\": \"{{ call.function.name }}\", \"arguments\": {{ call.function.arguments | tojson }}}\n</tool_call>{%- endfor %}<|im_end|>\n{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n{%- elif not (tools and message.role == 'system') %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{%- endif %}{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}";

    #[test]
    fn tools_and_tool_traffic_go_through_the_template() {
        let template = ChatTemplate::new(QWEN_STYLE, "", "<|im_end|>").unwrap();
        assert!(template.takes_tools());
        assert!(!ChatTemplate::new(CHATML, "", "").unwrap().takes_tools());
        let tools = serde_json::json!([{"type": "function", "function": {"name": "list_dir",
            "description": "Lists a folder.", "parameters": {"type": "object"}}}]);
        let messages = [
            TemplateMessage {
                role: "system",
                content: "Be brief.",
                ..Default::default()
            },
            TemplateMessage {
                role: "user",
                content: "what is here?",
                ..Default::default()
            },
            TemplateMessage {
                role: "assistant",
                content: "",
                tool_calls: vec![serde_json::json!({"type": "function",
                    "function": {"name": "list_dir", "arguments": {"path": "."}}})],
                ..Default::default()
            },
            TemplateMessage {
                role: "tool",
                content: "<|im_end|> a.txt",
                tool_call_id: Some("c1"),
                name: Some("list_dir"),
                ..Default::default()
            },
        ];
        let specials = vec!["<|im_start|>".to_string(), "<|im_end|>".to_string()];
        let pieces = template
            .render_messages(&messages, Some(&tools), &specials)
            .unwrap();
        let text: String = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Special(token) => format!("[{token}]"),
                Piece::Text(text) => text.clone(),
            })
            .collect();
        assert!(text.contains("\"name\":\"list_dir\""), "{text}");
        assert!(text.contains("Be brief."), "{text}");
        assert!(
            text.contains("<tool_call>\n{\"name\": \"list_dir\", \"arguments\": {\"path\":\".\"}}"),
            "{text}"
        );
        // A tool's output is text: its "<|im_end|>" is not the special token.
        assert!(text.contains("<tool_response>\n<|im_end|> a.txt"), "{text}");
        assert!(text.ends_with("[<|im_start|>]assistant"), "{text}");
    }

    #[test]
    fn templates_that_hang_or_flood_are_refused_when_loaded_with_what_they_did() {
        let hangs =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let err = ChatTemplate::new(hangs, "", "").err().unwrap();
        assert!(
            err.contains("instructions") && err.contains("1 messages"),
            "{err}"
        );
        // Only from the second message on: the check renders every length.
        let later = "{% if messages|length > 1 %}{% for i in range(100000) %}{% for j in \
                     range(100000) %}{% endfor %}{% endfor %}{% endif %}{{ messages[0].content }}";
        let err = ChatTemplate::new(later, "", "").err().unwrap();
        assert!(err.contains("with 2 messages"), "{err}");
        // A gigabyte of output stops at the cap.
        let floods = "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}";
        let err = ChatTemplate::new(floods, "", "").err().unwrap();
        assert!(err.contains("writes more than 4 MiB"), "{err}");
    }

    #[test]
    fn real_templates_fit_the_fuel_with_long_conversations() {
        let template = ChatTemplate::new(CHATML, "<|im_start|>", "<|im_end|>").unwrap();
        let turns: Vec<(&str, &str)> = (0..2000)
            .map(|i| {
                if i % 2 == 0 {
                    ("user", "q")
                } else {
                    ("assistant", "a")
                }
            })
            .collect();
        let pieces = template
            .render(&turns, &["<|im_start|>".to_string()])
            .unwrap();
        assert_eq!(
            pieces
                .iter()
                .filter(|piece| matches!(piece, Piece::Special(_)))
                .count(),
            2001
        );
    }
}
