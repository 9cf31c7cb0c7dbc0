//! Skills: discovery and override order, headers and SKILL.md front matter (real-world
//! ones included), broken skills, `skills new`, every built-in skill end to end against
//! the fake provider (in throwaway git repositories where they need one), `run_skill`
//! from the model, `skill()` from scripts, and `/NAME` in the REPL.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};
use serde_json::{Value, json};

pub fn setup() -> (FakeProvider, Test) {
    let fake = FakeProvider::start();
    let t = Test::new().with_fake(&fake);
    t.write(
        "config.toml",
        "[agent]\nmodel = \"gpt-4o\"\nmax_retries = 0\n",
    );
    (fake, t)
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    text(&assert.get_output().stdout)
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    text(&assert.get_output().stderr)
}

/// The text of every message the fake received in request `index`, system included.
fn request_text(fake: &FakeProvider, index: usize) -> String {
    let requests = fake.received();
    let body = &requests[index].body;
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| m["content"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository on `main` with two commits in a recognisable style.
fn repo(t: &Test) -> PathBuf {
    let dir = t.scratch().join("repo");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.email", "dev@example.com"]);
    git(&dir, &["config", "user.name", "Dev"]);
    std::fs::write(dir.join("README.md"), "# Demo\n").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "docs: add the readme"]);
    std::fs::write(dir.join("README.md"), "# Demo\n\nA demo.\n").unwrap();
    git(&dir, &["commit", "-q", "-am", "docs: describe the demo"]);
    dir
}

pub fn skill_file(t: &Test, relative: &str, text: &str) {
    t.write(&format!("workspace/skills/{relative}"), text);
}

