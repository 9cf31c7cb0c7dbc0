//! What MCP adds to a tool call (goal: under 2 ms): `memory_get` of a small note run as
//! the built-in tool, and the same tool called through MCP — LocalGPT's own server
//! (`localgpt mcp serve`, already running) over stdio, as the model's call would go — so
//! the difference is the protocol and the pipe, not the work. Starting a server (spawn,
//! handshake, tool list) is reported too: LocalGPT's own, and the in-tree Python one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use localgpt::agent::tools::{Registry, ToolContext};
use localgpt::config::{Config, McpServerConfig};
use localgpt::home::Home;
use localgpt::mcp::Hub;
use localgpt::policy::Policy;
use serde_json::json;

fn server(command: &str, args: &[&str], env: &[(&str, String)]) -> McpServerConfig {
    McpServerConfig {
        command: Some(command.to_string()),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..McpServerConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::at(dir.path().join("home"));
    home.ensure("").expect("home");
    std::fs::write(
        home.memory_file(),
        "# Memory\n\nThe kestrel box is on the north wall.\n",
    )
    .expect("a note");
    let exe = env!("CARGO_BIN_EXE_localgpt");
    let home_env = [("LOCALGPT_HOME", home.root().display().to_string())];
    let mut config = Config::default();
    config
        .mcp
        .servers
        .insert("self".into(), server(exe, &["mcp", "serve"], &home_env));
    let fault = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mcp/fault_server.py"
    );
    config.mcp.servers.insert(
        "fault".into(),
        server(
            "python3",
            &[fault],
            &[("FAULT_MARKS", dir.path().display().to_string())],
        ),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Starting: a fresh hub each time, so each start spawns the server.
    for name in ["self", "fault"] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let hub = Hub::new(&config);
            let started = Instant::now();
            runtime
                .block_on(hub.connection(hub.server(name).expect("configured")))
                .expect("the server starts");
            times.push(started.elapsed());
            hub.shutdown();
        }
        times.sort();
        println!(
            "starting `{name}` (spawn, handshake, tool list): median {:.1} ms, min {:.1} ms",
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0
        );
    }

    let hub = Arc::new(Hub::new(&config));
    runtime
        .block_on(hub.connection(hub.server("self").expect("configured")))
        .expect("the server starts");
    let context = ToolContext {
        home: home.clone(),
        config: config.clone(),
        policy: Policy::new(&home, dir.path(), &config.tools),
        model: "bench".into(),
        memory: Default::default(),
        embedder: Default::default(),
        http: Default::default(),
    };
    let builtin = Registry::builtin().get("memory_get").expect("memory_get");
    let args = json!({"path": "MEMORY.md"});
    let mut group = c.benchmark_group("memory_get");
    group.bench_function("built-in tool", |b| {
        b.iter(|| {
            let text = runtime
                .block_on(builtin.run(&args, &context))
                .expect("memory_get");
            assert!(text.contains("kestrel"));
        })
    });
    group.bench_function("through MCP (stdio, server running)", |b| {
        b.iter(|| {
            let result = runtime
                .block_on(hub.call("self", "memory_get", args.clone()))
                .expect("the call");
            assert_ne!(result.is_error, Some(true));
        })
    });
    group.finish();
    hub.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(100).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
