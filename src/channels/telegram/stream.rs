//! An answer shown as it is written: "typing…" until its first words come, those sent as
//! a message at once, that message edited with what follows at most once a second (edits
//! to one chat faster than that run into Telegram's rate limit), and, when the turn ends,
//! the whole answer — the message edited to its first piece, the rest sent as further
//! messages.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::delivery::telegram::{Bot, pieces};

/// The least time between two edits of the message being written.
const EDIT_INTERVAL: Duration = Duration::from_secs(1);
/// How often "typing…" is sent again until the first words come: Telegram shows it for
/// five seconds.
const TYPING_EVERY: Duration = Duration::from_secs(4);

pub(super) struct Stream {
    deltas: mpsc::UnboundedSender<Delta>,
    task: JoinHandle<()>,
}

enum Delta {
    Text(String),
    /// Added after what was written (an error, or the note that nothing was), then done.
    End(Option<String>),
}

impl Stream {
    pub(super) fn start(bot: Bot, chat: i64) -> Stream {
        let (deltas, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(show(bot, chat, received));
        Stream { deltas, task }
    }

    pub(super) fn push(&self, delta: &str) {
        let _ = self.deltas.send(Delta::Text(delta.to_string()));
    }

    /// Ends the answer, `last` added after it, and waits until it is all shown.
    pub(super) async fn finish(self, last: Option<String>) {
        let _ = self.deltas.send(Delta::End(last));
        let _ = self.task.await;
    }
}

/// The message being written: its id and the text it shows.
struct Shown {
    id: i64,
    text: String,
}

async fn show(bot: Bot, chat: i64, mut deltas: mpsc::UnboundedReceiver<Delta>) {
    let mut text = String::new();
    let mut shown: Option<Shown> = None;
    let mut last_edit = Instant::now();
    let mut typing_again = Instant::now() + TYPING_EVERY;
    // Written since the message was last edited (whether that changes what it shows is
    // worked out only when the edit is due, not for every delta).
    let mut behind = false;
    let last = loop {
        let delta = if shown.is_none() {
            // A turn that runs tools may take a while before it writes: still typing.
            tokio::select! {
                delta = deltas.recv() => delta,
                () = tokio::time::sleep_until(typing_again) => {
                    let _ = bot.send_typing(chat).await;
                    typing_again = Instant::now() + TYPING_EVERY;
                    continue;
                }
            }
        } else if behind {
            tokio::select! {
                delta = deltas.recv() => delta,
                () = tokio::time::sleep_until(last_edit + EDIT_INTERVAL) => {
                    if let Some(shown) = shown.as_mut() {
                        edit(&bot, chat, shown, preview(&text)).await;
                    }
                    last_edit = Instant::now();
                    behind = false;
                    continue;
                }
            }
        } else {
            deltas.recv().await
        };
        match delta {
            Some(Delta::Text(delta)) => {
                text.push_str(&delta);
                behind = shown.is_some();
                if shown.is_none() && !text.trim().is_empty() {
                    let first = preview(&text);
                    match bot.send_markdown(chat, &first).await {
                        Ok(message) => {
                            shown = Some(Shown {
                                id: message.message_id,
                                text: first,
                            });
                        }
                        Err(err) => tracing::warn!(chat, "telegram: cannot send an answer: {err}"),
                    }
                    last_edit = Instant::now();
                }
            }
            Some(Delta::End(last)) => break last,
            None => break None,
        }
    };
    if let Some(last) = last {
        if !text.trim().is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&last);
    }
    let mut pieces = pieces(&text).into_iter();
    if let Some(shown) = shown.as_mut()
        && let Some(first) = pieces.next()
    {
        edit(&bot, chat, shown, first).await;
    }
    for piece in pieces {
        if let Err(err) = bot.send_markdown(chat, &piece).await {
            tracing::warn!(chat, "telegram: cannot send an answer: {err}");
            return;
        }
    }
}

/// What the message being written shows of `text`: its first piece.
fn preview(text: &str) -> String {
    pieces(text).into_iter().next().unwrap_or_default()
}

/// Edits the message to the Markdown `text`, unless it shows that already (Telegram
/// refuses an edit that changes nothing).
async fn edit(bot: &Bot, chat: i64, shown: &mut Shown, text: String) {
    if text.is_empty() || text == shown.text {
        return;
    }
    match bot.edit_markdown(chat, shown.id, &text).await {
        Ok(_) => shown.text = text,
        Err(err) => tracing::warn!(chat, "telegram: cannot edit an answer: {err}"),
    }
}
