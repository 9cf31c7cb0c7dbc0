//! One way to run a skill: the prompt's `/name`, `localgpt skills run`, the API, a script's
//! `skill()` and the model's `run_skill` all go through `Skills::invoke`, so the same
//! skill is refused (or run) the same way at every door — and the rules that used to
//! differ between them now hold everywhere: the syntax check, `user-invocable`, arguments
//! as typed, an unavailable skill never hiding a runnable one, the skill's folder
//! placeholders, every skill named to the model, skill folders one level deep.

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::text;
use crate::skills::{setup, skill_file};
use serde_json::{Value, json};

/// The last user message of request `index`.
fn last_user_message(fake: &FakeProvider, index: usize) -> String {
    fake.user_message_of(index)
}

/// The result the model got for its tool call in request `index`.
fn tool_result(fake: &FakeProvider, index: usize) -> String {
    fake.last_message_of(index)
}

#[test]
fn a_broken_skill_is_refused_at_every_door_with_its_line() {
    let (fake, t) = setup();
    skill_file(&t, "broken.rhai", "//! description: Broken.\nlet x = ;\n");
    // At the prompt.
    let out = t.command().write_stdin("/broken\n").output().unwrap();
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    // From the command line.
    let out = t.run(["skills", "run", "broken"]).code(2);
    assert!(text(&out.get_output().stderr).contains("line 2"));
    // From a script.
    let out = t.run(["run", "-e", "skill(\"broken\")"]).code(1);
    assert!(text(&out.get_output().stderr).contains("line 2"));
    // From the model: refused without asking, and told why.
    fake.push(Reply::tool("run_skill", json!({"name": "broken"})))
        .push(Reply::text(&["that skill is broken"]));
    t.run(["ask", "use the broken skill"]).success();
    let result = tool_result(&fake, 1);
    assert!(result.contains("line 2"), "{result}");
}

#[test]
fn user_invocable_false_is_for_the_model_at_every_door() {
    let (fake, t) = setup();
    skill_file(
        &t,
        "background/SKILL.md",
        "---\ndescription: Background knowledge.\nuser-invocable: false\n---\nKnow this.\n",
    );
    let out = t.command().write_stdin("/background\n").output().unwrap();
    assert!(text(&out.stderr).contains("user-invocable: false"));
    t.run(["skills", "run", "background"]).code(2);
    let out = t.run(["run", "-e", "skill(\"background\")"]).code(1);
    assert!(text(&out.get_output().stderr).contains("user-invocable"));
    // The model may.
    fake.push(Reply::tool("run_skill", json!({"name": "background"})))
        .push(Reply::text(&["known"]));
    t.run(["ask", "what do you know?"]).success();
    assert!(tool_result(&fake, 1).contains("Know this."));
}

#[test]
fn arguments_reach_the_skill_as_the_person_typed_them() {
    let (fake, t) = setup();
    skill_file(
        &t,
        "weather/SKILL.md",
        "---\ndescription: The weather.\n---\nAnswer about the weather: $ARGUMENTS\n",
    );
    skill_file(
        &t,
        "words.rhai",
        "//! description: Counts words.\nprint(`${args.len()}: ${args}`);\n",
    );
    fake.push(Reply::text(&["sunny"]))
        .push(Reply::text(&["cloudy"]));
    let out = t
        .command()
        .write_stdin("/weather what's it like in Berlin\n/words what's it like\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        last_user_message(&fake, 0).ends_with("Answer about the weather: what's it like in Berlin"),
        "{}",
        last_user_message(&fake, 0)
    );
    assert!(
        text(&out.stdout).contains("3: [\"what's\", \"it\", \"like\"]"),
        "{}",
        text(&out.stdout)
    );
    t.run(["skills", "run", "weather", "what's it like"])
        .success();
    assert!(
        last_user_message(&fake, 1).ends_with("Answer about the weather: what's it like"),
        "{}",
        last_user_message(&fake, 1)
    );
}

