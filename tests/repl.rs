//! The REPL: line by line from a pipe, and through a pseudo-terminal as a person uses it,
//! against the fake provider.

use std::time::Duration;

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use predicates::prelude::*;
use serde_json::json;

pub fn repl(t: &Test, input: &str) -> (String, String) {
    let output = t
        .command()
        .args(["-q"])
        .write_stdin(input.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    (text(&output.stdout), text(&output.stderr))
}

#[test]
fn piped_lines_run_rhai_with_a_scope_that_persists() {
    let t = Test::new();
    let (out, err) = repl(
        &t,
        ":let x = 40\n:x + 2\n:fn double(n) {\n  n * 2\n}\n:double(x)\n:import \"text\" as t;\n:t::slugify(\"A B\")\n",
    );
    assert_eq!(out, "42\n80\na-b\n", "{err}");
}

#[test]
fn piped_chat_turns_stream_and_model_switches() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    fake.push(Reply::text(&["Hello", " there"]));
    fake.push(Reply::text(&["From Claude"]));
    let (out, _) = repl(&t, "hi\n/model claude-sonnet-4-5\nand you?\n/status\n");
    assert!(
        out.starts_with("Hello there\nmodel: claude-sonnet-4-5\nFrom Claude\n"),
        "{out}"
    );
    assert!(out.contains("messages 4"), "{out}");
    let received = fake.received();
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(received[1].path, "/v1/messages");
    // The conversation goes on across the switch.
    assert_eq!(received[1].body["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn commands_shell_and_mistakes() {
    let t = Test::new();
    let (out, err) = repl(
        &t,
        "/modle\n!echo from-shell\n/mode script\nlet y = 2\ny * 3\n:: \n/quit\n:print(\"never\")\n",
    );
    assert!(out.contains("from-shell\n6\n"), "{out}");
    assert!(!out.contains("never"));
    assert!(err.contains("did you mean /mode?"), "{err}");
    let (out, _) = repl(&t, "/help\n");
    for command in [
        "/model",
        "/mode",
        "/memory",
        "/remember",
        "/run",
        "/tools",
        "/status",
        "/quit",
    ] {
        assert!(out.contains(command), "{command} missing from /help");
    }
    let (out, _) = repl(&t, "/sessions\n/compact\n");
    assert!(out.contains("no saved sessions yet"), "{out}");
    assert!(out.contains("nothing to compact yet"), "{out}");
}

#[test]
fn memory_commands_and_errors_do_not_end_the_repl() {
    let t = Test::new();
    let (out, err) = repl(
        &t,
        "/remember likes green tea\n/memory green tea\n:undefined_var\n:1 + 1\n",
    );
    assert!(out.contains("saved to MEMORY.md"), "{out}");
    assert!(out.contains("MEMORY.md:"), "{out}");
    assert!(out.contains("**green** **tea**"), "{out}");
    assert!(out.ends_with("2\n"), "{out}");
    assert!(
        err.contains("<line 1>:1:1: Variable not found: undefined_var"),
        "{err}"
    );
}

#[test]
fn without_a_terminal_approvals_are_refused() {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
    let file = t.scratch().join("keep.txt");
    std::fs::write(&file, "keep me").unwrap();
    fake.push(Reply::tool(
        "write_file",
        json!({"path": file.to_str().unwrap(), "content": "gone"}),
    ));
    fake.push(Reply::text(&["ok"]));
    repl(&t, "overwrite it\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[cfg(unix)]
mod terminal {
    use super::*;

    /// The prompt's `›` is matched by the text before it (see [`Test::pty`]).
    fn spawn(t: &Test) -> rexpect::session::PtySession {
        spawn_with(t, &[("NO_COLOR", "1")])
    }

    /// Ctrl-D once the prompt is back, then the end. Sent while the terminal is between
    /// two prompts (not in raw mode), Ctrl-D is the terminal's own end-of-file, which no
    /// read ever sees, and the REPL would wait on.
    fn leave(p: &mut rexpect::session::PtySession) {
        p.exp_string("chat ").unwrap();
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
    }

    fn spawn_with(t: &Test, env: &[(&str, &str)]) -> rexpect::session::PtySession {
        t.pty(&[], env)
    }

    #[test]
    fn a_person_chats_defines_functions_and_leaves() {
        let fake = FakeProvider::start();
        let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
        fake.push(Reply::text(&["streamed ", "answer"]));
        let mut p = spawn(&t);
        p.exp_string("chat gpt-4o ").unwrap();
        p.send_line("hello").unwrap();
        p.exp_string("streamed answer").unwrap();
        p.exp_string("chat gpt-4o ").unwrap();
        p.send_line(":fn triple(n) {").unwrap();
        p.send_line("  n * 3").unwrap();
        p.send_line("}").unwrap();
        p.exp_string("chat gpt-4o ").unwrap();
        p.send_line(":triple(14)").unwrap();
        p.exp_string("42").unwrap();
        p.send_line("/model llama3.2").unwrap();
        p.exp_string("chat llama3.2 ").unwrap();
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
        assert!(t.path("history.txt").exists());
    }

    /// Lines that arrive together (pasted where the terminal has no bracketed paste, sent by
    /// tmux or typed while the previous line still runs) are each run, none dropped: the
    /// line editor reads ahead of the Enter that ends a line.
    #[test]
    fn lines_that_arrive_together_are_all_run() {
        let t = Test::new();
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        // One write, so the editor reads all of it at once.
        p.send(":let base = 40\r:fn more(n) {\r  n + 2\r}\r:more(base)\r:more(base) * 10\r")
            .unwrap();
        p.flush().unwrap();
        p.exp_string("42").unwrap();
        p.exp_string("420").unwrap();
        leave(&mut p);
    }

    #[test]
    fn skills_complete_with_tab_and_ask_their_questions() {
        let t = Test::new();
        t.write(
            "workspace/skills/proceed.rhai",
            "//! description: Asks first.\nif confirm(`Proceed with ${args[0]}?`) { print(\"went ahead\") } else { print(\"stopped\") }\n",
        );
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        p.send("/proc\t").unwrap();
        p.flush().unwrap();
        p.exp_string("/proceed ").unwrap();
        p.send_line("plan-a").unwrap();
        p.exp_string("Proceed with plan-a? [y/N]").unwrap();
        p.send_line("y").unwrap();
        p.exp_string("went ahead").unwrap();
        p.send_line("/proceed plan-b").unwrap();
        p.exp_string("Proceed with plan-b? [y/N]").unwrap();
        p.send_line("").unwrap();
        p.exp_string("stopped").unwrap();
        leave(&mut p);
    }

    #[test]
    fn ctrl_c_stops_a_slow_answer_and_the_next_turn_works() {
        let fake = FakeProvider::start();
        let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
        fake.push(Reply::Slow(
            (0..100).map(|i| format!("w{i} ")).collect(),
            Duration::from_millis(100),
        ));
        fake.push(Reply::text(&["second answer"]));
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        p.send_line("talk slowly").unwrap();
        p.exp_string("w1 ").unwrap();
        p.send_control('c').unwrap();
        p.exp_string("[interrupted]").unwrap();
        p.exp_string("chat ").unwrap();
        p.send_line("again").unwrap();
        p.exp_string("second answer").unwrap();
        leave(&mut p);
        let messages = fake.received()[1].body["messages"]
            .as_array()
            .unwrap()
            .clone();
        // What was shown is kept as said; the user's side notes where it stopped (in the
        // same message as the next line: two user messages in a row become one).
        let kept = messages[2]["content"].as_str().unwrap().to_string();
        assert!(
            kept.starts_with("w0 w1") && !kept.contains("interrupted"),
            "{kept}"
        );
        let next = messages[3]["content"].as_str().unwrap().to_string();
        assert!(
            next.starts_with("[The user stopped the previous answer here.]")
                && next.ends_with("again"),
            "{next}"
        );
    }

    #[test]
    fn an_approval_answered_no_keeps_the_file() {
        let fake = FakeProvider::start();
        let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
        let file = t.scratch().join("keep.txt");
        std::fs::write(&file, "keep me").unwrap();
        fake.push(Reply::tool(
            "write_file",
            json!({"path": file.to_str().unwrap(), "content": "gone"}),
        ));
        fake.push(Reply::text(&["understood"]));
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        p.send_line("overwrite keep.txt").unwrap();
        p.exp_string("[a]lways").unwrap();
        p.send_line("n").unwrap();
        p.exp_string("understood").unwrap();
        leave(&mut p);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        let messages = fake.received()[1].body["messages"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            messages.last().unwrap()["content"]
                .as_str()
                .unwrap()
                .contains("declined")
        );
    }

    #[test]
    fn on_a_colour_terminal_markdown_answers_are_redrawn_styled() {
        let fake = FakeProvider::start();
        let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
        fake.push(Reply::text(&["# Title\n", "some **bold** text"]));
        let mut p = spawn_with(&t, &[("COLUMNS", "80"), ("LINES", "24")]);
        p.exp_string("chat gpt-4o ").unwrap();
        p.send_line("show me").unwrap();
        p.exp_string("some **bold** text").unwrap();
        // Back up over the two streamed rows, clear, and draw the styled version.
        p.exp_string("\x1b[2F\x1b[J").unwrap();
        p.exp_string("bold").unwrap();
        leave(&mut p);
    }

    /// Ctrl-C pressed at many moments — before the first token, in the middle, as the
    /// answer ends, at the prompt — never takes the prompt down.
    fn ctrl_c_anywhere_never_kills_the_prompt(t: &Test, answers: usize, prompt: &str) {
        let mut p = spawn(t);
        p.exp_string(prompt).unwrap();
        // A fixed sequence of moments, spread from "at once" to "after the answer".
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..answers {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            p.send_line(&format!("tell me something long, round {round}"))
                .unwrap();
            std::thread::sleep(Duration::from_millis(state % 700));
            p.send_control('c').unwrap();
            // Alive: a line of Rhai still answers.
            p.send_line(&format!(":{round} * 1000 + 7")).unwrap();
            p.exp_string(&format!("{}", round * 1000 + 7)).unwrap();
        }
        leave(&mut p);
    }

    #[test]
    fn ctrl_c_at_random_moments_during_provider_answers_never_kills_the_prompt() {
        let fake = FakeProvider::start();
        let t = Test::new().with_fake(&fake).env("LOCALGPT_MODEL", "gpt-4o");
        for _ in 0..12 {
            fake.push(Reply::Slow(
                (0..40).map(|i| format!("w{i} ")).collect(),
                Duration::from_millis(15),
            ));
        }
        ctrl_c_anywhere_never_kills_the_prompt(&t, 12, "chat gpt-4o ");
    }

    #[test]
    #[cfg_attr(
        not(test_wheels),
        ignore = "needs the model wheels (LOCALGPT_TEST_WHEELS)"
    )]
    fn ctrl_c_at_random_moments_during_built_in_model_answers_never_kills_the_prompt() {
        let t = Test::new().env("LOCALGPT_MODEL", "local/smollm2");
        crate::local_model::home_with_model(&t, &crate::local_model::model_dir());
        ctrl_c_anywhere_never_kills_the_prompt(&t, 12, "chat local/smollm2 ");
    }

    #[test]
    fn ctrl_c_stops_a_running_script_and_keeps_the_session() {
        let t = Test::new();
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        // Wait for the answer, not the prompt: "chat " also appears while the line is
        // being typed.
        p.send_line(":let kept = 7; print(`kept=${kept}`)").unwrap();
        p.exp_string("kept=7").unwrap();
        p.exp_string("chat ").unwrap();
        // The script says when it runs, so Ctrl-C cannot arrive before it starts.
        p.send_line(":print(\"started\"); sleep(60000)").unwrap();
        p.exp_string("\r\nstarted").unwrap();
        p.send_control('c').unwrap();
        p.exp_string("cancelled").unwrap();
        p.send_line(":kept * 6").unwrap();
        p.exp_string("42").unwrap();
        leave(&mut p);
    }

    /// Ctrl-C drops the line being typed (not run, not in the history), and what is typed
    /// right after it, read in the same go, is kept.
    #[test]
    fn ctrl_c_drops_the_line_and_keeps_what_follows() {
        let t = Test::new();
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        // One write, so the editor reads the Ctrl-C and the next line at once.
        p.send(":let dropped = 1 + \x03:40 + 2\r").unwrap();
        p.flush().unwrap();
        p.exp_string("Ctrl-D or /quit").unwrap();
        p.exp_string("42").unwrap();
        p.send_line(":dropped").unwrap();
        p.exp_string("not found").unwrap();
        leave(&mut p);
        let history = std::fs::read_to_string(t.path("history.txt")).unwrap();
        assert!(history.contains(":40 + 2"), "{history}");
        assert!(!history.contains("let dropped"), "{history}");
    }

    #[test]
    fn ctrl_c_on_an_empty_prompt_says_how_to_quit() {
        let t = Test::new();
        let mut p = spawn(&t);
        p.exp_string("chat ").unwrap();
        p.send_control('c').unwrap();
        p.exp_string("Ctrl-D or /quit").unwrap();
        p.send_line("/quit").unwrap();
        p.exp_eof().unwrap();
    }
}

#[test]
fn resuming_with_nothing_saved_says_so() {
    Test::new()
        .run(["chat", "--resume", "last"])
        .code(2)
        .stderr(predicate::str::contains("no saved sessions yet"));
}
