//! Skill discovery, which runs before every REPL prompt (for completion) and every turn
//! (for the system prompt): the six built-ins plus 30 of the user's own, Rhai and
//! SKILL.md. Goal: well under a millisecond, so nobody feels it.

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::config::Config;
use localgpt::home::Home;
use localgpt::skills::Skills;

fn discovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::at(dir.path());
    home.ensure("").expect("home");
    let skills = home.workspace().join("skills");
    for i in 0..15 {
        let folder = skills.join(format!("prompt-{i}"));
        std::fs::create_dir_all(&folder).expect("folder");
        std::fs::write(
            folder.join("SKILL.md"),
            format!(
                "---\nname: prompt-{i}\ndescription: >\n  A prompt skill number {i} with a folded\n  description.\nmetadata: {{\"openclaw\": {{\"requires\": {{\"bins\": [\"sh\"]}}}}}}\n---\n\n# Instructions\n\n{}",
                "Do the thing carefully.\n".repeat(40)
            ),
        )
        .expect("write");
        std::fs::write(
            skills.join(format!("rhai-{i}.rhai")),
            format!(
                "//! description: A Rhai skill number {i}.\n//! usage: /rhai-{i} X\nimport \"text\" as text;\n{}",
                "let x = ask(`say ${args}`, #{ stream: true });\nif x == \"\" { exit(1); }\n".repeat(20)
            ),
        )
        .expect("write");
    }
    let config = Config::default();
    let found = Skills::discover(&home, &config);
    assert_eq!(found.all().len(), 36);
    c.bench_function("skills: discover 6 built-in + 30 own", |b| {
        b.iter(|| Skills::discover(&home, &config))
    });
    c.bench_function("skills: system prompt section", |b| {
        b.iter(|| found.prompt_section(4000))
    });
}

criterion_group!(benches, discovery);
criterion_main!(benches);