#[test]
fn an_unavailable_skill_never_hides_a_runnable_one() {
    let (_fake, t) = setup();
    let openclaw = t.scratch().join("openclaw-skills");
    std::fs::create_dir_all(openclaw.join("summarize")).unwrap();
    std::fs::write(
        openclaw.join("summarize/SKILL.md"),
        "---\nname: summarize\ndescription: Summarize with a tool.\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"summarize-cli-not-installed\"]}}}\n---\nRun summarize-cli.\n",
    )
    .unwrap();
    t.write(
        "config.toml",
        &format!(
            "[agent]\nmodel = \"gpt-4o\"\n[skills]\nextra_paths = [\"{}\"]\n",
            openclaw.display()
        ),
    );
    let listing = text(&t.run(["skills", "list"]).success().get_output().stdout);
    let line = listing
        .lines()
        .find(|l| l.starts_with("summarize "))
        .unwrap();
    assert!(line.contains("built-in"), "{listing}");
    assert!(listing.contains("summarize-cli-not-installed"), "{listing}");
    // And it is the built-in one that runs.
    let note = t.scratch().join("note.txt");
    std::fs::write(&note, "text").unwrap();
    let shown = text(
        &t.run(["skills", "show", "summarize"])
            .success()
            .get_output()
            .stdout,
    );
    assert!(shown.contains("rhai skill, built-in"), "{shown}");
}

#[test]
fn the_skill_folder_placeholders_are_filled_in() {
    let (fake, t) = setup();
    skill_file(
        &t,
        "tool/SKILL.md",
        "---\ndescription: Uses its script.\n---\nRun {baseDir}/run.sh, read ${CLAUDE_SKILL_DIR}/notes.md.\n",
    );
    fake.push(Reply::text(&["done"]));
    t.run(["skills", "run", "tool"]).success();
    let folder = t.path("workspace/skills/tool");
    let message = last_user_message(&fake, 0);
    assert!(
        message.contains(&format!(
            "Run {}/run.sh, read {}/notes.md.",
            folder.display(),
            folder.display()
        )),
        "{message}"
    );
}

#[test]
fn the_model_hears_of_every_skill_within_the_budget() {
    let (fake, t) = setup();
    for i in 0..42 {
        skill_file(
            &t,
            &format!("s{i:02}/SKILL.md"),
            &format!(
                "---\ndescription: Skill number {i}, which does a particular thing well and says so at length.\n---\nDo {i}.\n"
            ),
        );
    }
    fake.push(Reply::text(&["ok"]));
    t.run(["ask", "hi"]).success();
    let system = fake.received()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let section = system.split("## Skills").nth(1).unwrap();
    for i in 0..42 {
        assert!(section.contains(&format!("- s{i:02}")), "s{i:02} missing");
    }
    assert!(
        section.chars().count() < 4100,
        "{}",
        section.chars().count()
    );
}

#[test]
fn a_skill_folder_one_level_deeper_is_found() {
    let (fake, t) = setup();
    skill_file(
        &t,
        "document-skills/pdf/SKILL.md",
        "---\nname: pdf\ndescription: Works with PDF files.\n---\nUse pdftotext.\n",
    );
    let listing = text(&t.run(["skills", "list"]).success().get_output().stdout);
    assert!(listing.lines().any(|l| l.starts_with("pdf ")), "{listing}");
    fake.push(Reply::text(&["read it"]));
    t.run(["skills", "run", "pdf", "report.pdf"]).success();
    assert!(last_user_message(&fake, 0).contains("Use pdftotext."));
}

#[test]
fn the_api_runs_skills_by_the_same_rules() {
    let (_fake, t) = setup();
    skill_file(&t, "broken.rhai", "//! description: Broken.\nlet x = ;\n");
    skill_file(
        &t,
        "echo.rhai",
        "//! description: Echoes.\nprint(args.len());\n",
    );
    let server = crate::server::start(&t);
    let out = crate::server::request(
        &server,
        "POST",
        "/api/skills/broken/run",
        Some("{}"),
        &["Content-Type: application/json"],
    );
    assert_eq!(out.status, 422, "{}", out.body);
    assert!(out.body.contains("line 2"), "{}", out.body);
    let out = crate::server::request(
        &server,
        "POST",
        "/api/skills/echo/run",
        Some(&json!({"args": "what's it like"}).to_string()),
        &["Content-Type: application/json"],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let body: Value = serde_json::from_str(&out.body).unwrap();
    assert_eq!(body["output"], "3\n");
}
