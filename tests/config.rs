//! `localgpt config`: the template, show/get/set/init, overrides, and every kind of bad
//! configuration — each refused with its place, exit code 2, and the file untouched.

use crate::common::{Test, text};
use predicates::prelude::*;

/// Runs `args` expecting exit code 2, and checks config.toml did not change by a byte.
fn refused(t: &Test, args: &[&str]) -> String {
    let before = std::fs::read(t.path("config.toml")).unwrap();
    let output = t.run(args).code(2).get_output().clone();
    assert_eq!(
        std::fs::read(t.path("config.toml")).unwrap(),
        before,
        "{args:?} changed the file"
    );
    text(&output.stderr)
}

fn with_config(contents: &str) -> Test {
    let t = Test::new();
    t.write("config.toml", contents);
    t
}

#[test]
fn the_first_config_is_the_annotated_template() {
    let t = Test::new();
    t.run(["config", "show"]).success();
    let config = t.read("config.toml");
    assert!(config.contains("# port = 31327"), "{config}");
    assert!(config.contains("OPENAI_API_KEY"), "{config}");
    t.run(["config", "init"])
        .success()
        .stdout(predicate::str::contains("already"));
}

#[test]
fn set_keeps_comments_and_get_reads_back() {
    let t = Test::new();
    t.run(["config", "show"]).success();
    let before = t.read("config.toml");
    t.run(["config", "set", "server.port", "8080"])
        .success()
        .stdout("server.port = 8080\n");
    t.run(["config", "get", "server.port"])
        .success()
        .stdout("8080\n");
    t.run(["config", "set", "agent.model", "gpt-4o"]).success();
    t.run(["config", "get", "agent.model"])
        .success()
        .stdout("gpt-4o\n");
    let after = t.read("config.toml");
    // Every comment line of the template is still there, except the uncommented defaults.
    for line in before.lines().filter(|l| l.starts_with('#')) {
        if line == "# port = 31327" || line.starts_with("# model =") {
            continue;
        }
        assert!(after.contains(line), "lost comment {line:?}");
    }
    assert!(after.contains("port = 8080"));
}

#[test]
fn show_masks_keys_and_names_where_values_came_from() {
    let t = Test::new()
        .env("OPENAI_API_KEY", "sk-live-0123456789abcdefWXYZ")
        .env("OLLAMA_HOST", "gpu-box:11434")
        .env("LOCALGPT_MODEL", "llama3.3");
    let shown = t
        .run(["config", "show"])
        .success()
        .get_output()
        .stdout
        .clone();
    let shown = text(&shown);
    assert!(!shown.contains("sk-live"), "{shown}");
    assert!(
        shown.contains("\"****WXYZ\"  # from $OPENAI_API_KEY"),
        "{shown}"
    );
    assert!(
        shown.contains("\"gpu-box:11434\"  # from $OLLAMA_HOST"),
        "{shown}"
    );
    assert!(
        shown.contains("model = \"llama3.3\"  # from $LOCALGPT_MODEL"),
        "{shown}"
    );
    t.run(["config", "get", "providers.openai.api_key"])
        .success()
        .stdout("****WXYZ\n");
    t.run(["--model", "gpt-4o-mini", "config", "get", "agent.model"])
        .success()
        .stdout("gpt-4o-mini\n");
}

#[test]
fn a_key_set_in_the_file_is_never_printed() {
    let t = Test::new();
    t.run([
        "config",
        "set",
        "providers.anthropic.api_key",
        "sk-ant-secret-0123456789",
    ])
    .success()
    .stdout(predicate::str::contains("sk-ant-secret").not());
    t.run(["-vvv", "config", "show"])
        .success()
        .stdout(predicate::str::contains("sk-ant-secret").not())
        .stderr(predicate::str::contains("sk-ant-secret").not());
    for entry in std::fs::read_dir(t.path("logs")).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!log.contains("sk-ant-secret"), "key in the log:\n{log}");
    }
}

#[test]
fn get_of_an_unset_setting_exits_1_and_of_an_unknown_one_exits_2() {
    let t = Test::new();
    t.run(["config", "get", "providers.openai.api_key"])
        .code(1)
        .stderr(predicate::str::contains("is not set"));
    t.run(["config", "get", "server.prot"])
        .code(2)
        .stderr(predicate::str::contains("did you mean `server.port`"));
}

#[test]
fn init_force_keeps_a_backup() {
    let t = with_config("[server]\nport = 4000\n");
    let err = refused(&t, &["config", "init"]);
    assert!(err.contains("--force"), "{err}");
    t.run(["config", "init", "--force"]).success();
    assert_eq!(t.read("config.toml.bak"), "[server]\nport = 4000\n");
    assert!(t.read("config.toml").contains("# port = 31327"));
}

#[test]
fn a_syntax_error_names_the_line() {
    let t = with_config("[server]\nport = = 3\n");
    let err = refused(&t, &["config", "show"]);
    assert!(err.contains("config.toml, line 2, column"), "{err}");
    assert!(err.contains("port = = 3"), "{err}");
    assert!(err.contains("localgpt config edit"), "{err}");
}

#[test]
fn a_wrong_type_names_the_line_and_key() {
    let t = with_config("[server]\nenabled = \"yes please\"\n");
    let err = refused(&t, &["config", "show"]);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("`server.enabled`"), "{err}");
}

