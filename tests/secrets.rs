//! `localgpt secrets`: keys kept in the encrypted store, used through `secret:NAME`, and
//! shown nowhere — not by `config show`, not in the logs, not in a transcript.

use crate::common::fake_provider::{FakeProvider, Reply};
use crate::common::{Test, text};

const KEY: &str = "sk-stored-0123456789abcdef";
const PASSPHRASE: &str = "a long passphrase for tests";

/// A test whose OpenAI provider is the fake, with no key but the stored one.
fn stored_key_test(fake: &FakeProvider) -> Test {
    let t = Test::new()
        .env("OPENAI_BASE_URL", &format!("{}/v1", fake.url()))
        .env("LOCALGPT_SECRETS_PASSPHRASE", PASSPHRASE);
    t.command()
        .args(["secrets", "set", "openai_api_key"])
        .write_stdin(format!("{KEY}\n"))
        .assert()
        .success();
    t
}

fn everything_written_under(dir: &std::path::Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_stored_key_reaches_the_provider_and_appears_nowhere_else() {
    let fake = FakeProvider::start();
    let t = stored_key_test(&fake);
    t.write(
        "config.toml",
        "[providers.openai]\napi_key = \"secret:openai_api_key\"\n",
    );
    fake.push(Reply::text(&["Hello"]));
    let out = t
        .run(["-v", "ask", "--model", "gpt-4o", "say", "hello"])
        .success();
    assert_eq!(text(&out.get_output().stdout), "Hello\n");
    assert_eq!(
        fake.received()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!text(&out.get_output().stderr).contains(KEY));
    let shown = t.run(["config", "show"]).success();
    let shown = text(&shown.get_output().stdout);
    assert!(shown.contains("secret:openai_api_key"), "{shown}");
    assert!(!shown.contains(KEY) && !shown.contains("0123456789abcdef"));
    // The store, the logs, the sessions: the key is in none of them as written.
    let written = everything_written_under(&t.home());
    assert!(!written.contains(KEY) && !written.contains("0123456789abcdef"));
    let listed = t.run(["secrets", "list"]).success();
    let listed = text(&listed.get_output().stdout);
    assert!(
        listed.contains("openai_api_key") && listed.contains("passphrase"),
        "{listed}"
    );
    assert!(!listed.contains(KEY));
}

#[test]
fn a_store_locked_with_a_passphrase_needs_it_and_says_so() {
    let fake = FakeProvider::start();
    let t = stored_key_test(&fake);
    t.write(
        "config.toml",
        "[providers.openai]\napi_key = \"secret:openai_api_key\"\n",
    );
    let locked = Test::new().env("OPENAI_BASE_URL", &format!("{}/v1", fake.url()));
    std::fs::remove_dir_all(locked.home()).ok();
    std::fs::create_dir_all(locked.home()).unwrap();
    for file in ["config.toml", "secrets.enc"] {
        std::fs::copy(t.home().join(file), locked.home().join(file)).unwrap();
    }
    let out = locked.run(["ask", "--model", "gpt-4o", "hello"]).failure();
    let stderr = text(&out.get_output().stderr);
    assert!(
        stderr.contains("providers.openai.api_key")
            && stderr.contains("LOCALGPT_SECRETS_PASSPHRASE"),
        "{stderr}"
    );
    assert!(fake.received().is_empty(), "no request without the key");
    let wrong = locked
        .env("LOCALGPT_SECRETS_PASSPHRASE", "not it")
        .run(["ask", "--model", "gpt-4o", "hello"])
        .failure();
    let stderr = text(&wrong.get_output().stderr);
    assert!(stderr.contains("passphrase is wrong"), "{stderr}");
}

#[test]
fn migrate_moves_keys_out_of_config_toml_and_they_still_work() {
    let fake = FakeProvider::start();
    let t = Test::new()
        .env("OPENAI_BASE_URL", &format!("{}/v1", fake.url()))
        .env("LOCALGPT_SECRETS_PASSPHRASE", PASSPHRASE);
    t.write(
        "config.toml",
        &format!(
            "# my settings\n[providers.openai]\napi_key = \"{KEY}\" # the work key\n\n\
             [mcp.servers.docs]\nenabled = false\nurl = \"http://127.0.0.1:9/mcp\"\n\
             headers = {{ Authorization = \"Bearer mcp-token-0123456789\", X-Env = \"${{HOME}}\" }}\n\
             env = {{ GITHUB_TOKEN = \"ghp_0123456789abcdef\", GIT_AUTHOR_NAME = \"me\" }}\n"
        ),
    );
    let out = t.run(["secrets", "migrate"]).success();
    let said = text(&out.get_output().stdout);
    assert!(said.contains("providers.openai.api_key"), "{said}");
    let config = t.read("config.toml");
    assert!(
        !config.contains(KEY) && !config.contains("mcp-token"),
        "{config}"
    );
    assert!(
        config.contains("api_key = \"secret:openai_api_key\" # the work key"),
        "{config}"
    );
    assert!(config.contains("secret:mcp_docs_authorization"), "{config}");
    assert!(
        config.contains("GITHUB_TOKEN = \"secret:mcp_docs_github_token\""),
        "{config}"
    );
    assert!(
        config.contains("GIT_AUTHOR_NAME = \"me\"") && !config.contains("ghp_"),
        "{config}"
    );
    assert!(
        config.contains("${HOME}") && config.contains("# my settings"),
        "{config}"
    );
    fake.push(Reply::text(&["Hi"]));
    t.run(["ask", "--model", "gpt-4o", "hello"]).success();
    assert_eq!(
        fake.received()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // Nothing left to move the second time.
    let again = t.run(["secrets", "migrate"]).success();
    assert!(text(&again.get_output().stdout).contains("nothing to move"));
}

#[test]
fn a_value_comes_from_stdin_never_the_command_line_and_bad_names_are_refused() {
    let t = Test::new().env("LOCALGPT_SECRETS_PASSPHRASE", PASSPHRASE);
    // No value argument exists to leak into shell history.
    t.run(["secrets", "set", "telegram", "123:ABC"]).failure();
    let out = t
        .command()
        .args(["secrets", "set", "bad name"])
        .write_stdin("x")
        .assert()
        .failure();
    assert!(text(&out.get_output().stderr).contains("not a secret name"));
    t.command()
        .args(["secrets", "set", "telegram"])
        .write_stdin("")
        .assert()
        .failure();
    assert!(!t.home().join("secrets.enc").exists() || t.read("secrets.enc").trim().is_empty());
    t.command()
        .args(["secrets", "set", "telegram"])
        .write_stdin("123:ABC\n")
        .assert()
        .success();
    t.run(["secrets", "rm", "telegram"]).success();
    t.run(["secrets", "rm", "telegram"]).failure();
}

#[test]
fn without_a_keyring_or_a_passphrase_a_new_store_is_refused_with_the_way_out() {
    // A clean environment has no D-Bus session, so no Secret Service; and no terminal.
    let t = Test::new();
    let out = t
        .command()
        .args(["secrets", "set", "openai_api_key"])
        .write_stdin(KEY)
        .assert()
        .failure();
    let stderr = text(&out.get_output().stderr);
    assert!(stderr.contains("LOCALGPT_SECRETS_PASSPHRASE"), "{stderr}");
    assert!(!stderr.contains(KEY));
}

#[test]
fn an_mcp_servers_env_takes_a_stored_secret() {
    let t = Test::new().env("LOCALGPT_SECRETS_PASSPHRASE", PASSPHRASE);
    t.command()
        .args(["secrets", "set", "probe_token"])
        .write_stdin("tok-from-the-store")
        .assert()
        .success();
    let written = t.scratch().join("token.txt");
    t.write(
        "config.toml",
        &format!(
            "[mcp.servers.probe]\ncommand = \"sh\"\nargs = [\"-c\", \"printf %s \\\"$PROBE_TOKEN\\\" > '{}'\"]\n\
             env = {{ PROBE_TOKEN = \"secret:probe_token\" }}\ntimeout_secs = 5\n",
            written.display()
        ),
    );
    // Not an MCP server: it writes what it was given and ends, and the handshake fails.
    t.run(["mcp", "tools", "probe"]).failure();
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "tok-from-the-store"
    );
    let shown = t.run(["config", "show"]).success();
    assert!(text(&shown.get_output().stdout).contains("secret:probe_token"));
}

/// At a terminal, with no keyring (the test's clean environment has no D-Bus session) and no
/// passphrase variable: the passphrase is chosen twice, unechoed, and the value typed
/// unechoed too; later commands ask for the passphrase, and a wrong one opens nothing.
#[cfg(unix)]
#[test]
fn at_a_terminal_the_passphrase_and_the_value_are_asked_for_unechoed() {
    let t = Test::new();
    let mut p = t.pty(&["secrets", "set", "telegram"], &[]);
    p.exp_string("Value of telegram: ").unwrap();
    p.send_line("123456:ABC-typed").unwrap();
    p.exp_string("choose a passphrase").unwrap();
    p.send_line("typed passphrase").unwrap();
    p.exp_string("same passphrase again").unwrap();
    p.send_line("typed passphrase").unwrap();
    p.exp_string("stored telegram").unwrap();
    p.exp_eof().unwrap();
    // Nothing typed was echoed back to the terminal.
    let stored = std::fs::read_to_string(t.home().join("secrets.enc")).unwrap();
    assert!(!stored.contains("ABC-typed"));

    let mut p = t.pty(&["secrets", "list"], &[]);
    p.exp_string("Passphrase of the secrets store: ").unwrap();
    p.send_line("typed passphrase").unwrap();
    let listed = p.exp_eof().unwrap();
    assert!(
        listed.contains("telegram") && !listed.contains("ABC-typed"),
        "{listed}"
    );

    let mut p = t.pty(&["secrets", "list"], &[]);
    p.exp_string("Passphrase of the secrets store: ").unwrap();
    p.send_line("wrong").unwrap();
    let refused = p.exp_eof().unwrap();
    assert!(refused.contains("passphrase is wrong"), "{refused}");

    // Two different passphrases for a new store: nothing is stored.
    let fresh = Test::new();
    let mut p = fresh.pty(&["secrets", "set", "x"], &[]);
    p.exp_string("Value of x: ").unwrap();
    p.send_line("v").unwrap();
    p.exp_string("choose a passphrase").unwrap();
    p.send_line("one").unwrap();
    p.exp_string("same passphrase again").unwrap();
    p.send_line("two").unwrap();
    let differ = p.exp_eof().unwrap();
    assert!(differ.contains("differ"), "{differ}");
    assert!(
        std::fs::read_to_string(fresh.home().join("secrets.enc"))
            .unwrap_or_default()
            .trim()
            .is_empty()
    );
}
