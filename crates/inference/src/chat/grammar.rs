//! The text a tool call may be, as an automaton fed one character at a time: a call
//! names one of the offered tools and gives arguments that fit that tool's JSON schema
//! (its properties with their types, enums and required ones, each at most once),
//! written as JSON. Decoding asks it which tokens may come next ([`super::guide`]), so a
//! model — however small, with random weights even — cannot write a call that does not
//! parse or fit.
//!
//! The schema's common shapes are followed exactly: `type` string (with `maxLength`),
//! integer, number, boolean, null, array (`items`), object (`properties`, `required`),
//! `enum` and `const`. Anything else (`anyOf`, a list of types, an object with no
//! properties) is any JSON value, nested at most [`ANY_DEPTH`] deep. Whitespace is
//! JSON's usual one space after `:` and `,`, so a model cannot pad a call forever.

use std::sync::Arc;

use serde_json::Value;

mod frames;

use frames::{Call, Frame, Num, Step};

/// How deep a value of unknown shape may nest.
pub(crate) const ANY_DEPTH: usize = 4;
/// The most characters a string may have, when its schema sets no `maxLength`.
const STRING_CHARS: usize = 4096;
/// Digits a number may have, before and after its point.
const DIGITS: usize = 16;
/// What ends a tagged call; no string inside one may hold it.
const CLOSE_TAG: &str = "</tool_call>";
/// Items of an array, members of an object of unknown shape.
const ITEMS: usize = 64;

/// What a value may be.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// One of these texts, exactly (enums, booleans, `null`, a literal).
    Choice(Arc<Vec<Vec<char>>>),
    String {
        max_chars: usize,
    },
    Number {
        integer: bool,
    },
    Array(Arc<Node>),
    Object(Arc<Vec<Property>>),
    /// Any JSON object (a schema's object with no properties, JSON mode).
    AnyObject {
        depth: usize,
    },
    Any {
        depth: usize,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Property {
    /// The key as JSON writes it, quotes included.
    key: Vec<char>,
    value: Node,
    required: bool,
}

fn choice<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> Node {
    Node::Choice(Arc::new(
        texts
            .into_iter()
            .map(|text| text.as_ref().chars().collect())
            .collect(),
    ))
}

impl Node {
    /// The node a JSON schema describes.
    pub(crate) fn of_schema(schema: &Value) -> Node {
        Node::schema_at(schema, ANY_DEPTH + 2)
    }

    fn schema_at(schema: &Value, depth: usize) -> Node {
        if depth == 0 {
            return Node::Any { depth: 0 };
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.is_empty()
        {
            return choice(values.iter().map(Value::to_string));
        }
        if let Some(value) = schema.get("const") {
            return choice([value.to_string()]);
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => Node::String {
                max_chars: schema
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .map_or(STRING_CHARS, |max| (max as usize).min(STRING_CHARS)),
            },
            Some("integer") => Node::Number { integer: true },
            Some("number") => Node::Number { integer: false },
            Some("boolean") => choice(["true", "false"]),
            Some("null") => choice(["null"]),
            Some("array") => Node::Array(Arc::new(
                schema
                    .get("items")
                    .map_or(Node::Any { depth: ANY_DEPTH }, |items| {
                        Node::schema_at(items, depth - 1)
                    }),
            )),
            Some("object") => {
                let Some(properties) = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .filter(|properties| !properties.is_empty())
                else {
                    return Node::AnyObject { depth: ANY_DEPTH };
                };
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|names| names.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                Node::Object(Arc::new(
                    properties
                        .iter()
                        .map(|(name, schema)| Property {
                            key: Value::String(name.clone()).to_string().chars().collect(),
                            value: Node::schema_at(schema, depth - 1),
                            required: required.contains(&name.as_str()),
                        })
                        .collect(),
                ))
            }
            _ => Node::Any { depth: ANY_DEPTH },
        }
    }
}

/// One tool a call may name.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub(crate) name: String,
    pub(crate) arguments: Node,
}

/// How calls are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFormat {
    /// Qwen's and Hermes' `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`, one or
    /// more; also LocalGPT's own format for models whose template has none.
    Tagged,
    /// Llama 3.x's one `{"name": …, "parameters": …}`.
    Json,
}

/// The calls being written: a stack of frames, innermost last.
#[derive(Debug, Clone)]
pub(crate) struct Automaton {
    stack: Vec<Frame>,
}

impl Automaton {
    /// Calls of `tools` written in `format`, from their first character (`<tool_call>`
    /// or `{`).
    pub(crate) fn calls(tools: Arc<Vec<Tool>>, format: CallFormat) -> Automaton {
        let state = match format {
            CallFormat::Tagged => Call::OpenTag,
            CallFormat::Json => Call::Opening,
        };
        Automaton {
            stack: vec![Frame::Calls {
                tools,
                format,
                state,
            }],
        }
    }

    /// A value that fits `node`, from its first character.
    pub(crate) fn value(node: &Node) -> Automaton {
        Automaton {
            stack: vec![node.frame()],
        }
    }

    /// Takes `c`; false (and the automaton unusable) when `c` cannot come next.
    pub(crate) fn feed(&mut self, c: char) -> bool {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return false;
            };
            match top.step(c) {
                Step::Consumed => return true,
                Step::Reject => return false,
                Step::Push(frame) => self.stack.push(frame),
                Step::Become(frame) => *top = frame,
                Step::Done { consumed, choice } => {
                    self.stack.pop();
                    if let Some(parent) = self.stack.last_mut() {
                        parent.child_done(choice);
                    }
                    if consumed {
                        return true;
                    }
                }
            }
        }
    }

    /// Takes all of `text`.
    pub(crate) fn feed_str(&mut self, text: &str) -> bool {
        text.chars().all(|c| self.feed(c))
    }

    /// Whether what was fed is whole: the calls may end here.
    pub(crate) fn complete(&self) -> bool {
        match self.stack.as_slice() {
            [] => true,
            [Frame::Calls { state, .. }] => matches!(state, Call::Written(_)),
            // A number ends only at what follows it.
            [Frame::Num { state, .. }] => {
                matches!(state, Num::Zero | Num::Int | Num::Frac | Num::ExpDigits)
            }
            _ => false,
        }
    }
}

/// The tools of an OpenAI-style `tools` array (`[{"type": "function", "function":
/// {"name", "parameters"}}]`, or the bare functions).
pub(crate) fn tools_of(tools: &Value) -> Vec<Tool> {
    tools
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let function = tool.get("function").unwrap_or(tool);
            let name = function.get("name")?.as_str()?.to_string();
            let arguments = function
                .get("parameters")
                .map_or(Node::Any { depth: ANY_DEPTH }, Node::of_schema);
            Some(Tool { name, arguments })
        })
        .collect()
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
