use super::*;
use discover::unmet;
use front_matter::Requirements;

fn home() -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path().join("home"));
    home.ensure("").unwrap();
    (dir, home)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn built_ins_parse_cleanly_and_say_what_they_do() {
    for skill in builtin::skills() {
        assert_eq!(skill.problem, None, "{}", skill.name);
        assert_eq!(skill.syntax_problem(), None, "{}", skill.name);
        assert!(skill.description.len() > 20, "{}", skill.name);
        assert!(skill.usage.is_some(), "{}", skill.name);
    }
}

#[test]
fn the_most_specific_place_wins_and_says_what_it_replaced() {
    let (dir, home) = home();
    let extra = dir.path().join("extra");
    write(
        &extra.join("commit.rhai"),
        "//! description: extra commit\n",
    );
    write(
        &extra.join("only-extra/SKILL.md"),
        "---\ndescription: x\n---\n",
    );
    write(
        &home.workspace().join("skills/commit/skill.rhai"),
        "//! description: my commit\n",
    );
    // A folder with both: the Rhai file is the skill.
    write(
        &home.workspace().join("skills/both/skill.rhai"),
        "//! description: rhai wins\n",
    );
    write(
        &home.workspace().join("skills/both/SKILL.md"),
        "---\ndescription: md loses\n---\n",
    );
    write(&home.workspace().join("skills/notes.txt"), "not a skill");
    let mut config = Config::default();
    config.skills.extra_paths = vec![extra.display().to_string()];
    let skills = Skills::discover(&home, &config);
    let commit = skills.get("commit").unwrap();
    assert_eq!(commit.description, "my commit");
    assert_eq!(commit.origin, Origin::Workspace);
    assert_eq!(commit.replaces, Some("extra"));
    assert_eq!(skills.get("only-extra").unwrap().origin, Origin::Extra);
    assert_eq!(skills.get("both").unwrap().kind, Kind::Rhai);
    assert!(skills.get("notes").is_none());
    let names: Vec<&str> = skills.all().iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn names_come_from_the_header_and_are_checked() {
    let skill = describe(
        "file-name",
        Kind::Rhai,
        Origin::Workspace,
        "//! name: better\n//! description: d\n".into(),
    );
    assert_eq!(skill.name, "better");
    let skill = describe(
        "file",
        Kind::Rhai,
        Origin::Workspace,
        "//! name: two words\n".into(),
    );
    assert!(skill.problem.unwrap().contains("two words"));
    assert_eq!(skill.name, "file", "listed under the file's name");
}

#[test]
fn requirements_decide_availability() {
    let on_path = Requirements {
        bins: vec!["sh".into()],
        ..Requirements::default()
    };
    assert_eq!(unmet(&on_path), None);
    let missing = Requirements {
        bins: vec!["sh".into(), "no-such-program-xyz".into()],
        ..Requirements::default()
    };
    assert_eq!(
        unmet(&missing).as_deref(),
        Some("needs no-such-program-xyz on PATH")
    );
    let any = Requirements {
        any_bins: vec!["no-such-program-xyz".into(), "sh".into()],
        ..Requirements::default()
    };
    assert_eq!(unmet(&any), None);
    let env = Requirements {
        env: vec!["LOCALGPT_SURELY_UNSET_VARIABLE".into()],
        ..Requirements::default()
    };
    assert!(
        unmet(&env)
            .unwrap()
            .contains("LOCALGPT_SURELY_UNSET_VARIABLE")
    );
    let os = Requirements {
        os: vec!["plan9".into()],
        ..Requirements::default()
    };
    assert_eq!(unmet(&os).as_deref(), Some("it runs on plan9"));
}

#[test]
fn the_prompt_section_names_every_model_skill_within_its_cap() {
    let (_dir, home) = home();
    for i in 0..40 {
        write(
            &home.workspace().join(format!("skills/s{i:02}.rhai")),
            &format!("//! description: skill number {i} {}\n", "é".repeat(50)),
        );
    }
    write(
        &home.workspace().join("skills/hidden/SKILL.md"),
        "---\ndescription: hidden\ndisable-model-invocation: true\n---\n",
    );
    let skills = Skills::discover(&home, &Config::default());
    let available = skills.for_model().count();
    assert_eq!(available, 46);
    // Roomy: every description whole.
    let roomy = skills.prompt_section(100_000);
    assert!(roomy.contains(&format!("- s07: skill number 7 {}", "é".repeat(50))));
    // Tight: every name still there, descriptions shortened alike, within the cap.
    let tight = skills.prompt_section(2000);
    assert!(tight.chars().count() <= 2000, "{}", tight.chars().count());
    for skill in skills.for_model() {
        assert!(
            tight.contains(&format!("- {}", skill.name)),
            "{} missing",
            skill.name
        );
    }
    assert!(tight.contains("- s39: "), "{tight}");
    assert!(!tight.contains("hidden"));
    // Too tight for descriptions: the names alone, all of them.
    let names = skills.prompt_section(100);
    assert!(
        names.contains("- s39\n") && names.contains("- commit\n"),
        "{names}"
    );
    assert!(
        skills
            .find("comit")
            .unwrap_err()
            .to_string()
            .contains("`commit`")
    );
}