#[test]
fn built_in_skills_are_listed_and_shown() {
    let t = Test::new();
    let out = t.run(["skills", "list"]).success();
    let listing = stdout(&out);
    for name in ["commit", "daily", "explain", "pr", "review", "summarize"] {
        let line = listing
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{listing}"));
        assert!(line.contains("rhai") && line.contains("built-in"), "{line}");
        assert!(!line.contains("broken"), "{line}");
    }
    let out = t.run(["skills", "show", "commit"]).success();
    let shown = stdout(&out);
    assert!(shown.contains("usage: /commit"), "{shown}");
    assert!(shown.contains("confirm(\"Commit with this message?\")"));
    let out = t.run(["skills", "show", "comit"]).code(2);
    assert!(
        stderr(&out).contains("did you mean `commit`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn workspace_skills_replace_extra_path_skills_which_replace_built_ins() {
    let t = Test::new();
    let extra = t.scratch().join("shared-skills");
    std::fs::create_dir_all(extra.join("greet")).unwrap();
    std::fs::write(
        extra.join("greet/SKILL.md"),
        "---\nname: greet\ndescription: Greets from the shared folder.\n---\nSay hi.\n",
    )
    .unwrap();
    std::fs::write(
        extra.join("review.rhai"),
        "//! description: Review from the shared folder.\nprint(\"shared\");\n",
    )
    .unwrap();
    std::fs::write(
        extra.join("explain.rhai"),
        "//! description: Explain from the shared folder.\nprint(\"shared\");\n",
    )
    .unwrap();
    t.write(
        "config.toml",
        &format!("[skills]\nextra_paths = [\"{}\"]\n", extra.display()),
    );
    skill_file(
        &t,
        "review/skill.rhai",
        "//! name: review\n//! description: My own review.\nprint(\"mine\");\n",
    );
    let listing = stdout(&t.run(["skills", "list"]).success());
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{listing}"))
            .to_string()
    };
    assert!(line("review").contains("workspace*"), "{listing}");
    assert!(line("review").contains("My own review."));
    assert!(line("explain").contains("extra*"));
    assert!(line("greet").contains("prompt") && line("greet").contains("extra"));
    assert!(line("commit").contains("built-in"));
    t.run(["skills", "run", "review"])
        .success()
        .stdout("mine\n");
    t.run(["skills", "run", "explain"])
        .success()
        .stdout("shared\n");
    let shown = stdout(&t.run(["skills", "show", "review"]).success());
    assert!(shown.contains("replaces: the extra skill"), "{shown}");
}

#[test]
fn broken_skills_are_listed_with_their_error_and_refuse_to_run() {
    let t = Test::new();
    skill_file(&t, "bad.rhai", "//! description: Broken.\nlet x = ;\n");
    skill_file(
        &t,
        "yaml/SKILL.md",
        "---\nname: yaml\ndescription: [not closed\n---\nBody.\n",
    );
    skill_file(&t, "nofront/SKILL.md", "# Just Markdown\n");
    skill_file(
        &t,
        "flag.rhai",
        "//! description: Bad flag.\n//! disable-model-invocation: perhaps\nprint(1);\n",
    );
    skill_file(&t, "latin1.rhai", "");
    std::fs::write(
        t.path("workspace/skills/latin1.rhai"),
        b"//! description: caf\xe9\n",
    )
    .unwrap();
    let listing = stdout(&t.run(["skills", "list"]).success());
    for (name, problem) in [
        ("bad", "broken: line 2"),
        ("yaml", "broken: line 4"),
        ("nofront", "broken: line 1"),
        ("flag", "disable-model-invocation"),
        ("latin1", "not UTF-8"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{listing}"));
        assert!(line.contains(problem), "{name}: {line}");
    }
    // The good ones are still there.
    assert!(listing.contains("commit "));
    let out = t.run(["skills", "run", "bad"]).code(2);
    let err = stderr(&out);
    assert!(
        err.contains("is broken") && err.contains("bad.rhai"),
        "{err}"
    );
}

#[test]
fn real_world_skill_files_load_with_their_extra_fields() {
    let t = Test::new();
    // As Anthropic's skills repository writes them: long description, license, extra keys.
    skill_file(
        &t,
        "pdf/SKILL.md",
        "---\nname: pdf\ndescription: Comprehensive PDF manipulation toolkit for extracting text and\n  tables, creating new PDFs, merging/splitting documents, and handling forms. When Claude\n  needs to fill in a PDF form or programmatically process, generate, or analyze PDF\n  documents at scale.\nlicense: Proprietary. LICENSE.txt has complete terms\nallowed-tools: Bash, Read\n---\n\n# PDF Processing Guide\n\nSee reference.md.\n",
    );
    // As OpenClaw's bundled skills write them: JSON metadata with requirements.
    skill_file(
        &t,
        "weather/SKILL.md",
        "---\nname: weather\ndescription: Get current weather and forecasts (no API key required).\nhomepage: https://wttr.in/:help\nmetadata: {\"openclaw\":{\"emoji\":\"🌤️\",\"requires\":{\"bins\":[\"sh\"]}}}\n---\n\n# Weather\n\ncurl wttr.in\n",
    );
    skill_file(
        &t,
        "gh-issues/SKILL.md",
        "---\nname: gh-issues\ndescription: \"Work GitHub issues with gh.\"\nuser-invocable: true\ndisable-model-invocation: true\nmetadata:\n  openclaw:\n    requires:\n      bins: [\"surely-not-installed-gh\"]\n      env: [\"GH_TOKEN\"]\n---\nUse gh.\n",
    );
    let listing = stdout(&t.run(["skills", "list"]).success());
    let pdf = listing.lines().find(|l| l.starts_with("pdf ")).unwrap();
    assert!(
        pdf.contains("Comprehensive PDF manipulation toolkit for extracting text and tables"),
        "{pdf}"
    );
    let weather = listing.lines().find(|l| l.starts_with("weather ")).unwrap();
    assert!(weather.contains("Get current weather"), "{weather}");
    let issues = listing
        .lines()
        .find(|l| l.starts_with("gh-issues "))
        .unwrap();
    assert!(
        issues.contains("unavailable: needs surely-not-installed-gh on PATH"),
        "{issues}"
    );
    let shown = stdout(&t.run(["skills", "show", "gh-issues"]).success());
    assert!(shown.contains("run by: you only"), "{shown}");
    let out = t.run(["skills", "run", "gh-issues"]).code(2);
    assert!(stderr(&out).contains("not available here"));
}

#[test]
fn skills_new_scaffolds_skills_that_run() {
    let (fake, t) = setup();
    let out = t.run(["skills", "new", "haiku"]).success();
    assert!(stdout(&out).contains("workspace/skills/haiku.rhai"));
    t.run(["skills", "new", "haiku"]).code(2);
    t.run(["skills", "new", "bad name"]).code(2);
    fake.push(Reply::text(&["Autumn ", "moonlight"]));
    let out = t.run(["skills", "run", "haiku", "the", "moon"]).success();
    assert_eq!(stdout(&out), "Autumn moonlight\n");
    assert!(request_text(&fake, 0).contains("the moon"));

    t.run(["skills", "new", "--prompt", "tone"]).success();
    let skill = t.read("workspace/skills/tone/SKILL.md");
    assert!(skill.starts_with("---\nname: tone\n"));
    let listing = stdout(&t.run(["skills", "list"]).success());
    let line = listing.lines().find(|l| l.starts_with("tone ")).unwrap();
    assert!(
        line.contains("prompt") && !line.contains("broken"),
        "{line}"
    );
    fake.push(Reply::text(&["Calm."]));
    let out = t.run(["skills", "run", "tone", "be", "calm"]).success();
    assert_eq!(stdout(&out), "Calm.\n");
    let sent = request_text(&fake, 1);
    assert!(sent.contains("Do this with: be calm"), "{sent}");
    // A prompt skill's turn is a session like any other.
    let sessions = stdout(&t.run(["sessions", "list"]).success());
    assert!(sessions.contains("skill"), "{sessions}");
}

#[test]
fn commit_writes_the_message_in_the_projects_style_and_commits_after_a_yes() {
    let (fake, t) = setup();
    let dir = repo(&t);
    std::fs::write(dir.join("greet.sh"), "echo hello\n").unwrap();
    git(&dir, &["add", "greet.sh"]);
    fake.push(Reply::text(&[
        "```\n",
        "feat: add a greeting script\n\n",
        "So demos can say hello.\n```",
    ]));
    // Nobody at a terminal and no --yes: shown, not committed.
    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "commit"])
        .assert()
        .code(1);
    let shown = stdout(&out);
    assert!(shown.contains("feat: add a greeting script"), "{shown}");
    assert!(shown.contains("Not committed"), "{shown}");
    assert_eq!(git(&dir, &["rev-list", "--count", "HEAD"]).trim(), "2");
    let sent = request_text(&fake, 0);
    assert!(sent.contains("+echo hello"), "the diff: {sent}");
    assert!(
        sent.contains("docs: describe the demo"),
        "the style: {sent}"
    );

    fake.push(Reply::text(&[
        "feat: add a greeting script\n\nSo demos can say hello.",
    ]));
    t.command()
        .current_dir(&dir)
        .args(["skills", "run", "commit", "--yes"])
        .assert()
        .success();
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%B"]).trim(),
        "feat: add a greeting script\n\nSo demos can say hello."
    );
    // Nothing staged now: a clear message and no request.
    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "commit", "--yes"])
        .assert()
        .code(1);
    assert!(stdout(&out).contains("Nothing is staged"));
    assert_eq!(fake.received().len(), 2);
}

