//! Memory as a library: incremental indexing, ranking, hostile queries, freshness and
//! repair — against real files in a temporary workspace.

use std::fs;
use std::path::{Path, PathBuf};

use localgpt::config::schema::MemoryConfig;
use localgpt::home::Home;
use localgpt::memory::{Freshness, Memory, SearchHit};

struct Fixture {
    _dir: tempfile::TempDir,
    home: Home,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        home.ensure("").unwrap();
        fs::write(home.memory_file(), "# Memory\n").unwrap();
        Fixture { _dir: dir, home }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.home.workspace().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn memory(&self) -> Memory {
        self.memory_with(MemoryConfig::default())
    }

    fn memory_with(&self, config: MemoryConfig) -> Memory {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        Memory::open(&self.home, &config, today).unwrap()
    }
}

fn paths(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.path.as_str()).collect()
}

fn reindex(memory: &mut Memory) -> localgpt::memory::ReindexReport {
    memory.reindex(false, &mut |_, _| {}).unwrap()
}

#[test]
fn reindex_is_incremental_for_add_change_delete_and_rename() {
    let f = Fixture::new();
    f.write("memory/2026-11-23.md", "# Monday\nbought oat milk\n");
    f.write("memory/2026-11-24.md", "# Tuesday\nmet Ana\n");
    let mut memory = f.memory();
    let first = reindex(&mut memory);
    assert_eq!((first.added, first.changed, first.removed), (3, 0, 0));

    let nothing = reindex(&mut memory);
    assert!(!nothing.changed_anything());
    assert_eq!(nothing.unchanged, 3);

    f.write("memory/2026-11-24.md", "# Tuesday\nmet Ana and Bo\n");
    let changed = reindex(&mut memory);
    assert_eq!((changed.added, changed.changed, changed.removed), (0, 1, 0));
    assert_eq!(
        paths(&memory.search("Bo", 5, Freshness::Quick).unwrap()),
        ["memory/2026-11-24.md"]
    );

    fs::rename(f.path("memory/2026-11-23.md"), f.path("memory/monday.md")).unwrap();
    let renamed = reindex(&mut memory);
    assert_eq!((renamed.added, renamed.removed), (1, 1));
    assert_eq!(
        paths(&memory.search("oat milk", 5, Freshness::Quick).unwrap()),
        ["memory/monday.md"]
    );

    fs::remove_file(f.path("memory/monday.md")).unwrap();
    let deleted = reindex(&mut memory);
    assert_eq!(deleted.removed, 1);
    assert!(
        memory
            .search("oat", 5, Freshness::Quick)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_touched_but_unchanged_file_is_not_rechunked() {
    let f = Fixture::new();
    f.write("memory/a.md", "stable text\n");
    let mut memory = f.memory();
    reindex(&mut memory);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(f.path("memory/a.md"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let report = reindex(&mut memory);
    assert_eq!(
        (report.changed, report.chunks_written, report.unchanged),
        (0, 0, 2)
    );
}

#[test]
fn a_heading_match_outranks_a_passing_mention() {
    let f = Fixture::new();
    f.write(
        "memory/passing.md",
        "# Groceries\nWe talked about many things today, the weather, lunch, and kubernetes once, \
         then went back to the shopping list and other errands for the week.\n",
    );
    f.write(
        "memory/heading.md",
        "# Kubernetes\nThe cluster runs three nodes.\n",
    );
    let mut memory = f.memory();
    let hits = memory.search("kubernetes", 5, Freshness::Full).unwrap();
    assert_eq!(paths(&hits), ["memory/heading.md", "memory/passing.md"]);
    assert!(hits[0].score > hits[1].score);
    assert_eq!(hits[0].heading, "Kubernetes");
}

#[test]
fn stemming_finds_other_forms_of_a_word() {
    let f = Fixture::new();
    f.write("memory/a.md", "She was running the deployments.\n");
    let mut memory = f.memory();
    for query in ["run", "runs", "deployment", "DEPLOYMENT"] {
        let hits = memory.search(query, 5, Freshness::Full).unwrap();
        assert_eq!(paths(&hits), ["memory/a.md"], "{query}");
    }
    let hits = memory.search("deplo*", 5, Freshness::Full).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].snippet_marked("[", "]").contains("[deployments]"));
}

#[test]
fn phrases_match_only_words_in_order() {
    let f = Fixture::new();
    f.write("memory/a.md", "the release plan is ready\n");
    f.write("memory/b.md", "plan the release\n");
    let mut memory = f.memory();
    let hits = memory
        .search("\"release plan\"", 5, Freshness::Full)
        .unwrap();
    assert_eq!(paths(&hits), ["memory/a.md"]);
}

#[test]
fn any_query_is_valid() {
    let f = Fixture::new();
    f.write(
        "memory/a.md",
        "# Notes\nC++ and C# are languages; email me at ana@example.com\n",
    );
    let mut memory = f.memory();
    let long_word = "x".repeat(10_000);
    let long_text = "notes ".repeat(500);
    let hostile = [
        "",
        " ",
        "*",
        "**",
        "\"",
        "\"\"",
        "\"unclosed",
        "a\"b\"c",
        "'",
        "-",
        "--x",
        "-x",
        "+x",
        "a:b",
        "heading:notes",
        "text:",
        ":",
        "AND",
        "OR",
        "NOT",
        "a AND",
        "OR b",
        "NOT a",
        "NEAR",
        "NEAR(a b)",
        "NEAR(a b, 2)",
        "(",
        ")",
        "(a",
        "a)",
        "^a",
        "a^",
        "{a b}",
        "[x]",
        "c++",
        "c#",
        "ana@example.com",
        "a*b",
        "*a",
        "a**",
        "%",
        "_",
        "\\",
        "\\\"",
        ";",
        "'; DROP TABLE files; --",
        "\0",
        "a\0b",
        "🙂",
        "🙂 notes",
        "emoji🙂notes",
        "日本語",
        "ﬁ",
        "\u{200b}",
        "\t\n",
        &long_word,
        &long_text,
    ];
    for query in hostile {
        let result = memory.search(query, 5, Freshness::Quick);
        assert!(result.is_ok(), "{query:?}: {:?}", result.err());
    }
    // And they mean what they say.
    assert_eq!(memory.search("c++", 5, Freshness::Quick).unwrap().len(), 1);
    assert_eq!(
        memory
            .search("ana@example.com", 5, Freshness::Quick)
            .unwrap()
            .len(),
        1
    );
    assert!(memory.search("🙂", 5, Freshness::Quick).unwrap().is_empty());
}

#[test]
fn quick_freshness_sees_appends_new_files_and_changed_results() {
    let f = Fixture::new();
    f.write(
        "memory/old.md",
        "# Old\nthe password manager is 1Password\n",
    );
    let mut memory = f.memory();
    reindex(&mut memory);

    // An append to a file the assistant writes to (today's log).
    f.write("memory/2026-11-24.md", "# Today\nswitched to Bitwarden\n");
    let hits = memory.search("bitwarden", 5, Freshness::Quick).unwrap();
    assert_eq!(paths(&hits), ["memory/2026-11-24.md"]);

    // A new file in a memory folder.
    f.write("memory/new.md", "zebra facts\n");
    assert_eq!(
        memory.search("zebra", 5, Freshness::Quick).unwrap().len(),
        1
    );

    // A result whose file changed in place since indexing is re-checked.
    let old = f.path("memory/old.md");
    fs::write(&old, "# Old\nnothing to see\n").unwrap();
    assert!(
        memory
            .search("1password", 5, Freshness::Quick)
            .unwrap()
            .is_empty()
    );

    // A result whose file vanished is dropped.
    fs::remove_file(f.path("memory/new.md")).unwrap();
    assert!(
        memory
            .search("zebra", 5, Freshness::Quick)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn searching_never_modifies_a_markdown_file() {
    let f = Fixture::new();
    f.write("memory/a.md", "# A\ncontent\n");
    let before: Vec<_> = [f.path("memory/a.md"), f.home.memory_file()]
        .iter()
        .map(|p| {
            (
                fs::read(p).unwrap(),
                fs::metadata(p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    let mut memory = f.memory();
    memory.reindex(true, &mut |_, _| {}).unwrap();
    memory.search("content", 5, Freshness::Full).unwrap();
    let after: Vec<_> = [f.path("memory/a.md"), f.home.memory_file()]
        .iter()
        .map(|p| {
            (
                fs::read(p).unwrap(),
                fs::metadata(p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    assert_eq!(before, after);
}

#[test]
fn non_utf8_files_are_indexed_with_one_warning() {
    let f = Fixture::new();
    let mut bytes = b"# Latin1\ncaf".to_vec();
    bytes.extend([0xe9, b' ', b'o', b'k', b'\n']);
    fs::create_dir_all(f.path("memory")).unwrap();
    fs::write(f.path("memory/latin1.md"), bytes).unwrap();
    let mut memory = f.memory();
    let report = reindex(&mut memory);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("memory/latin1.md"));
    assert!(report.warnings[0].contains("UTF-8"));
    assert_eq!(
        memory.search("latin1", 5, Freshness::Quick).unwrap().len(),
        1
    );
    assert!(reindex(&mut memory).warnings.is_empty(), "warned twice");
}

#[test]
fn huge_files_are_capped_and_say_so() {
    let f = Fixture::new();
    let line = "filler words for a very large file\n";
    let mut text = String::from("# Big\nneedle at the start\n");
    while text.len() < 3 * 1024 {
        text.push_str(line);
    }
    text.push_str("haystack at the end\n");
    f.write("memory/big.md", &text);
    let config = MemoryConfig {
        max_file_kb: 1,
        ..MemoryConfig::default()
    };
    let mut memory = f.memory_with(config);
    let report = reindex(&mut memory);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("memory/big.md") && w.contains("max_file_kb"))
    );
    assert_eq!(
        memory.search("needle", 5, Freshness::Quick).unwrap().len(),
        1
    );
    assert!(
        memory
            .search("haystack", 5, Freshness::Quick)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_damaged_index_is_rebuilt_with_a_notice() {
    let f = Fixture::new();
    f.write("memory/a.md", "recoverable fact\n");
    fs::write(f.home.index_db(), vec![0x42u8; 8192]).unwrap();
    let mut memory = f.memory();
    let notices = memory.take_notices();
    assert!(notices.iter().any(|n| n.contains("damaged")), "{notices:?}");
    assert_eq!(
        memory
            .search("recoverable", 5, Freshness::Quick)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_deleted_index_is_rebuilt_from_the_files() {
    let f = Fixture::new();
    f.write("memory/a.md", "durable fact\n");
    {
        let mut memory = f.memory();
        reindex(&mut memory);
    }
    fs::remove_file(f.home.index_db()).unwrap();
    let mut memory = f.memory();
    assert_eq!(
        memory.search("durable", 5, Freshness::Quick).unwrap().len(),
        1
    );
}

#[test]
fn extra_paths_bring_in_outside_folders() {
    let f = Fixture::new();
    let notes: &Path = &f.home.root().join("../notes");
    fs::create_dir_all(notes.join("work")).unwrap();
    fs::write(notes.join("work/plan.md"), "# Plan\nquarterly roadmap\n").unwrap();
    let config = MemoryConfig {
        extra_paths: vec![notes.to_string_lossy().into_owned()],
        ..MemoryConfig::default()
    };
    let mut memory = f.memory_with(config);
    let hits = memory.search("roadmap", 5, Freshness::Full).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].path.ends_with("notes/work/plan.md"),
        "{}",
        hits[0].path
    );
    assert_eq!((hits[0].start_line, hits[0].end_line), (1, 2));
}

#[test]
fn a_full_search_with_nothing_changed_writes_nothing_to_the_index() {
    let f = Fixture::new();
    f.write("memory/a.md", "# A\nsomething to find\n");
    let mut memory = f.memory();
    reindex(&mut memory);
    memory.search("find", 5, Freshness::Full).unwrap();
    let index = f.home.index_db();
    let mut wal = index.clone().into_os_string();
    wal.push("-wal");
    let state = || {
        [index.clone(), PathBuf::from(&wal)]
            .iter()
            .map(|p| {
                fs::metadata(p)
                    .ok()
                    .map(|m| (fs::read(p).unwrap(), m.modified().unwrap()))
            })
            .collect::<Vec<_>>()
    };
    let before = state();
    for _ in 0..3 {
        assert_eq!(memory.search("find", 5, Freshness::Full).unwrap().len(), 1);
    }
    drop(memory);
    let mut again = f.memory();
    assert_eq!(again.search("find", 5, Freshness::Full).unwrap().len(), 1);
    // The reopened connection checkpoints nothing and writes nothing either.
    let after: Vec<_> = state().into_iter().take(1).collect();
    assert_eq!(after, before.into_iter().take(1).collect::<Vec<_>>());
}

#[test]
fn a_file_put_back_as_it_was_after_a_single_file_refresh_is_read_again() {
    // The index remembers the last full walk in one number; a file indexed on its own
    // since (a note written, a changed result) must not let that number stand for the
    // index, or a file restored to its old size and time would never be read again.
    let f = Fixture::new();
    let path = f.path("memory/a.md");
    f.write("memory/a.md", "alpha beta\n");
    let mut memory = f.memory();
    reindex(&mut memory);
    let old_time = fs::metadata(&path).unwrap().modified().unwrap();

    f.write("memory/a.md", "gamma delt\n");
    let later = old_time + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    memory.note_written(&path, None).unwrap();
    assert_eq!(
        memory.search("gamma", 5, Freshness::Quick).unwrap().len(),
        1
    );

    f.write("memory/a.md", "alpha beta\n");
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old_time)
        .unwrap();
    assert_eq!(
        paths(&memory.search("alpha", 5, Freshness::Full).unwrap()),
        ["memory/a.md"]
    );
    assert!(
        memory
            .search("gamma", 5, Freshness::Full)
            .unwrap()
            .is_empty()
    );
}

/// The daemon and a command bring the same index up to date at the same moment: each
/// waits for the other's write rather than failing with "database is locked" (a write
/// begun on what the other has since changed is refused at once by SQLite, without
/// waiting, so the write lock is taken before anything is read).
#[test]
fn two_indexers_at_the_same_moment_both_finish() {
    let f = Fixture::new();
    let (mut first, mut second) = (f.memory(), f.memory());
    for round in 0..20 {
        f.write(
            "memory/notes.md",
            &format!("# Round {round}\nchanged again\n"),
        );
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            for memory in [&mut first, &mut second] {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    memory
                        .reindex(false, &mut |_, _| {})
                        .unwrap_or_else(|err| panic!("round {round}: {err}"));
                });
            }
        });
    }
    let hits = first.search("changed", 5, Freshness::Quick).unwrap();
    assert_eq!(paths(&hits), ["memory/notes.md"]);
}
