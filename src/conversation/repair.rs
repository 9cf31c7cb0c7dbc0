//! The one repair of a message list, run when a session is loaded and before every
//! request: whatever a cancelled round, a dropped client, a crash or an older version left
//! behind, what goes to a provider is a conversation it accepts.
//!
//! It is a fold of small passes, each saying what it changed (goose's `fix_conversation`
//! is the model): a repaired list is repaired again with no change.
//!
//! - every tool call is answered right after its message (an answer missing is written as
//!   "interrupted"); an answer no call right before it asked for is dropped;
//! - a call id is used once in the conversation;
//! - a message with nothing in it is removed, and blank assistant text is cleared;
//! - two messages of one role in a row become one (Anthropic wants turns to alternate);
//! - the conversation opens with the user.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::{Message, ToolCall};

/// What [`repair`] changed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// A tool result that no call right before it asked for was dropped.
    DroppedResultWithoutCall {
        call_id: String,
    },
    /// A second result for one call was dropped.
    DroppedDuplicateResult {
        call_id: String,
    },
    /// A call that never got its result is answered as interrupted.
    AnsweredUnfinishedCall {
        call_id: String,
        name: String,
    },
    /// A call id already used earlier in the conversation was renamed.
    RenamedDuplicateCallId {
        from: String,
        to: String,
    },
    RemovedEmptyMessage {
        role: &'static str,
    },
    MergedConsecutive {
        role: &'static str,
    },
    /// The conversation started with the assistant; a user message now opens it.
    OpenedWithUser,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::DroppedResultWithoutCall { call_id } => {
                write!(
                    f,
                    "dropped the result of {call_id}: no call right before it asked for it"
                )
            }
            Fix::DroppedDuplicateResult { call_id } => {
                write!(f, "dropped a second result for {call_id}")
            }
            Fix::AnsweredUnfinishedCall { call_id, name } => {
                write!(
                    f,
                    "answered {name} ({call_id}), which had no result, as interrupted"
                )
            }
            Fix::RenamedDuplicateCallId { from, to } => {
                write!(f, "renamed the reused call id {from} to {to}")
            }
            Fix::RemovedEmptyMessage { role } => write!(f, "removed an empty {role} message"),
            Fix::MergedConsecutive { role } => {
                write!(f, "merged two {role} messages in a row")
            }
            Fix::OpenedWithUser => write!(f, "added a user message before the first answer"),
        }
    }
}

/// The answer written for a call that never got one.
pub(crate) const UNFINISHED_CALL: &str =
    "interrupted: this call did not finish (the turn was stopped before its result was saved)";

/// What opens a conversation whose start is lost.
const LOST_OPENING: &str = "[The start of this conversation is not available.]";

/// Repairs `messages` in place; returns what it changed (nothing, for a sound list).
pub fn repair(messages: &mut Vec<Message>) -> Vec<Fix> {
    let mut fixes = Vec::new();
    clear_blank_text(messages, &mut fixes);
    unique_call_ids(messages, &mut fixes);
    pair_calls_with_results(messages, &mut fixes);
    merge_consecutive(messages, &mut fixes);
    open_with_user(messages, &mut fixes);
    fixes
}

/// Blank assistant text becomes empty (Anthropic refuses whitespace-only text blocks);
/// messages left with nothing are removed.
fn clear_blank_text(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    for message in messages.iter_mut() {
        if let Message::Assistant { content, .. } = message
            && !content.is_empty()
            && content.trim().is_empty()
        {
            content.clear();
        }
    }
    messages.retain(|message| {
        let role = match message {
            Message::User { content, images } if content.trim().is_empty() && images.is_empty() => {
                "user"
            }
            Message::Assistant {
                content,
                tool_calls,
            } if content.is_empty() && tool_calls.is_empty() => "assistant",
            _ => return true,
        };
        fixes.push(Fix::RemovedEmptyMessage { role });
        false
    });
}

/// Gives each call an id of its own. A call reusing an id from an earlier message is
/// renamed together with the results right after it; a second call with the same id in
/// one message is renamed alone (its result cannot be told apart, so it will be answered
/// as unfinished).
fn unique_call_ids(messages: &mut [Message], fixes: &mut Vec<Fix>) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut renamed: HashMap<String, String> = HashMap::new();
    for message in messages.iter_mut() {
        match message {
            Message::Assistant { tool_calls, .. } => {
                renamed.clear();
                let mut in_this_message = HashSet::new();
                for call in tool_calls.iter_mut() {
                    let reused_here = !in_this_message.insert(call.id.clone());
                    if !seen.contains(&call.id) && !reused_here {
                        continue;
                    }
                    let fresh = fresh_id(&call.id, &seen);
                    fixes.push(Fix::RenamedDuplicateCallId {
                        from: call.id.clone(),
                        to: fresh.clone(),
                    });
                    if !reused_here {
                        renamed.insert(call.id.clone(), fresh.clone());
                    }
                    seen.insert(fresh.clone());
                    call.id = fresh;
                }
                seen.extend(tool_calls.iter().map(|call| call.id.clone()));
            }
            Message::Tool { call_id, .. } => {
                if let Some(fresh) = renamed.get(call_id.as_str()) {
                    *call_id = fresh.clone();
                }
            }
            Message::User { .. } => renamed.clear(),
        }
    }
}

