use super::*;

fn vault(dir: &Path, passphrase: &str) -> Vault {
    Vault::with_passphrase(dir.join(STORE_FILE), passphrase)
}

#[test]
fn secrets_set_are_read_back_listed_and_removed_and_the_file_holds_none_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = vault(dir.path(), "correct horse");
    assert!(!store.exists());
    assert_eq!(store.names().unwrap(), Vec::<String>::new());
    store.set("openai", "sk-proj-0123456789abcdef").unwrap();
    store.set("telegram", "123456:ABC-DEF").unwrap();
    assert!(store.exists());
    // Another process: the file, not the memory.
    let again = vault(dir.path(), "correct horse");
    assert_eq!(again.get("openai").unwrap(), "sk-proj-0123456789abcdef");
    assert_eq!(again.names().unwrap(), ["openai", "telegram"]);
    let text = std::fs::read_to_string(store.path()).unwrap();
    for clear in [
        "sk-proj",
        "0123456789abcdef",
        "123456:ABC",
        "openai",
        "telegram",
    ] {
        assert!(!text.contains(clear), "{clear} in {text}");
    }
    assert!(matches!(
        again.key_source().unwrap(),
        Some(KeySource::Passphrase { .. })
    ));
    // Nothing to change: the file is not resealed (a new nonce would rewrite it all).
    let sealed = std::fs::read_to_string(store.path()).unwrap();
    again.set("telegram", "123456:ABC-DEF").unwrap();
    assert!(!again.remove("absent").unwrap());
    assert_eq!(std::fs::read_to_string(store.path()).unwrap(), sealed);
    assert!(again.remove("openai").unwrap());
    assert!(!again.remove("openai").unwrap());
    let third = vault(dir.path(), "correct horse");
    assert!(matches!(
        third.get("openai"),
        Err(SecretsError::Missing { .. })
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_wrong_passphrase_or_a_changed_file_opens_nothing_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    vault(dir.path(), "right").set("key", "value").unwrap();
    let path = dir.path().join(STORE_FILE);
    let before = std::fs::read_to_string(&path).unwrap();
    let wrong = vault(dir.path(), "wrong");
    assert!(matches!(
        wrong.get("key"),
        Err(SecretsError::WrongKey { .. })
    ));
    assert!(matches!(
        wrong.set("other", "x"),
        Err(SecretsError::WrongKey { .. })
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    // One character of the sealed part, or of the header bound to it.
    let mut sealed: serde_json::Value = serde_json::from_str(&before).unwrap();
    for (field, changed) in [("sealed", None), ("salt", Some("AAAAAAAAAAAAAAAAAAAAAA=="))] {
        let mut copy = sealed.clone();
        let value = copy[field].as_str().unwrap().to_string();
        let changed = changed.map(String::from).unwrap_or_else(|| {
            let mut chars: Vec<char> = value.chars().collect();
            chars[4] = if chars[4] == 'A' { 'B' } else { 'A' };
            chars.into_iter().collect()
        });
        copy[field] = serde_json::Value::String(changed);
        std::fs::write(&path, copy.to_string()).unwrap();
        let err = vault(dir.path(), "right").get("key").unwrap_err();
        assert!(
            matches!(err, SecretsError::WrongKey { .. }),
            "{field}: {err}"
        );
    }
    sealed["localgpt_secrets"] = 7.into();
    std::fs::write(&path, sealed.to_string()).unwrap();
    let err = vault(dir.path(), "right").get("key").unwrap_err();
    assert!(err.to_string().contains("version 7"), "{err}");
    std::fs::write(&path, "not json").unwrap();
    let err = vault(dir.path(), "right").get("key").unwrap_err();
    assert!(matches!(err, SecretsError::Malformed { .. }), "{err}");
}

#[test]
fn names_are_checked_and_references_recognised() {
    for good in ["openai", "TELEGRAM_TOKEN", "matrix.home-1"] {
        assert!(check_name(good).is_ok(), "{good}");
    }
    for bad in ["", "a b", "../x", "ключ", &"x".repeat(65)] {
        assert!(check_name(bad).is_err(), "{bad}");
    }
    assert_eq!(reference("secret:openai"), Some("openai"));
    assert_eq!(reference("sk-secret:x"), None);
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        vault(dir.path(), "p").set("a b", "x"),
        Err(SecretsError::BadName { .. })
    ));
}

#[test]
fn two_writers_both_keep_their_secret() {
    let dir = tempfile::tempdir().unwrap();
    vault(dir.path(), "p").set("first", "1").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || vault(&root, "p").set(&format!("k{i}"), "v").unwrap())
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        vault(dir.path(), "p").names().unwrap(),
        ["first", "k0", "k1", "k2", "k3"]
    );
}