#[test]
fn commit_all_stages_tracked_changes_and_outside_a_repository_says_so() {
    let (fake, t) = setup();
    let dir = repo(&t);
    std::fs::write(dir.join("README.md"), "# Demo\n\nA better demo.\n").unwrap();
    fake.push(Reply::text(&["docs: improve the description"]));
    t.command()
        .current_dir(&dir)
        .args([
            "skills",
            "run",
            "--yes",
            "commit",
            "--all",
            "it's",
            "\"quoted\"",
        ])
        .assert()
        .success();
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%s"]).trim(),
        "docs: improve the description"
    );
    assert!(request_text(&fake, 0).contains("The author adds: it's \"quoted\""));
    let out = t.run(["skills", "run", "commit"]).code(2);
    assert!(stdout(&out).contains("not in one"));
}

#[test]
fn review_covers_the_working_tree_a_range_and_a_file() {
    let (fake, t) = setup();
    let dir = repo(&t);
    std::fs::write(dir.join("README.md"), "# Demo\n\nrm -rf /\n").unwrap();
    fake.push(Reply::text(&[
        "## Critical\n",
        "- README.md:3 deletes everything",
    ]));
    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "review"])
        .assert()
        .success();
    assert!(stdout(&out).contains("## Critical\n- README.md:3 deletes everything"));
    let sent = request_text(&fake, 0);
    assert!(
        sent.contains("+rm -rf /") && sent.contains("uncommitted changes"),
        "{sent}"
    );
    let system = &fake.received()[0].body["messages"][0]["content"];
    assert!(
        system
            .as_str()
            .unwrap()
            .contains("Critical, Major, Minor and Nit")
    );

    fake.push(Reply::text(&["Looks fine."]));
    t.command()
        .current_dir(&dir)
        .args(["skills", "run", "review", "HEAD~1..HEAD"])
        .assert()
        .success();
    assert!(request_text(&fake, 1).contains("+A demo."));

    fake.push(Reply::text(&["Fine file."]));
    t.command()
        .current_dir(&dir)
        .args(["skills", "run", "review", "README.md"])
        .assert()
        .success();
    assert!(request_text(&fake, 2).contains("File README.md:\n# Demo"));

    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "review", "no-such-rev"])
        .assert()
        .code(2);
    assert!(stdout(&out).contains("neither a file nor a revision"));
}

