//! A Telegram bot by long polling: `getUpdates` in a loop, each message from an allowed
//! person answered in its chat's own session by one worker (turns one at a time, in the
//! order they came), tools that need approval asked for with inline buttons, anyone else
//! refused once without the model seeing a word. Restart-safe through the [`journal`].
//!
//! - [`journal`]: the offset, unanswered messages and chat sessions on disk.

pub mod journal;
pub mod pairing;
mod stream;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, Observer};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::config::schema::TelegramConfig;
use crate::conversation::ToolCall;
use crate::delivery::telegram::{Bot, CallbackQuery, Message};
use crate::home::Home;
use crate::policy::Policy;
use crate::session::{Session, Sessions};
use journal::{Journal, Pending};
use stream::Stream;

/// Questions waiting for a button: the token in the button's data → the chat asked and
/// who answers.
type Questions = Arc<Mutex<HashMap<String, (i64, oneshot::Sender<Approval>)>>>;

/// The bot and its settings, checked: what `channels run` and `test` start from.
pub fn bot(config: &Config) -> Result<(Bot, &TelegramConfig)> {
    let bot = crate::delivery::telegram_bot(config)?;
    let settings = config
        .channels
        .telegram
        .as_ref()
        .context("no Telegram bot is configured")?;
    Ok((bot, settings))
}

