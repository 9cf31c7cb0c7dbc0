//! The agent loop in-process, against a scripted provider that refuses what the real
//! APIs refuse (a tool call without its result, a result without its call, an empty
//! answer, two answers in a row): cancellation at each await point, client tools, the
//! round limit, repair of a broken conversation, a provider error mid-stream, compaction.

mod harness;

use serde_json::json;

use crate::agent::Approval;
use crate::cancel::Cancel;
use crate::conversation::{INTERRUPTED_NOTE, Message};
use crate::provider::{ProviderError, ToolSpec};
use crate::session::Session;
use harness::{
    Bench, Scripted, Step, Watcher, answered_as_interrupted, call, cancel_on, long_conversation,
};

#[tokio::test]
async fn a_plain_answer_streams_to_the_front_door_and_stays_in_the_conversation() {
    let bench = Bench::new();
    let provider = Scripted::new(vec![Step::Answer(vec!["Hel", "lo"], vec![])]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let report = agent
        .turn(&mut session, "hi", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(
        (report.text.as_str(), watcher.text.as_str()),
        ("Hello", "Hello")
    );
    assert!(!report.interrupted);
    assert_eq!(
        session.messages(),
        [Message::user("hi"), Message::assistant("Hello")]
    );
    assert_eq!(provider.requests().len(), 1);
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn a_tool_call_runs_and_its_result_goes_back_paired_with_it() {
    let bench = Bench::new();
    std::fs::write(bench.home.workspace().join("notes.txt"), "the code is 7319").unwrap();
    let read = call("c1", "read_file", json!({"path": "notes.txt"}));
    let provider = Scripted::new(vec![
        Step::Answer(vec!["Looking. "], vec![read.clone()]),
        Step::Answer(vec!["It is 7319."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let report = agent
        .turn(
            &mut session,
            "what is the code?",
            &mut watcher,
            &Cancel::new(),
        )
        .await
        .unwrap();
    assert_eq!(watcher.calls, ["read_file"]);
    assert!(report.text.ends_with("It is 7319."), "{}", report.text);
    let second = &provider.requests()[1];
    let Some(Message::Tool {
        call_id, content, ..
    }) = second.messages.last()
    else {
        panic!(
            "the second request ends with the result: {:?}",
            second.messages
        );
    };
    assert_eq!(call_id, "c1");
    assert!(content.contains("the code is 7319"), "{content}");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn the_round_limit_stops_a_model_that_keeps_calling_and_the_next_turn_works() {
    let mut bench = Bench::new();
    bench.config.agent.max_tool_rounds = 2;
    let list = |id: &str| call(id, "list_dir", json!({"path": "."}));
    let provider = Scripted::new(vec![
        Step::Answer(vec![], vec![list("a")]),
        Step::Answer(vec![], vec![list("b")]),
        Step::Answer(vec!["Fine."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let report = agent
        .turn(&mut session, "look around", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert!(report.hit_round_limit);
    assert_eq!(report.rounds, 2);
    assert_eq!(provider.requests().len(), 2);
    let report = agent
        .turn(&mut session, "and now?", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Fine.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn cancelled_while_the_answer_streams_the_shown_text_is_kept_and_the_next_turn_works() {
    let bench = Bench::new();
    let provider = Scripted::new(vec![
        Step::Hang("Once upon "),
        Step::Answer(vec!["Again."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let cancel = Cancel::new();
    let (report, ()) = tokio::join!(
        agent.turn(&mut session, "tell a story", &mut watcher, &cancel),
        cancel_on(&provider.hanging, &cancel)
    );
    let report = report.unwrap();
    assert!(report.interrupted);
    assert_eq!(report.text, "Once upon ");
    assert_eq!(
        session.messages()[1..],
        [
            Message::assistant("Once upon"),
            Message::user(INTERRUPTED_NOTE)
        ]
    );
    let report = agent
        .turn(&mut session, "go on", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Again.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn cancelled_while_an_approval_waits_the_call_is_answered_and_nothing_is_written() {
    let bench = Bench::new();
    let write = call(
        "w1",
        "write_file",
        json!({"path": "out.txt", "content": "x"}),
    );
    let provider = Scripted::new(vec![
        Step::Answer(vec![], vec![write]),
        Step::Answer(vec!["Not written."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let asked = watcher.asked.clone();
    let cancel = Cancel::new();
    let (report, ()) = tokio::join!(
        agent.turn(&mut session, "write it", &mut watcher, &cancel),
        cancel_on(&asked, &cancel)
    );
    assert!(report.unwrap().interrupted);
    assert!(!bench.home.workspace().join("out.txt").exists());
    assert!(answered_as_interrupted(&session, "w1"));
    let report = agent
        .turn(&mut session, "ok", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Not written.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn an_approved_call_runs_and_a_refused_one_is_answered_without_running() {
    let bench = Bench::new();
    let write =
        |id: &str, path: &str| call(id, "write_file", json!({"path": path, "content": "x"}));
    let provider = Scripted::new(vec![
        Step::Answer(vec![], vec![write("y", "yes.txt")]),
        Step::Answer(vec!["Written."], vec![]),
        Step::Answer(vec![], vec![write("n", "no.txt")]),
        Step::Answer(vec!["Left alone."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher {
        answer: Some(Approval::Yes),
        ..Watcher::default()
    };
    agent
        .turn(&mut session, "write yes", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert!(bench.home.workspace().join("yes.txt").exists());
    watcher.answer = Some(Approval::No);
    let report = agent
        .turn(&mut session, "write no", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Left alone.");
    assert!(!bench.home.workspace().join("no.txt").exists());
    let (_, refused) = &report.tool_calls[0];
    assert!(refused.is_error, "{}", refused.content);
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn cancelled_before_it_starts_a_turn_sends_nothing() {
    let bench = Bench::new();
    let provider = Scripted::new(Vec::new());
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let cancel = Cancel::new();
    cancel.cancel();
    let report = agent
        .turn(&mut session, "hello?", &mut Watcher::default(), &cancel)
        .await
        .unwrap();
    assert!(report.interrupted);
    assert!(provider.requests().is_empty());
    assert_eq!(
        session.messages(),
        [Message::user("hello?"), Message::user(INTERRUPTED_NOTE)]
    );
}

#[tokio::test]
async fn a_client_tool_call_ends_the_turn_and_its_result_resumes_it() {
    let bench = Bench::new();
    let weather = call("cw", "get_weather", json!({"city": "Porto"}));
    let provider = Scripted::new(vec![
        Step::Answer(vec![], vec![weather.clone()]),
        Step::Answer(vec!["Sunny in Porto."], vec![]),
    ]);
    let mut agent = bench
        .agent(provider.clone())
        .with_client_tools(vec![ToolSpec {
            name: "get_weather".into(),
            description: "The weather in a city.".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }]);
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let report = agent
        .turn(&mut session, "weather?", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.client_calls, std::slice::from_ref(&weather));
    assert!(watcher.calls.is_empty(), "LocalGPT ran the client's tool");
    assert!(
        provider.requests()[0]
            .tools
            .iter()
            .any(|tool| tool.name == "get_weather")
    );
    session.push(Message::result_of(&weather, "sunny, 24 °C", false));
    let report = agent
        .resume(&mut session, &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Sunny in Porto.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn an_answer_cut_midway_keeps_what_was_shown_and_the_next_turn_works() {
    let bench = Bench::new();
    let provider = Scripted::new(vec![
        Step::CutAfter("Half an an"),
        Step::Answer(vec!["Whole."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let failed = agent
        .turn(&mut session, "explain", &mut watcher, &Cancel::new())
        .await
        .unwrap_err();
    assert!(matches!(failed.source, ProviderError::StreamCut { .. }));
    assert_eq!(failed.report.text, "Half an an");
    assert_eq!(session.messages()[1], Message::assistant("Half an an"));
    let report = agent
        .turn(&mut session, "again", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Whole.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn a_conversation_left_broken_is_repaired_before_it_is_sent() {
    let bench = Bench::new();
    let provider = Scripted::new(vec![Step::Answer(vec!["Back."], vec![])]);
    let mut agent = bench.agent(provider.clone());
    // The process died while a call ran: the call has no result.
    let mut session = Session::ephemeral(vec![
        Message::user("list the folder"),
        Message::Assistant {
            content: String::new(),
            tool_calls: vec![call("lost", "list_dir", json!({"path": "."}))],
        },
    ]);
    let report = agent
        .turn(
            &mut session,
            "still there?",
            &mut Watcher::default(),
            &Cancel::new(),
        )
        .await
        .unwrap();
    assert_eq!(report.text, "Back.");
    provider.assert_nothing_refused();
    assert!(
        provider.requests()[0]
            .messages
            .iter()
            .any(|message| matches!(message, Message::Tool { call_id, .. } if call_id == "lost"))
    );
}

#[tokio::test]
async fn a_conversation_near_the_window_is_compacted_in_the_turn_that_fills_it() {
    let bench = Bench::new().small_window();
    let provider = Scripted::new(vec![
        // The memory flush before the old turns leave: nothing to save.
        Step::Answer(vec!["Nothing to save."], vec![]),
        // The summary of the old turns.
        Step::Answer(vec!["They planned the garden."], vec![]),
        Step::Answer(vec!["Tomatoes, then."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let earlier = long_conversation();
    let mut session = Session::ephemeral(earlier);
    let report = agent
        .turn(
            &mut session,
            "so what do I plant?",
            &mut Watcher::default(),
            &Cancel::new(),
        )
        .await
        .unwrap();
    assert_eq!(report.text, "Tomatoes, then.");
    let requests = provider.requests();
    let last = requests.last().unwrap();
    let Some(Message::User { content, .. }) = last.messages.first() else {
        panic!(
            "the turn's request starts with the summary: {:?}",
            last.messages
        );
    };
    assert!(content.contains("They planned the garden."), "{content}");
    assert!(last.messages.len() < 17, "{} messages", last.messages.len());
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn cancelled_while_a_command_runs_the_call_is_answered_as_interrupted() {
    let mut bench = Bench::new();
    bench.config.tools.approval = crate::config::ApprovalMode::Auto;
    let marker = bench.home.workspace().join("finished");
    let slow = call(
        "s1",
        "bash",
        json!({"command": format!("sleep 30; touch {}", marker.display())}),
    );
    let provider = Scripted::new(vec![
        Step::Answer(vec![], vec![slow]),
        Step::Answer(vec!["Stopped."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let mut session = Session::ephemeral(Vec::new());
    let mut watcher = Watcher::default();
    let running = watcher.running.clone();
    let cancel = Cancel::new();
    let (report, ()) = tokio::join!(
        agent.turn(&mut session, "wait a while", &mut watcher, &cancel),
        cancel_on(&running, &cancel)
    );
    assert!(report.unwrap().interrupted);
    assert!(answered_as_interrupted(&session, "s1"));
    assert!(
        !marker.exists(),
        "the command went on after the turn stopped"
    );
    let report = agent
        .turn(&mut session, "fine", &mut watcher, &Cancel::new())
        .await
        .unwrap();
    assert_eq!(report.text, "Stopped.");
    provider.assert_nothing_refused();
}

#[tokio::test]
async fn cancelled_while_compacting_the_conversation_is_left_whole() {
    let bench = Bench::new().small_window();
    let provider = Scripted::new(vec![
        // The memory flush before compaction never answers.
        Step::Hang(""),
        Step::Answer(vec!["Here again."], vec![]),
    ]);
    let mut agent = bench.agent(provider.clone());
    let earlier = long_conversation();
    let mut session = Session::ephemeral(earlier.clone());
    let mut watcher = Watcher::default();
    let cancel = Cancel::new();
    let (report, ()) = tokio::join!(
        agent.turn(&mut session, "and now?", &mut watcher, &cancel),
        cancel_on(&provider.hanging, &cancel)
    );
    assert!(report.unwrap().interrupted);
    let hung = &provider.requests()[0];
    assert!(
        !hung.tools.is_empty() && hung.tools.iter().all(|tool| tool.name == "memory_save"),
        "the request cancelled was the memory flush before compaction"
    );
    assert_eq!(
        session.messages()[..earlier.len()],
        earlier[..],
        "nothing was lost"
    );
    provider.assert_nothing_refused();
}