#[test]
fn pr_describes_the_branch_against_its_base() {
    let (fake, t) = setup();
    let dir = repo(&t);
    git(&dir, &["checkout", "-q", "-b", "feature/login"]);
    std::fs::write(dir.join("login.txt"), "login form\n").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "feat: add the login form"]);
    std::fs::write(dir.join("login.txt"), "login form\nwith validation\n").unwrap();
    git(
        &dir,
        &["commit", "-q", "-am", "feat: validate the login form"],
    );
    fake.push(Reply::text(&[
        "# Add a validated login form\n\n## Summary\n...",
    ]));
    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "pr"])
        .assert()
        .success();
    assert!(stdout(&out).starts_with("# Add a validated login form"));
    let sent = request_text(&fake, 0);
    for part in [
        "branch feature/login into main",
        "- feat: add the login form",
        "- feat: validate the login form",
        "+with validation",
    ] {
        assert!(sent.contains(part), "missing {part}: {sent}");
    }
    assert!(
        !sent.contains("docs: describe the demo"),
        "base commits left out"
    );
    git(&dir, &["checkout", "-q", "main"]);
    let out = t
        .command()
        .current_dir(&dir)
        .args(["skills", "run", "pr"])
        .assert()
        .code(1);
    assert!(stdout(&out).contains("no commits beyond main"));
}

/// Serves one HTML page on a loopback port for as long as the test runs.
fn serve_page(html: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
        }
    });
    port
}

#[test]
fn summarize_reads_a_file_a_url_or_stdin() {
    let (fake, t) = setup();
    std::fs::write(
        t.scratch().join("notes.md"),
        "We chose SQLite for the index.\n",
    )
    .unwrap();
    fake.push(Reply::text(&["- SQLite was chosen."]));
    let out = t
        .run(["skills", "run", "summarize", "notes.md", "decisions"])
        .success();
    assert_eq!(stdout(&out), "- SQLite was chosen.\n");
    let sent = request_text(&fake, 0);
    assert!(sent.contains("We chose SQLite") && sent.contains("Focus on: decisions"));

    fake.push(Reply::text(&["- piped"]));
    t.command()
        .args(["skills", "run", "summarize"])
        .write_stdin("Piped text about tides.\n")
        .assert()
        .success()
        .stdout("- piped\n");
    assert!(request_text(&fake, 1).contains("Piped text about tides."));

    let port = serve_page("<html><body><h1>Tides</h1><p>The moon pulls the sea.</p></body></html>");
    let config = t.read("config.toml") + "[tools]\nweb_allow_local = true\n";
    t.write("config.toml", &config);
    fake.push(Reply::text(&["- the moon"]));
    t.run([
        "skills",
        "run",
        "summarize",
        &format!("http://127.0.0.1:{port}/tides"),
    ])
    .success();
    assert!(request_text(&fake, 2).contains("The moon pulls the sea."));

    let out = t.run(["skills", "run", "summarize"]).code(2);
    assert!(stdout(&out).contains("Nothing to summarise"));
    assert_eq!(fake.received().len(), 3);
}

