//! What the kernel sandbox adds to one short command (goal: under 5 ms): `true` through
//! [`run_command`] — the one function the model's `bash` tool, `!` at the prompt and
//! scripts' `sh()` all use — unconfined, confined (Landlock, seccomp, capabilities), with
//! the network off (a user and network namespace), and started from a folder that holds
//! protected places (a mount namespace covering them). The end-to-end `!true` at the
//! prompt is measured with hyperfine (see docs/development.md).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::config::{SandboxMode, ToolsConfig};
use localgpt::home::Home;
use localgpt::policy::Policy;
use localgpt::sandbox::run_command;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::at(dir.path().join("home"));
    home.ensure("").expect("home");
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).expect("project");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let policy = |cwd: &std::path::Path, sandbox: SandboxMode, network: bool| {
        let tools = ToolsConfig {
            sandbox,
            bash_network: network,
            ..ToolsConfig::default()
        };
        Policy::new(&home, cwd, &tools)
    };
    let cases = [
        ("unconfined", policy(&project, SandboxMode::Off, true)),
        ("sandboxed", policy(&project, SandboxMode::Auto, true)),
        (
            "sandboxed, network off",
            policy(&project, SandboxMode::Auto, false),
        ),
        (
            "sandboxed, from a folder holding LocalGPT's home",
            policy(dir.path(), SandboxMode::Auto, true),
        ),
    ];
    let mut group = c.benchmark_group("command `true`");
    for (name, policy) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let result = runtime
                    .block_on(run_command("true", policy, Duration::from_secs(10), true))
                    .expect("the command runs");
                assert_eq!(result.status, 0, "{}", result.stdout);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