/// Answers the bot's chats until `cancel` (Ctrl-C) or the token is refused.
pub async fn run(home: &Home, config: &Config, model: &str, cancel: &Cancel) -> Result<()> {
    let (bot, telegram) = bot(config)?;
    let me = bot.get_me().await?;
    if telegram.allow.is_empty() {
        tracing::warn!(
            "channels.telegram.allow is empty: every message is refused until someone pairs \
             (`localgpt channels pair telegram`)"
        );
    }
    let dir = home.root().join("channels");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _running = hold_lock(&dir)?;
    let journal = Arc::new(Mutex::new(
        Journal::open(&dir).context("cannot read the channel journal")?,
    ));
    tracing::info!(
        bot = me.username.as_deref().unwrap_or_default(),
        allowed = telegram.allow.len(),
        "telegram: answering"
    );
    let questions: Questions = Arc::default();
    let (queue, waiting) = mpsc::unbounded_channel::<Pending>();
    for pending in lock(&journal).pending() {
        let _ = queue.send(pending.clone());
    }
    let worker = Worker {
        bot: bot.clone(),
        home: home.clone(),
        config: config.clone(),
        model: telegram.model.clone().unwrap_or_else(|| model.to_string()),
        journal: journal.clone(),
        questions: questions.clone(),
        timeout: Duration::from_secs(telegram.approval_timeout_secs.max(1)),
        agents: HashMap::new(),
        sessions: HashMap::new(),
    };
    let answering = tokio::spawn(worker.run(waiting, cancel.clone()));
    let mut door = Door {
        allowed: telegram.allow.iter().copied().collect(),
        refused: HashSet::new(),
        tries: HashMap::new(),
        dir: dir.clone(),
        config_file: home.config_file(),
    };
    let mut failures = 0u32;
    loop {
        let offset = lock(&journal).offset();
        let updates = tokio::select! {
            () = cancel.cancelled() => break,
            updates = bot.get_updates(offset) => updates,
        };
        let updates = match updates {
            Ok(updates) => {
                failures = 0;
                updates
            }
            Err(err) if err.is_unauthorized() => return Err(err.into()),
            Err(err) => {
                failures += 1;
                let wait = Duration::from_secs(2u64.pow(failures.min(6)));
                tracing::warn!("telegram: {err}; polling again in {} s", wait.as_secs());
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        for update in updates {
            let pending = match (update.message, update.callback_query) {
                (Some(message), _) => receive(&bot, message, update.update_id, &mut door).await,
                (None, Some(query)) => {
                    answer_button(&bot, query, &door.allowed, &questions).await;
                    None
                }
                (None, None) => None,
            };
            lock(&journal)
                .seen(update.update_id, pending.clone())
                .context("cannot write the channel journal")?;
            if let Some(pending) = pending {
                let _ = queue.send(pending);
            }
        }
    }
    drop(queue);
    let _ = answering.await;
    Ok(())
}

/// One `channels run` per home folder: two would answer each message twice.
fn hold_lock(dir: &Path) -> Result<File> {
    let path = dir.join("telegram.lock");
    let file = File::create(&path).with_context(|| format!("cannot open {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow!("another `localgpt channels run` (or the daemon) is already answering this bot")
    })?;
    Ok(file)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Who may talk to the bot, and what it told the others.
struct Door {
    allowed: HashSet<i64>,
    /// Strangers refused already (each is told once).
    refused: HashSet<i64>,
    /// Wrong pairing codes by stranger.
    tries: HashMap<i64, u32>,
    /// The channel's folder (the pairing code) and config.toml (the allow list).
    dir: std::path::PathBuf,
    config_file: std::path::PathBuf,
}

impl Door {
    /// A stranger's message: the open pairing code lets them in (and into the allow list
    /// of config.toml); anything else gets one refusal.
    async fn stranger(&mut self, bot: &Bot, chat: i64, user: i64, text: Option<&str>) {
        let tries = self.tries.entry(user).or_default();
        if let Some(text) = text.filter(|_| *tries < pairing::TRIES) {
            if pairing::take(&self.dir, text) {
                self.allowed.insert(user);
                let mut ids: Vec<i64> = self.allowed.iter().copied().collect();
                ids.sort_unstable();
                let list = format!(
                    "[{}]",
                    ids.iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let reply = match crate::config::set_in_file(
                    &self.config_file,
                    "channels.telegram.allow",
                    &list,
                ) {
                    Ok(_) => "Paired: this assistant answers you from now on.".to_string(),
                    Err(err) => {
                        tracing::error!(
                            "telegram: cannot add user {user} to the allow list: {err}"
                        );
                        "Paired for as long as the bot runs; the allow list could not be saved (see its log).".to_string()
                    }
                };
                tracing::info!(user, chat, "telegram: paired");
                let _ = bot.send_message(chat, &reply, None).await;
                return;
            }
            if looks_like_a_code(text) {
                *tries += 1;
            }
        }
        tracing::info!(
            user,
            chat,
            "telegram: refused a message from someone not allowed"
        );
        if self.refused.insert(user) {
            let text = format!(
                "This assistant answers only the people its owner allows. Your Telegram user id is {user}; \
                 its owner can add it, or run `localgpt channels pair telegram` and give you a code to send here."
            );
            if let Err(err) = bot.send_message(chat, &text, None).await {
                tracing::warn!("telegram: cannot send the refusal: {err}");
            }
        }
    }
}

/// The longest text file a message may bring.
const TEXT_FILE_LIMIT: usize = 512 * 1024;

/// A document that is text, as the model reads it: its name and its content in a fenced
/// block; or why it cannot be read.
async fn text_file(
    bot: &Bot,
    document: &crate::delivery::telegram::Document,
) -> Result<String, String> {
    let name = document.file_name.clone().unwrap_or_else(|| "file".into());
    let textual = document.mime_type.as_deref().is_none_or(|mime| {
        mime.starts_with("text/")
            || [
                "application/json",
                "application/xml",
                "application/x-yaml",
                "application/toml",
            ]
            .contains(&mime)
    });
    if !textual {
        return Err(format!(
            "I read text files only, for now; {name} is not one."
        ));
    }
    if document
        .file_size
        .is_some_and(|size| size > TEXT_FILE_LIMIT as u64)
    {
        return Err(format!(
            "{name} is over {} KB; I read text files up to that.",
            TEXT_FILE_LIMIT / 1024
        ));
    }
    let bytes = bot
        .download(&document.file_id, TEXT_FILE_LIMIT)
        .await
        .map_err(|err| format!("I could not fetch {name}: {err}"))?;
    let content = String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8 text."))?;
    let fence = if content.contains("```") {
        "~~~~"
    } else {
        "```"
    };
    Ok(format!(
        "[file {name}]\n{fence}\n{}\n{fence}",
        content.trim_end()
    ))
}

/// Whether a message is shaped like a pairing code (`1234-5678`), which counts as a try.
fn looks_like_a_code(text: &str) -> bool {
    let text = text.trim();
    text.len() == 9
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| if i == 4 { c == '-' } else { c.is_ascii_digit() })
}

/// A message: from someone allowed, the text to answer; from anyone else, the door.
async fn receive(bot: &Bot, message: Message, update_id: i64, door: &mut Door) -> Option<Pending> {
    let chat = message.chat.id;
    let user = message.from.as_ref().filter(|user| !user.is_bot)?;
    if !door.allowed.contains(&user.id) {
        door.stranger(bot, chat, user.id, message.text.as_deref())
            .await;
        return None;
    }
    let attached = match &message.document {
        Some(document) => match text_file(bot, document).await {
            Ok(attached) => Some(attached),
            Err(why) => {
                let _ = bot.send_message(chat, &why, None).await;
                return None;
            }
        },
        None => None,
    };
    let typed = message.text.or(message.caption).unwrap_or_default();
    let text = match attached {
        Some(file) if typed.trim().is_empty() => file,
        Some(file) => format!("{typed}\n\n{file}"),
        None => typed,
    };
    if text.trim().is_empty() {
        let _ = bot
            .send_message(
                chat,
                "I read text messages and text files only, for now.",
                None,
            )
            .await;
        return None;
    }
    tracing::info!(
        user = user.id,
        chat,
        update_id,
        "telegram: a message to answer"
    );
    Some(Pending {
        update_id,
        chat,
        user: user.id,
        text,
    })
}

/// A button pressed under an approval question.
async fn answer_button(
    bot: &Bot,
    query: CallbackQuery,
    allowed: &HashSet<i64>,
    questions: &Questions,
) {
    let data = query.data.unwrap_or_default();
    let (token, choice) = data.split_once(':').unwrap_or((&data, ""));
    let approval = match choice {
        "y" => Some(Approval::Yes),
        "a" => Some(Approval::Always),
        "n" => Some(Approval::No),
        _ => None,
    };
    let chat = query.message.as_ref().map(|message| message.chat.id);
    let waiting = if allowed.contains(&query.from.id) {
        let mut open = lock(questions);
        match open.get(token) {
            Some((asked, _)) if Some(*asked) == chat => open.remove(token),
            _ => None,
        }
    } else {
        None
    };
    let reply = match (waiting, approval) {
        (Some((_, answer)), Some(approval)) => {
            let _ = answer.send(approval);
            "Noted"
        }
        _ => "This question is no longer open",
    };
    if let Err(err) = bot.answer_callback_query(&query.id, reply).await {
        tracing::warn!("telegram: cannot answer a button: {err}");
    }
}

/// Answers the queued messages one at a time.
struct Worker {
    bot: Bot,
    home: Home,
    config: Config,
    model: String,
    journal: Arc<Mutex<Journal>>,
    questions: Questions,
    timeout: Duration,
    /// One agent per chat, so "always" approvals last as long as the run.
    agents: HashMap<i64, Agent>,
    /// Each chat's conversation, read from its transcript once a run.
    sessions: HashMap<i64, Session>,
}

impl Worker {
    async fn run(mut self, mut waiting: mpsc::UnboundedReceiver<Pending>, cancel: Cancel) {
        while let Some(pending) = waiting.recv().await {
            if cancel.is_cancelled() {
                break;
            }
            let Answered::Yes(session) = self.answer(&pending, &cancel).await else {
                // Cut short by a stop: answered again after the restart.
                break;
            };
            if let Err(err) =
                lock(&self.journal).answered(pending.update_id, pending.chat, session.as_deref())
            {
                tracing::error!("telegram: cannot write the channel journal: {err}");
            }
        }
    }

    /// Runs the turn and sends its answer.
    async fn answer(&mut self, pending: &Pending, cancel: &Cancel) -> Answered {
        let chat = pending.chat;
        let _ = self.bot.send_typing(chat).await;
        if !self.agents.contains_key(&chat) {
            let policy = Policy::new(&self.home, &self.home.workspace(), &self.config.tools);
            match Agent::new(&self.home, &self.config, &self.model, policy) {
                Ok(agent) => {
                    self.agents.insert(chat, agent.for_person());
                }
                Err(err) => {
                    let text = format!("I cannot reach the model: {err}");
                    if let Err(err) = self.bot.send_text(chat, &text).await {
                        tracing::warn!(chat, "telegram: cannot send an answer: {err}");
                    }
                    return Answered::Yes(None);
                }
            }
        }
        let mut session = match self.sessions.remove(&chat) {
            Some(session) => session,
            None => {
                let known = lock(&self.journal).session_of(chat).map(String::from);
                known
                    .and_then(|id| {
                        let entry = Sessions::new(&self.home).find(&id).ok()?;
                        Session::resume(&entry, &self.model)
                            .ok()
                            .map(|(session, _)| session)
                    })
                    .unwrap_or_else(|| Session::start(&self.home, &self.model, "telegram"))
            }
        };
        let mut observer = ChatObserver {
            bot: self.bot.clone(),
            chat,
            stream: Stream::start(self.bot.clone(), chat),
            wrote: false,
            questions: self.questions.clone(),
            timeout: self.timeout,
        };
        let Some(agent) = self.agents.get_mut(&chat) else {
            return Answered::Yes(None);
        };
        let outcome = agent
            .turn(&mut session, &pending.text, &mut observer, cancel)
            .await;
        let (last, interrupted) = match outcome {
            Ok(report) if report.interrupted => (None, true),
            Ok(_) if !observer.wrote => (Some("(no answer)".to_string()), false),
            Ok(_) => (None, false),
            Err(err) => (Some(format!("Something went wrong: {err}")), false),
        };
        observer.stream.finish(last).await;
        let id = session.id().map(String::from);
        self.sessions.insert(chat, session);
        if interrupted {
            return Answered::CutShort;
        }
        Answered::Yes(id)
    }
}

/// Whether a message got its whole answer (and the chat's session id), or the turn was
/// stopped before it ended.
enum Answered {
    Yes(Option<String>),
    CutShort,
}

/// How a turn shows in a chat: the answer as it is written ([`Stream`]), approvals asked
/// with buttons.
struct ChatObserver {
    bot: Bot,
    chat: i64,
    stream: Stream,
    /// Whether any of the answer was written.
    wrote: bool,
    questions: Questions,
    timeout: Duration,
}

#[async_trait]
impl Observer for ChatObserver {
    fn text(&mut self, delta: &str) {
        self.wrote |= !delta.trim().is_empty();
        self.stream.push(delta);
    }

    fn tool_call(&mut self, call: &ToolCall) {
        tracing::info!(
            chat = self.chat,
            tool = call.name,
            "telegram: the model called a tool"
        );
    }

    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}

    /// Approve once, always in this chat, or refuse; no press within the timeout is a
    /// refusal, and so is a question that cannot be sent.
    async fn approve(&mut self, request: &str) -> Option<Approval> {
        let mut token = [0u8; 6];
        if getrandom::fill(&mut token).is_err() {
            return Some(Approval::No);
        }
        let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let buttons = json!([
            [
                {"text": "Approve once", "callback_data": format!("{token}:y")},
                {"text": "Always in this chat", "callback_data": format!("{token}:a")},
            ],
            [{"text": "Refuse", "callback_data": format!("{token}:n")}],
        ]);
        let shown: String = request.chars().take(3500).collect();
        let question = format!("May I?\n\n{shown}");
        let (answer, answered) = oneshot::channel();
        lock(&self.questions).insert(token.clone(), (self.chat, answer));
        let sent = self
            .bot
            .send_message(self.chat, &question, Some(buttons))
            .await;
        let decision = match sent {
            Ok(_) => tokio::time::timeout(self.timeout, answered)
                .await
                .ok()
                .and_then(Result::ok),
            Err(ref err) => {
                tracing::warn!("telegram: cannot ask for approval: {err}");
                None
            }
        };
        lock(&self.questions).remove(&token);
        let outcome = match decision {
            Some(Approval::Yes) => "approved once",
            Some(Approval::Always) => "approved for this chat",
            Some(Approval::No) => "refused",
            None => "no answer in time: refused",
        };
        if let Ok(message) = sent {
            let _ = self
                .bot
                .edit_message_text(
                    self.chat,
                    message.message_id,
                    &format!("{question}\n\n({outcome})"),
                )
                .await;
        }
        Some(decision.unwrap_or(Approval::No))
    }
}