fn fresh_id(id: &str, taken: &HashSet<String>) -> String {
    (2..)
        .map(|n| format!("{id}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| id.to_string())
}

/// Every call is followed by its result, and every result follows its call.
fn pair_calls_with_results(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    let old = std::mem::take(messages);
    let mut rest = old.into_iter().peekable();
    while let Some(message) = rest.next() {
        let calls: Vec<ToolCall> = match &message {
            Message::Tool { call_id, .. } => {
                fixes.push(Fix::DroppedResultWithoutCall {
                    call_id: call_id.clone(),
                });
                continue;
            }
            Message::Assistant { tool_calls, .. } => tool_calls.clone(),
            Message::User { .. } => Vec::new(),
        };
        messages.push(message);
        if calls.is_empty() {
            continue;
        }
        let mut answered: HashSet<String> = HashSet::new();
        while let Some(Message::Tool { call_id, .. }) = rest.peek() {
            let call_id = call_id.clone();
            let Some(result) = rest.next() else { break };
            if !calls.iter().any(|call| call.id == call_id) {
                fixes.push(Fix::DroppedResultWithoutCall { call_id });
            } else if !answered.insert(call_id.clone()) {
                fixes.push(Fix::DroppedDuplicateResult { call_id });
            } else {
                messages.push(result);
            }
        }
        for call in calls.iter().filter(|call| !answered.contains(&call.id)) {
            fixes.push(Fix::AnsweredUnfinishedCall {
                call_id: call.id.clone(),
                name: call.name.clone(),
            });
            messages.push(Message::result_of(call, UNFINISHED_CALL, true));
        }
    }
}

/// Two user messages in a row become one; so do two assistant messages when the first
/// asked for no tools (one that did is followed by results, after the pass above).
fn merge_consecutive(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    let old = std::mem::take(messages);
    for message in old {
        match (messages.last_mut(), message) {
            (
                Some(Message::User {
                    content: earlier,
                    images: earlier_images,
                }),
                Message::User { content, images },
            ) => {
                earlier.push_str("\n\n");
                earlier.push_str(&content);
                earlier_images.extend(images);
                fixes.push(Fix::MergedConsecutive { role: "user" });
            }
            (
                Some(Message::Assistant {
                    content: earlier,
                    tool_calls: earlier_calls,
                }),
                Message::Assistant {
                    content,
                    tool_calls,
                },
            ) if earlier_calls.is_empty() => {
                if !earlier.is_empty() && !content.is_empty() {
                    earlier.push_str("\n\n");
                }
                earlier.push_str(&content);
                *earlier_calls = tool_calls;
                fixes.push(Fix::MergedConsecutive { role: "assistant" });
            }
            (_, message) => messages.push(message),
        }
    }
}

fn open_with_user(messages: &mut Vec<Message>, fixes: &mut Vec<Fix>) {
    if messages
        .first()
        .is_some_and(|first| !matches!(first, Message::User { .. }))
    {
        messages.insert(0, Message::user(LOST_OPENING));
        fixes.push(Fix::OpenedWithUser);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.to_string(),
            name: "bash".to_string(),
            arguments: json!({"command": "ls"}),
        }
    }

    fn asks(text: &str, ids: &[&str]) -> Message {
        Message::Assistant {
            content: text.to_string(),
            tool_calls: ids.iter().map(|id| call(id)).collect(),
        }
    }

    fn result(id: &str) -> Message {
        Message::result_of(&call(id), format!("output of {id}"), false)
    }

    /// What the providers require, checked the way their servers check it.
    fn accepted(messages: &[Message]) -> Result<(), String> {
        if !matches!(messages.first(), None | Some(Message::User { .. })) {
            return Err("the first message is not the user's".into());
        }
        let mut seen = HashSet::new();
        let mut index = 0;
        while index < messages.len() {
            match &messages[index] {
                Message::Assistant { tool_calls, .. } if !tool_calls.is_empty() => {
                    let mut ids: HashSet<&str> = HashSet::new();
                    for call in tool_calls {
                        if !seen.insert(call.id.clone()) {
                            return Err(format!("{} is used twice", call.id));
                        }
                        ids.insert(&call.id);
                    }
                    index += 1;
                    while let Some(Message::Tool { call_id, .. }) = messages.get(index) {
                        if !ids.remove(call_id.as_str()) {
                            return Err(format!("{call_id} answers no call"));
                        }
                        index += 1;
                    }
                    if !ids.is_empty() {
                        return Err(format!("{ids:?} have no result"));
                    }
                    continue;
                }
                Message::Tool { call_id, .. } => return Err(format!("{call_id} follows no call")),
                Message::Assistant { content, .. } if content.trim().is_empty() => {
                    return Err("an empty assistant message".into());
                }
                Message::User { content, images }
                    if content.trim().is_empty() && images.is_empty() =>
                {
                    return Err("an empty user message".into());
                }
                _ => {}
            }
            let same_role = matches!(
                (&messages[index], messages.get(index + 1)),
                (Message::User { .. }, Some(Message::User { .. }))
                    | (Message::Assistant { .. }, Some(Message::Assistant { .. }))
            );
            if same_role {
                return Err(format!("messages {index} and {} share a role", index + 1));
            }
            index += 1;
        }
        Ok(())
    }

    #[test]
    fn a_call_cut_off_by_ctrl_c_is_answered_as_interrupted() {
        let mut messages = vec![
            Message::user("list files"),
            asks("Let me look.", &["a", "b"]),
            result("a"),
            Message::user("never mind"),
        ];
        let fixes = repair(&mut messages);
        assert_eq!(
            fixes,
            [Fix::AnsweredUnfinishedCall {
                call_id: "b".into(),
                name: "bash".into()
            }]
        );
        assert!(
            matches!(&messages[3], Message::Tool { call_id, content, is_error: true, .. }
            if call_id == "b" && content.starts_with("interrupted"))
        );
        accepted(&messages).unwrap();
    }

    #[test]
    fn results_without_their_call_are_dropped() {
        let mut messages = vec![
            Message::user("hi"),
            result("x"),
            Message::assistant("hello"),
            asks("", &["a"]),
            result("a"),
            result("a"),
            result("z"),
        ];
        let fixes = repair(&mut messages);
        assert!(fixes.contains(&Fix::DroppedResultWithoutCall {
            call_id: "x".into()
        }));
        assert!(fixes.contains(&Fix::DroppedDuplicateResult {
            call_id: "a".into()
        }));
        assert!(fixes.contains(&Fix::DroppedResultWithoutCall {
            call_id: "z".into()
        }));
        // The text answer and the call are one assistant message now.
        assert!(fixes.contains(&Fix::MergedConsecutive { role: "assistant" }));
        accepted(&messages).unwrap();
        assert_eq!(messages.len(), 3);
    }

    #[test]
    fn empty_messages_go_and_same_roles_merge() {
        let mut messages = vec![
            Message::assistant("I was saying"),
            Message::user("one"),
            Message::assistant("  \n"),
            Message::user("two"),
            Message::user(""),
            asks("   ", &["a"]),
            result("a"),
        ];
        let fixes = repair(&mut messages);
        assert!(fixes.contains(&Fix::OpenedWithUser));
        assert!(fixes.contains(&Fix::RemovedEmptyMessage { role: "assistant" }));
        assert!(fixes.contains(&Fix::RemovedEmptyMessage { role: "user" }));
        assert_eq!(messages[2], Message::user("one\n\ntwo"));
        assert!(matches!(&messages[3], Message::Assistant { content, .. } if content.is_empty()));
        accepted(&messages).unwrap();
    }

    #[test]
    fn reused_call_ids_are_renamed_with_their_results() {
        let mut messages = vec![
            Message::user("go"),
            asks("", &["call_1"]),
            result("call_1"),
            asks("", &["call_1"]),
            result("call_1"),
            Message::assistant("done"),
        ];
        let fixes = repair(&mut messages);
        assert_eq!(
            fixes,
            [Fix::RenamedDuplicateCallId {
                from: "call_1".into(),
                to: "call_1_2".into()
            }]
        );
        assert!(
            matches!(&messages[4], Message::Tool { call_id, content, .. } if call_id == "call_1_2" && content == "output of call_1")
        );
        accepted(&messages).unwrap();
    }

    #[test]
    fn a_sound_conversation_is_left_alone_and_repair_is_idempotent() {
        let mut sound = vec![
            Message::user("go"),
            asks("ok", &["a", "b"]),
            result("b"),
            result("a"),
            Message::assistant("done"),
            Message::user("thanks"),
        ];
        let before = sound.clone();
        assert!(repair(&mut sound).is_empty());
        assert_eq!(sound, before);
        assert!(repair(&mut Vec::new()).is_empty());
    }

    /// Random damage of every kind: after a repair the conversation is always accepted,
    /// and a second repair changes nothing.
    #[test]
    fn any_damaged_conversation_comes_out_accepted() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..2000 {
            let length = next(12);
            let mut messages: Vec<Message> = (0..length)
                .map(|_| {
                    let id = format!("c{}", next(4));
                    match next(6) {
                        0 => Message::user(if next(5) == 0 { " " } else { "question" }),
                        1 => Message::assistant(if next(5) == 0 { "" } else { "answer" }),
                        2 => asks(
                            "",
                            &(0..1 + next(3))
                                .map(|_| format!("c{}", next(4)))
                                .collect::<Vec<_>>()
                                .iter()
                                .map(String::as_str)
                                .collect::<Vec<_>>(),
                        ),
                        _ => result(&id),
                    }
                })
                .collect();
            let original = messages.clone();
            repair(&mut messages);
            if let Err(problem) = accepted(&messages) {
                panic!("{problem}\nfrom {original:#?}\nto {messages:#?}");
            }
            let again = repair(&mut messages);
            assert!(again.is_empty(), "{again:?} on {original:#?}");
        }
    }
}
