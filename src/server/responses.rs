//! `POST /v1/responses`: OpenAI's Responses API, which newer clients default to — text or
//! message input, `instructions`, function tools run by the client, streamed events in
//! OpenAI's names and shapes, and `previous_response_id`. A stored response is a saved
//! LocalGPT session (`localgpt sessions` lists it); its id names the session, which
//! records it, so a response is continued only from the latest one. The request is read
//! in [`super::responses_request`].

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::State;
use super::chat::{Turn, open_session, permit, provider_error};
use super::http::{
    ApiError, ApiResponse, cancel_when_closed, ok_json, parse_json, read_body, sse_response,
};
use super::openai::{known_model, random_id};
use super::responses_request::{ResponsesRequest, bad, read_input};
use crate::agent::tools::ToolOutput;
use crate::agent::{Agent, Approval, LogObserver, Observer, TurnReport};
use crate::cancel::Cancel;
use crate::conversation::{Message, ToolCall};
use crate::session::{Record, Session};

/// `resp_<session>_<random>`: the session holds the conversation, and records the id
/// when the response ends (`Record::Response`).
fn new_response_id(session_id: Option<&str>) -> String {
    let unique = random_id("x");
    let unique = unique.trim_start_matches("x-");
    match session_id {
        Some(session) => format!("resp_{session}_{unique}"),
        None => format!("resp_{unique}"),
    }
}

/// The session a response id names.
fn session_of(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("resp_")?;
    let (session, _) = rest.rsplit_once('_')?;
    Some(session)
}

