//! The frames of the automaton ([`super::Automaton`]): one per value being written,
//! each taking a character at a time — a literal or enum, a string, a number, an array, an
//! object of known or unknown shape, and the calls themselves.

use std::sync::Arc;

use serde_json::Value;

use super::{CLOSE_TAG, CallFormat, DIGITS, ITEMS, Node, Property, STRING_CHARS, Tool};

impl Node {
    pub(super) fn frame(&self) -> Frame {
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

#[derive(Debug, Clone)]
pub(super) enum Str {
    Start,
    Body,
    Escape,
    Hex(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Num {
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
pub(super) enum Seq {
    Open,
    First,
    AfterItem,
    AfterComma,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Obj {
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
pub(super) enum Call {
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
pub(super) enum Frame {
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
pub(super) enum Step {
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

    pub(super) fn step(&mut self, c: char) -> Step {
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
    pub(super) fn child_done(&mut self, choice: usize) {
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