#[test]
fn daily_sums_up_the_log_and_the_open_heartbeat_items() {
    let (fake, t) = setup();
    t.run(["skills", "list"]).success(); // creates the home
    let out = t.run(["skills", "run", "daily", "2026-11-20"]).success();
    assert!(stdout(&out).contains("Nothing logged on 2026-11-20"));
    assert!(fake.received().is_empty());

    t.write(
        "workspace/memory/2026-11-20.md",
        "## 10:00\nFixed the login bug.\n",
    );
    t.write(
        "workspace/HEARTBEAT.md",
        "# Heartbeat\n<!-- the daemon reads this -->\n- [ ] renew the TLS certificate\n- [x] water the plants\n",
    );
    fake.push(Reply::text(&["## Done\n- login bug\n## Open\n- TLS"]));
    let out = t.run(["skills", "run", "daily", "2026-11-20"]).success();
    assert!(stdout(&out).contains("## Open\n- TLS"));
    let sent = request_text(&fake, 0);
    assert!(sent.contains("Fixed the login bug."));
    assert!(sent.contains("- [ ] renew the TLS certificate"));
    assert!(!sent.contains("water the plants") && !sent.contains("the daemon reads"));
}

#[test]
fn explain_takes_a_command_or_an_error() {
    let (fake, t) = setup();
    fake.push(Reply::text(&["The server rejected your key."]));
    let out = t
        .run(["skills", "run", "explain", "Permission denied (publickey)."])
        .success();
    assert_eq!(stdout(&out), "The server rejected your key.\n");
    assert!(request_text(&fake, 0).contains("Explain this:\n\nPermission denied (publickey)."));

    fake.push(Reply::text(&["It lists files."]));
    t.command()
        .args(["skills", "run", "explain"])
        .write_stdin("ls -la /tmp")
        .assert()
        .success();
    assert!(request_text(&fake, 1).contains("ls -la /tmp"));
    t.run(["skills", "run", "explain"]).code(2);
}

fn shout_skill(t: &Test) {
    skill_file(
        t,
        "shout.rhai",
        "//! description: Shouts its arguments.\n//! usage: /shout WORDS…\nlet words = args.map(|w| w.to_upper());\nprint(words.reduce(|sum, w| if sum == () { w } else { sum + \" \" + w }));\n",
    );
}

#[test]
fn the_model_sees_the_skills_and_runs_them() {
    let (fake, t) = setup();
    shout_skill(&t);
    skill_file(
        &t,
        "greet/SKILL.md",
        "---\nname: greet\ndescription: Greets someone by name.\n---\nGreet $ARGUMENTS in French.\n",
    );
    skill_file(
        &t,
        "private/SKILL.md",
        "---\nname: private\ndescription: Only by hand.\ndisable-model-invocation: true\n---\nSecret.\n",
    );
    fake.push(Reply::tool(
        "run_skill",
        json!({"name": "greet", "args": "Ada"}),
    ))
    .push(Reply::tool(
        "run_skill",
        json!({"name": "shout", "args": "hello 'big world'"}),
    ))
    .push(Reply::tool("run_skill", json!({"name": "private"})))
    .push(Reply::text(&["Bonjour Ada!"]));
    let out = t.run(["ask", "--yes", "greet Ada"]).success();
    assert!(stdout(&out).contains("Bonjour Ada!"));
    let requests = fake.received();
    let system = requests[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("## Skills"), "{system}");
    assert!(system.contains("- greet: Greets someone by name."));
    assert!(system.contains("- commit: "));
    assert!(!system.contains("- private:"));
    let tool_result = |request: usize| -> String {
        let messages = requests[request].body["messages"].as_array().unwrap();
        let last = messages.last().unwrap();
        assert_eq!(last["role"], "tool");
        last["content"].as_str().unwrap().to_string()
    };
    assert!(
        tool_result(1).contains("Greet Ada in French."),
        "{}",
        tool_result(1)
    );
    assert_eq!(tool_result(2), "HELLO BIG WORLD");
    assert!(tool_result(3).contains("not meant to be run by the model"));
}