pub async fn create(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<ApiResponse, ApiError> {
    let bytes = read_body(request.into_body(), state.max_body, state.timeout).await?;
    let body: ResponsesRequest = parse_json(&bytes)?;
    body.refuse_unsupported()?;
    let sampling = body.sampling()?;
    let client_tools = body.client_tools()?;
    let input = read_input(&body.input)?;
    let model = known_model(&state, &body.model).await?;
    super::chat::check_answerable(&state, &model).await?;
    let mut instructions = input.instructions.clone();
    instructions.extend(body.instructions.clone());
    let mut agent = Agent::new(&state.home, &state.env.config, &model, state.env.policy())
        .map_err(|err| provider_error(&err))?
        .for_person()
        .with_temperature(body.temperature)
        .with_instructions((!instructions.is_empty()).then(|| instructions.join("\n\n")));
    if let Some(field) = sampling.unsupported_by(agent.route().kind) {
        let name = match field {
            "max_tokens" => "max_output_tokens",
            "response_format" => "text.format",
            other => other,
        };
        return Err(bad(
            name,
            format!(
                "not supported by {} models ({model})",
                agent.route().kind.name()
            ),
        ));
    }
    let images: Vec<crate::conversation::Image> = input
        .messages
        .iter()
        .flat_map(|message| match message {
            Message::User { images, .. } => images.clone(),
            _ => Vec::new(),
        })
        .collect();
    if let Some(why) = agent.refuses_images(&images).await {
        return Err(bad("input", format!("images: {why}")));
    }
    if !client_tools.is_empty() && !agent.takes_tools() {
        return Err(bad(
            "tools",
            format!("{model} is not offered tools by LocalGPT"),
        ));
    }
    if body.localgpt.as_ref().is_some_and(|options| !options.tools) {
        agent = agent.without_tools();
    }
    let agent = agent
        .with_client_tools(client_tools)
        .with_sampling(sampling);
    let permit = permit(&state)?;
    let stored = body.store != Some(false);
    let (mut session, busy) = match &body.previous_response_id {
        Some(previous) => {
            let unknown = || {
                ApiError::not_found(format!("no response `{previous}` is stored here"))
                    .with_param("previous_response_id")
            };
            let session_id = session_of(previous).ok_or_else(unknown)?;
            let (session, busy, loaded) =
                open_session(&state, Some(session_id), &model, "responses")
                    .map_err(|err| err.with_param("previous_response_id"))?;
            match loaded.and_then(|loaded| loaded.last_response) {
                Some(latest) if latest == *previous => {}
                Some(_) => {
                    return Err(bad(
                        "previous_response_id",
                        "the conversation has gone on since that response; LocalGPT \
                         continues from the latest response only",
                    ));
                }
                None => return Err(unknown()),
            }
            (session, Some(busy))
        }
        None if stored => {
            let (session, busy, _) = open_session(&state, None, &model, "responses")?;
            (session, Some(busy))
        }
        None => (Session::ephemeral(Vec::new()), None),
    };
    let id = new_response_id(busy.as_ref().map(|busy| busy.id()));
    for (call_id, output) in &input.outputs {
        if !session.answer_pending(call_id, output) {
            return Err(bad(
                "input",
                format!("no call `{call_id}` is waiting for its output"),
            ));
        }
    }
    for message in input.messages {
        session.push(message);
    }
    let answerable = matches!(
        session.messages().last(),
        Some(Message::Tool { .. } | Message::User { .. })
    );
    if input.user.is_none() && !answerable {
        return Err(bad(
            "input",
            "nothing to answer: end with a user message or your function calls' outputs",
        ));
    }
    let turn = Turn::new(agent, session, busy, input.user, permit);
    let echo = Echo {
        model: body.model.clone(),
        created_at: chrono::Utc::now().timestamp(),
        request: json!({
            "instructions": body.instructions,
            "previous_response_id": body.previous_response_id,
            "tools": body.tools,
            "tool_choice": body.tool_choice.clone().unwrap_or(json!("auto")),
            "parallel_tool_calls": body.parallel_tool_calls.unwrap_or(true),
            "temperature": body.temperature,
            "top_p": body.top_p,
            "max_output_tokens": body.max_output_tokens,
            "text": body.text.clone().unwrap_or(json!({"format": {"type": "text"}})),
            "store": stored,
        }),
    };
    if !body.stream {
        let (turn, _, outcome) = turn.run(LogObserver, Cancel::new()).await?;
        let report = outcome.map_err(|err| provider_error(&err.source))?;
        record_response(&turn, &id);
        let mut output = Vec::new();
        if !report.text.is_empty() {
            output.push(message_item(&random_id("msg"), &report.text, "completed"));
        }
        output.extend(
            report
                .client_calls
                .iter()
                .map(|call| call_item(call, "completed")),
        );
        return ok_json(&echo.response(&id, "completed", output, Some(&report)));
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    let response = sse_response(receiver);
    let events = Events {
        sender: sender.clone(),
        sequence: 0,
        message: None,
    };
    let cancel = Cancel::new();
    let watcher = cancel_when_closed(&sender, &cancel);
    tokio::spawn(async move {
        let mut events = events;
        let pending = echo.response(&id, "in_progress", Vec::new(), None);
        events.send("response.created", json!({"response": pending}));
        events.send("response.in_progress", json!({"response": pending}));
        let outcome = turn.run(events, cancel).await;
        watcher.abort();
        let Ok((turn, mut events, outcome)) = outcome else {
            return;
        };
        match outcome {
            Ok(report) if report.interrupted => {}
            Ok(report) => {
                record_response(&turn, &id);
                let mut output = events.finish_message();
                for call in &report.client_calls {
                    output.push(events.send_call(output.len(), call));
                }
                events.send(
                    "response.completed",
                    json!({"response": echo.response(&id, "completed", output, Some(&report))}),
                );
            }
            Err(err) => {
                let error = provider_error(&err.source);
                events.send(
                    "error",
                    json!({"code": error.code, "message": error.message, "param": null}),
                );
            }
        }
    });
    Ok(response)
}

/// Marks the end of a stored response in its session, which it can be continued from.
fn record_response(turn: &Turn, id: &str) {
    if !turn.session_id.is_empty() {
        turn.session.note(&Record::Response { id: id.to_string() });
    }
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

fn call_item(call: &ToolCall, status: &str) -> Value {
    json!({"type": "function_call", "id": format!("fc_{}", call.id), "call_id": call.id,
           "name": call.name, "arguments": call.arguments.to_string(), "status": status})
}

/// What every response object repeats of its request.
struct Echo {
    model: String,
    created_at: i64,
    request: Value,
}

impl Echo {
    fn response(
        &self,
        id: &str,
        status: &str,
        output: Vec<Value>,
        report: Option<&TurnReport>,
    ) -> Value {
        let mut response = json!({
            "id": id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "error": null,
            "incomplete_details": null,
            "metadata": {},
            "usage": report.map(|report| {
                let (input, output) = (report.usage.input_tokens, report.usage.output_tokens);
                json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output,
                       "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens_details": {"reasoning_tokens": 0}})
            }),
        });
        if let (Some(response), Some(request)) =
            (response.as_object_mut(), self.request.as_object())
        {
            for (key, value) in request {
                response.insert(key.clone(), value.clone());
            }
        }
        response
    }
}

/// The stream's events, numbered, as OpenAI names and shapes them.
struct Events {
    sender: mpsc::UnboundedSender<Bytes>,
    sequence: u64,
    /// The message item being written: its id and text so far.
    message: Option<(String, String)>,
}

impl Events {
    fn send(&mut self, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let _ = self
            .sender
            .send(Bytes::from(format!("event: {kind}\ndata: {data}\n\n")));
    }

    /// Closes the message item, if text was written: its `done` events, and the item.
    fn finish_message(&mut self) -> Vec<Value> {
        let Some((id, text)) = self.message.take() else {
            return Vec::new();
        };
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        self.send(
            "response.output_text.done",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "text": text}),
        );
        self.send(
            "response.content_part.done",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "part": part}),
        );
        let item = message_item(&id, &text, "completed");
        self.send(
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
        vec![item]
    }

    fn send_call(&mut self, index: usize, call: &ToolCall) -> Value {
        let item = call_item(call, "completed");
        let id = item["id"].clone();
        let mut started = item.clone();
        started["arguments"] = json!("");
        started["status"] = json!("in_progress");
        self.send(
            "response.output_item.added",
            json!({"output_index": index, "item": started}),
        );
        self.send(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": item["arguments"]}),
        );
        self.send(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "arguments": item["arguments"]}),
        );
        self.send(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        item
    }
}

#[async_trait]
impl Observer for Events {
    fn text(&mut self, delta: &str) {
        if self.message.is_none() {
            let id = random_id("msg");
            let mut item = message_item(&id, "", "in_progress");
            item["content"] = json!([]);
            self.send(
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            );
            self.send(
                "response.content_part.added",
                json!({"item_id": id, "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            self.message = Some((id, String::new()));
        }
        let id = match &mut self.message {
            Some((id, text)) => {
                text.push_str(delta);
                id.clone()
            }
            None => return,
        };
        self.send(
            "response.output_text.delta",
            json!({"item_id": id, "output_index": 0, "content_index": 0, "delta": delta}),
        );
    }
    fn tool_call(&mut self, call: &ToolCall) {
        // LocalGPT runs its own tools; the client sees their work in the answer.
        LogObserver.tool_call(call);
    }
    fn tool_result(&mut self, _call: &ToolCall, _output: &ToolOutput) {}
    async fn approve(&mut self, _request: &str) -> Option<Approval> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_id_names_its_session() {
        let id = new_response_id(Some("20261129-160102-a1b2"));
        assert_eq!(session_of(&id), Some("20261129-160102-a1b2"));
        assert_eq!(session_of(&new_response_id(None)), None);
    }
}