#[test]
fn a_negative_port_names_the_line_and_key() {
    let t = with_config("# mine\n[server]\nport = -8080\n");
    let err = refused(&t, &["config", "show"]);
    assert!(err.contains("line 3, column 8"), "{err}");
    assert!(err.contains("`server.port`"), "{err}");
    assert!(err.contains("from 0 to 65535"), "{err}");
}

#[test]
fn an_unknown_provider_kind_lists_the_known_ones() {
    let t = with_config("[providers.mine]\nkind = \"gemini\"\nbase_url = \"http://x\"\n");
    let err = refused(&t, &["config", "show"]);
    assert!(err.contains("`providers.mine.kind`"), "{err}");
    assert!(
        err.contains("anthropic") && err.contains("claude-cli"),
        "{err}"
    );
}

#[test]
fn a_provider_without_a_kind_says_how_to_add_one() {
    let t = with_config("[providers.openrouter]\nbase_url = \"https://openrouter.ai/api/v1\"\n");
    let err = refused(&t, &["config", "show"]);
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("kind = \"openai\""), "{err}");
}

#[test]
fn a_broken_config_can_still_be_repaired_from_the_command_line() {
    let t = with_config("[server]\nport = -1\n");
    refused(&t, &["config", "show"]);
    t.run(["config", "set", "server.port", "9000"]).success();
    t.run(["config", "get", "server.port"])
        .success()
        .stdout("9000\n");
    t.run(["config", "path"]).success();
}

#[test]
fn set_refuses_unknown_keys_and_bad_values_without_touching_the_file() {
    let t = Test::new();
    t.run(["config", "show"]).success();
    let err = refused(&t, &["config", "set", "server.prot", "80"]);
    assert!(err.contains("no setting `server.prot`"), "{err}");
    assert!(err.contains("did you mean `server.port`"), "{err}");
    let err = refused(&t, &["config", "set", "server.port", "-1"]);
    assert!(err.contains("cannot set `server.port`"), "{err}");
    let err = refused(&t, &["config", "set", "server.port", "0"]);
    assert!(err.contains("port 0"), "{err}");
    let err = refused(&t, &["config", "set", "server.bind", "everywhere"]);
    assert!(err.contains("IP address"), "{err}");
    let err = refused(&t, &["config", "set", "logging.level", "chatty"]);
    assert!(err.contains("log level"), "{err}");
    let err = refused(&t, &["config", "set", "providers.openai.kind", "anthropic"]);
    assert!(err.contains("built-in provider"), "{err}");
    refused(&t, &["config", "set", "server..port", "1"]);
}

#[test]
fn unknown_keys_warn_with_their_line_but_do_not_stop_the_program() {
    let t = with_config("[server]\nprot = 80\n");
    t.run(["config", "get", "server.port"])
        .success()
        .stdout("31327\n")
        .stderr(predicate::str::contains(
            "line 2: unknown setting `server.prot`",
        ))
        .stderr(predicate::str::contains("did you mean `server.port`"));
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let t = Test::new().env("OPENAI_BASE_URL", "api.openai.com");
    t.run(["config", "show"])
        .code(2)
        .stderr(predicate::str::contains("OPENAI_BASE_URL"))
        .stderr(predicate::str::contains("http"));
}

#[test]
fn named_endpoints_are_configured_with_set() {
    let t = with_config(
        "[providers.lmstudio]\nkind = \"openai\"\nbase_url = \"http://localhost:1234/v1\"\n",
    );
    t.run([
        "config",
        "set",
        "providers.lmstudio.api_key_env",
        "LMSTUDIO_KEY",
    ])
    .success();
    let t = t.env("LMSTUDIO_KEY", "lm-0123456789abcdefghij");
    t.run(["config", "get", "providers.lmstudio.api_key"])
        .success()
        .stdout("****ghij\n");
}

#[cfg(unix)]
#[test]
fn edit_saves_a_valid_result_and_refuses_an_invalid_one() {
    let t = Test::new();
    t.run(["config", "show"]).success();
    // Scripted "editors" that change the file they are given.
    let good = t.scratch().join("good-editor.sh");
    std::fs::write(
        &good,
        "#!/bin/sh\nsed -i 's/^# model = .*/model = \"gpt-4o\"/' \"$1\"\n",
    )
    .unwrap();
    let bad = t.scratch().join("bad-editor.sh");
    std::fs::write(&bad, "#!/bin/sh\nprintf 'port = = 1\\n' >> \"$1\"\n").unwrap();
    for script in [&good, &bad] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let t = t.env("EDITOR", bad.to_str().unwrap());
    let err = refused(&t, &["config", "edit"]);
    assert!(err.contains("port = = 1"), "{err}");
    assert!(t.read("config.toml.rejected").ends_with("port = = 1\n"));
    let t = t.env("VISUAL", good.to_str().unwrap());
    t.run(["config", "edit"])
        .success()
        .stdout(predicate::str::contains("saved"));
    t.run(["config", "get", "agent.model"])
        .success()
        .stdout("gpt-4o\n");
    // The draft copy is cleaned up.
    let leftovers: Vec<_> = std::fs::read_dir(t.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".config.edit"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn parallel_config_sets_all_keep_their_change() {
    let t = Test::new();
    t.run(["config", "init"]).success();
    let children: Vec<_> = (0..20)
        .map(|i| {
            t.std_command()
                .args([
                    "config",
                    "set",
                    &format!("models.model-{i}.context_window"),
                    &format!("{}", 9000 + i),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let config = t.read("config.toml");
    for i in 0..20 {
        assert!(
            config.contains(&format!("context_window = {}", 9000 + i)),
            "p{i} lost:\n{config}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