#[test]
fn running_a_rhai_skill_needs_approval_where_nobody_can_give_it() {
    let (fake, t) = setup();
    shout_skill(&t);
    fake.push(Reply::tool(
        "run_skill",
        json!({"name": "shout", "args": "hi"}),
    ))
    .push(Reply::text(&["ok"]));
    t.run(["ask", "shout hi"]).success();
    let requests = fake.received();
    let last = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .cloned();
    let content = last.map(|m| m["content"].clone()).unwrap_or(Value::Null);
    assert!(
        content
            .as_str()
            .unwrap_or_default()
            .contains("needs approval"),
        "{content}"
    );
}

#[test]
fn scripts_run_skills_and_list_them() {
    let (fake, t) = setup();
    shout_skill(&t);
    skill_file(
        &t,
        "loop.rhai",
        "//! description: Runs itself.\nskill(\"loop\")\n",
    );
    skill_file(
        &t,
        "greet/SKILL.md",
        "---\ndescription: Greets.\n---\nGreet $ARGUMENTS.\n",
    );
    t.run([
        "run",
        "-e",
        "print(skill(\"shout\", \"a 'b c'\")); print(skill(\"shout\", [\"x\", \"y z\"]));",
    ])
    .success()
    .stdout("A B C\nX Y Z\n");
    fake.push(Reply::text(&["Hello, Ada."]));
    t.run(["run", "-e", "print(skill(\"greet\", \"Ada\"))"])
        .success()
        .stdout("Hello, Ada.\n");
    assert!(request_text(&fake, 0).contains("Greet Ada."));
    let out = t.run(["run", "-e", "skill(\"loop\")"]).code(1);
    assert!(stderr(&out).contains("too deeply"), "{}", stderr(&out));
    let out = t.run(["run", "-e", "skill(\"nope\")"]).code(1);
    assert!(stderr(&out).contains("no skill named `nope`"));
    t.run([
        "run",
        "-e",
        "let s = skills(); print(s.filter(|x| x.name == \"shout\")[0].origin);",
    ])
    .success()
    .stdout("workspace\n");
}

#[test]
fn the_repl_runs_skills_as_slash_commands() {
    let (fake, t) = setup();
    shout_skill(&t);
    skill_file(
        &t,
        "greet/SKILL.md",
        "---\ndescription: Greets.\n---\nGreet $ARGUMENTS.\n",
    );
    fake.push(Reply::text(&["Hello, Ada."]))
        .push(Reply::text(&["Goodbye."]));
    let out = t
        .command()
        .write_stdin("/shout hello there\n/skills\n/greet Ada\nand now goodbye\n/shuot x\n")
        .assert()
        .success();
    let shown = stdout(&out);
    assert!(shown.contains("HELLO THERE"), "{shown}");
    assert!(
        shown.contains("/commit") && shown.contains("/shout"),
        "{shown}"
    );
    assert!(
        shown.contains("Hello, Ada.") && shown.contains("Goodbye."),
        "{shown}"
    );
    // The prompt skill's turn and the next line are one conversation.
    let second = request_text(&fake, 1);
    assert!(second.contains("Greet Ada.") && second.contains("and now goodbye"));
    assert!(
        stderr(&out).contains("did you mean /shout?"),
        "{}",
        stderr(&out)
    );
}
