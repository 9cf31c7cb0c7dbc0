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

    fn frame(&self) -> Frame {
        match self {
            Node::Choice(options) => Frame::text(Arc::clone(options)),
            Node::String { max_chars } => Frame::Str {
                state: Str::Start,
                chars: 0,
                max: *max_chars,
                tag: 0,
            },
            Node::Number { integer } => Frame::Num {
                state: Num::Start,
                integer: *integer,
                digits: 0,
            },
            Node::Array(item) => Frame::Array {
                item: Arc::clone(item),
                state: Seq::Open,
                items: 0,
                spaced: false,
            },
            Node::Object(properties) => Frame::Object {
                written: vec![false; properties.len()],
                properties: Arc::clone(properties),
                state: Obj::Open,
                spaced: false,
            },
            Node::AnyObject { depth } => Frame::AnyObject {
                depth: *depth,
                state: Obj::Open,
                members: 0,
                spaced: false,
            },
            Node::Any { depth } => Frame::Any { depth: *depth },
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

#[derive(Debug, Clone)]
enum Str {
    Start,
    Body,
    Escape,
    Hex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Start,
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

#[derive(Debug, Clone, Copy)]
enum Seq {
    Open,
    First,
    AfterItem,
    AfterComma,
}

#[derive(Debug, Clone, Copy)]
enum Obj {
    Open,
    KeyOrClose,
    /// Waiting for the key's text, one of the properties not yet written.
    Key,
    AfterKey(usize),
    AfterColon(usize),
    AfterValue,
    AfterComma,
}

/// Where a call is.
#[derive(Debug, Clone, Copy)]
enum Call {
    OpenTag,
    AfterOpenTag,
    Opening,
    Name,
    Between(usize),
    Arguments(usize),
    Closing,
    AfterClosing,
    CloseTag,
    /// A whole call written, and that many new lines after it: the end, or (tagged)
    /// another call. `u8::MAX` for Llama's format, which takes nothing more.
    Written(u8),
}

#[derive(Debug, Clone)]
enum Frame {
    Text {
        options: Arc<Vec<Vec<char>>>,
        alive: Vec<usize>,
        at: usize,
    },
    Str {
        state: Str,
        chars: usize,
        max: usize,
        /// How much of [`CLOSE_TAG`] the string's text ends with.
        tag: usize,
    },
    Num {
        state: Num,
        integer: bool,
        digits: usize,
    },
    Array {
        item: Arc<Node>,
        state: Seq,
        items: usize,
        spaced: bool,
    },
    Object {
        properties: Arc<Vec<Property>>,
        /// Which properties were written (each at most once, in any order).
        written: Vec<bool>,
        state: Obj,
        spaced: bool,
    },
    Any {
        depth: usize,
    },
    AnyObject {
        depth: usize,
        state: Obj,
        members: usize,
        spaced: bool,
    },
    Calls {
        tools: Arc<Vec<Tool>>,
        format: CallFormat,
        state: Call,
    },
}

/// What a frame does with a character.
enum Step {
    Consumed,
    Reject,
    /// The frame is complete; `consumed` says whether the character was its last.
    Done {
        consumed: bool,
        choice: usize,
    },
    /// A frame for what comes now, which takes the character.
    Push(Frame),
    /// Becomes this frame, which takes the character.
    Become(Frame),
}

fn literal(texts: &[&str]) -> Frame {
    Frame::text(Arc::new(
        texts.iter().map(|t| t.chars().collect()).collect(),
    ))
}

impl Frame {
    fn text(options: Arc<Vec<Vec<char>>>) -> Frame {
        Frame::Text {
            alive: (0..options.len()).collect(),
            options,
            at: 0,
        }
    }

    fn step(&mut self, c: char) -> Step {
        match self {
            Frame::Text { options, alive, at } => {
                let complete = alive.iter().copied().find(|&i| options[i].len() == *at);
                let next: Vec<usize> = alive
                    .iter()
                    .copied()
                    .filter(|&i| options[i].get(*at) == Some(&c))
                    .collect();
                if next.is_empty() {
                    return match complete {
                        Some(choice) => Step::Done {
                            consumed: false,
                            choice,
                        },
                        None => Step::Reject,
                    };
                }
                *at += 1;
                *alive = next;
                if alive.iter().all(|&i| options[i].len() == *at) {
                    return Step::Done {
                        consumed: true,
                        choice: alive[0],
                    };
                }
                Step::Consumed
            }
            Frame::Str {
                state,
                chars,
                max,
                tag,
            } => match (&*state, c) {
                (Str::Start, '"') => {
                    *state = Str::Body;
                    Step::Consumed
                }
                (Str::Start, _) => Step::Reject,
                (Str::Body, '"') => Step::Done {
                    consumed: true,
                    choice: 0,
                },
                (Str::Body, '\\') if *chars < *max => {
                    *state = Str::Escape;
                    Step::Consumed
                }
                (Str::Body, c) if c < ' ' || *chars >= *max => Step::Reject,
                (Str::Body, c) => {
                    // `</tool_call>` inside a string would end the call where it is read.
                    *tag = match CLOSE_TAG.chars().nth(*tag) {
                        Some(next) if next == c => *tag + 1,
                        _ => usize::from(c == '<'),
                    };
                    if *tag == CLOSE_TAG.len() {
                        return Step::Reject;
                    }
                    *chars += 1;
                    Step::Consumed
                }
                (Str::Escape, '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {
                    *chars += 1;
                    *state = Str::Body;
                    Step::Consumed
                }
                (Str::Escape, 'u') => {
                    *state = Str::Hex(4);
                    Step::Consumed
                }
                (Str::Hex(left), c) if c.is_ascii_hexdigit() => {
                    *state = if *left == 1 {
                        *chars += 1;
                        Str::Body
                    } else {
                        Str::Hex(*left - 1)
                    };
                    Step::Consumed
                }
                _ => Step::Reject,
            },
            Frame::Num {
                state,
                integer,
                digits,
            } => {
                let digit = c.is_ascii_digit();
                let fraction = !*integer && c == '.';
                let exponent = !*integer && matches!(c, 'e' | 'E');
                let next = match (*state, c) {
                    (Num::Start, '-') => Some(Num::Minus),
                    // `-0` reads as a float: no integer is written so.
                    (Num::Minus, '0') if *integer => None,
                    (Num::Start | Num::Minus, '0') => Some(Num::Zero),
                    (Num::Start | Num::Minus, _) if digit => Some(Num::Int),
                    (Num::Int, _) if digit && *digits < DIGITS => Some(Num::Int),
                    (Num::Zero | Num::Int, _) if fraction => Some(Num::Dot),
                    (Num::Zero | Num::Int | Num::Frac, _) if exponent => Some(Num::Exp),
                    (Num::Dot | Num::Frac, _) if digit && *digits < DIGITS => Some(Num::Frac),
                    (Num::Exp, '+' | '-') => Some(Num::ExpSign),
                    (Num::Exp | Num::ExpSign, _) if digit => Some(Num::ExpDigits),
                    // Two exponent digits: a number stays within what an f64 holds.
                    (Num::ExpDigits, _) if digit && *digits < 2 => Some(Num::ExpDigits),
                    _ => None,
                };
                match next {
                    Some(next) => {
                        *digits = if next == *state || (next == Num::Frac && *state == Num::Dot) {
                            *digits + 1
                        } else {
                            usize::from(digit)
                        };
                        *state = next;
                        Step::Consumed
                    }
                    None if matches!(state, Num::Zero | Num::Int | Num::Frac | Num::ExpDigits) => {
                        Step::Done {
                            consumed: false,
                            choice: 0,
                        }
                    }
                    None => Step::Reject,
                }
            }
            Frame::Array {
                item,
                state,
                items,
                spaced,
            } => match (*state, c) {
                (Seq::Open, '[') => {
                    *state = Seq::First;
                    Step::Consumed
                }
                (Seq::Open, _) => Step::Reject,
                (Seq::First, ']') | (Seq::AfterItem, ']') => Step::Done {
                    consumed: true,
                    choice: 0,
                },
                (Seq::AfterItem, ',') if *items < ITEMS => {
                    *state = Seq::AfterComma;
                    *spaced = false;
                    Step::Consumed
                }
                (Seq::AfterItem, _) => Step::Reject,
                (Seq::AfterComma, ' ') if !*spaced => {
                    *spaced = true;
                    Step::Consumed
                }
                (Seq::First | Seq::AfterComma, _) => {
                    *state = Seq::AfterItem;
                    *items += 1;
                    Step::Push(item.frame())
                }
            },
            Frame::Object {
                properties,
                written,
                state,
                spaced,
            } => {
                let open_required = properties
                    .iter()
                    .zip(written.iter())
                    .any(|(property, done)| property.required && !done);
                let left = written.iter().any(|done| !done);
                match (*state, c) {
                    (Obj::Open, '{') => {
                        *state = Obj::KeyOrClose;
                        Step::Consumed
                    }
                    (Obj::Open, _) => Step::Reject,
                    (Obj::KeyOrClose | Obj::AfterValue, '}') if !open_required => Step::Done {
                        consumed: true,
                        choice: 0,
                    },
                    (Obj::AfterValue, ',') if left => {
                        *state = Obj::AfterComma;
                        *spaced = false;
                        Step::Consumed
                    }
                    (Obj::AfterValue, _) => Step::Reject,
                    (Obj::AfterComma, ' ') if !*spaced => {
                        *spaced = true;
                        Step::Consumed
                    }
                    (Obj::KeyOrClose | Obj::AfterComma, _) if left => {
                        // Any property not written yet; the text frame's choice counts
                        // among those, in order.
                        let keys = properties
                            .iter()
                            .zip(written.iter())
                            .filter(|(_, done)| !**done)
                            .map(|(property, _)| property.key.clone())
                            .collect();
                        *state = Obj::Key;
                        Step::Push(Frame::text(Arc::new(keys)))
                    }
                    (Obj::AfterKey(at), ':') => {
                        *state = Obj::AfterColon(at);
                        *spaced = false;
                        Step::Consumed
                    }
                    (Obj::AfterColon(_), ' ') if !*spaced => {
                        *spaced = true;
                        Step::Consumed
                    }
                    (Obj::AfterColon(at), _) => {
                        written[at] = true;
                        *state = Obj::AfterValue;
                        Step::Push(properties[at].value.frame())
                    }
                    _ => Step::Reject,
                }
            }
            Frame::Any { depth } => match c {
                '{' if *depth > 0 => Step::Become(Frame::AnyObject {
                    depth: *depth - 1,
                    state: Obj::Open,
                    members: 0,
                    spaced: false,
                }),
                '[' if *depth > 0 => Step::Become(Frame::Array {
                    item: Arc::new(Node::Any { depth: *depth - 1 }),
                    state: Seq::Open,
                    items: 0,
                    spaced: false,
                }),
                '"' => Step::Become(
                    Node::String {
                        max_chars: STRING_CHARS,
                    }
                    .frame(),
                ),
                '-' | '0'..='9' => Step::Become(Node::Number { integer: false }.frame()),
                't' | 'f' | 'n' => Step::Become(literal(&["true", "false", "null"])),
                _ => Step::Reject,
            },
            Frame::AnyObject {
                depth,
                state,
                members,
                spaced,
            } => match (*state, c) {
                (Obj::Open, '{') => {
                    *state = Obj::KeyOrClose;
                    Step::Consumed
                }
                (Obj::KeyOrClose | Obj::AfterValue, '}') => Step::Done {
                    consumed: true,
                    choice: 0,
                },
                (Obj::AfterValue, ',') if *members < ITEMS => {
                    *state = Obj::AfterComma;
                    *spaced = false;
                    Step::Consumed
                }
                (Obj::AfterComma, ' ') if !*spaced => {
                    *spaced = true;
                    Step::Consumed
                }
                (Obj::KeyOrClose | Obj::AfterComma, '"') => {
                    *state = Obj::AfterKey(0);
                    *members += 1;
                    Step::Push(Node::String { max_chars: 64 }.frame())
                }
                (Obj::AfterKey(_), ':') => {
                    *state = Obj::AfterColon(0);
                    *spaced = false;
                    Step::Consumed
                }
                (Obj::AfterColon(_), ' ') if !*spaced => {
                    *spaced = true;
                    Step::Consumed
                }
                (Obj::AfterColon(_), _) => {
                    *state = Obj::AfterValue;
                    Step::Push(Frame::Any { depth: *depth })
                }
                _ => Step::Reject,
            },
            Frame::Calls {
                tools,
                format,
                state,
            } => {
                let arguments_key: &[&str] = match format {
                    CallFormat::Tagged => &[", \"arguments\": ", ",\"arguments\":"],
                    CallFormat::Json => &[", \"parameters\": ", ",\"parameters\":"],
                };
                match (*state, c) {
                    (Call::OpenTag, _) => {
                        *state = Call::AfterOpenTag;
                        Step::Push(literal(&["<tool_call>"]))
                    }
                    (Call::AfterOpenTag, '\n') => {
                        *state = Call::Opening;
                        Step::Consumed
                    }
                    (Call::AfterOpenTag | Call::Opening, _) => {
                        *state = Call::Name;
                        Step::Push(literal(&["{\"name\": ", "{\"name\":"]))
                    }
                    (Call::Name, _) => {
                        // The chosen name is given back as the text frame's choice.
                        let names = tools
                            .iter()
                            .map(|tool| Value::String(tool.name.clone()).to_string())
                            .collect::<Vec<_>>();
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        *state = Call::Between(usize::MAX);
                        Step::Push(literal(&names))
                    }
                    (Call::Between(tool), _) => {
                        *state = Call::Arguments(tool);
                        Step::Push(literal(arguments_key))
                    }
                    (Call::Arguments(tool), _) => {
                        *state = Call::Closing;
                        Step::Push(tools[tool].arguments.frame())
                    }
                    (Call::Closing, _) => {
                        // Llama's one call ends with its object.
                        *state = match format {
                            CallFormat::Tagged => Call::AfterClosing,
                            CallFormat::Json => Call::Written(u8::MAX),
                        };
                        Step::Push(literal(&["}"]))
                    }
                    (Call::AfterClosing, '\n') => {
                        *state = Call::CloseTag;
                        Step::Consumed
                    }
                    (Call::AfterClosing | Call::CloseTag, _) => {
                        *state = Call::Written(0);
                        Step::Push(literal(&[CLOSE_TAG]))
                    }
                    (Call::Written(lines), '\n') if lines < 2 => {
                        *state = Call::Written(lines + 1);
                        Step::Consumed
                    }
                    (Call::Written(lines), '<') if lines != u8::MAX => {
                        *state = Call::AfterOpenTag;
                        Step::Push(literal(&["<tool_call>"]))
                    }
                    _ => Step::Reject,
                }
            }
        }
    }

    /// A child frame finished with `choice` (the option a text frame matched).
    fn child_done(&mut self, choice: usize) {
        match self {
            Frame::Object { written, state, .. } if matches!(state, Obj::Key) => {
                // The choice-th property not yet written.
                if let Some(at) = written
                    .iter()
                    .enumerate()
                    .filter(|(_, done)| !**done)
                    .map(|(at, _)| at)
                    .nth(choice)
                {
                    *state = Obj::AfterKey(at);
                }
            }
            Frame::Calls { state, .. } => {
                if let Call::Between(usize::MAX) = state {
                    *state = Call::Between(choice);
                }
            }
            _ => {}
        }
    }
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
