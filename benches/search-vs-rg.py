#!/usr/bin/env python3
"""`localgpt memory search` as a whole process against ripgrep over the same Markdown,
and a hybrid search (keywords + the local embedding model) as a whole process.

The corpus is the README.md of every crate this project builds with (the cargo
registry's sources, sorted by name): the first 355 of them, and the same 355 copied ten
times into ten folders (3,550 files). Each round runs ten queries with each tool, one
process per query, the tools interleaved and their order alternating; the medians of
the rounds are reported. rg runs as `rg -i -l -F QUERY FOLDER` (case-insensitive fixed
string, file names only: the least work it can do, with no index). LocalGPT's index is
built once beforehand; every search checks every file for changes, as always.
Also checked: a search that finds nothing changed writes nothing to the index.

    cargo build --release
    python3 benches/search-vs-rg.py target/release/localgpt [--models ~/.localgpt/models]

With `--models DIR` (a folder holding all-minilm-l6-v2/, as `localgpt models install
minilm` leaves it), a hybrid search of the first 40 READMEs is timed as well (goal:
under 25 ms and 60 MB peak per search process).
"""
import glob, os, shutil, statistics, subprocess, sys, tempfile, time

QUERIES = ["serde", "async", "license", "unsafe", "example", "performance",
           "thread", "feature", "macro", "benchmark"]
ROUNDS = 15

args = sys.argv[1:]
models = None
if "--models" in args:
    at = args.index("--models")
    models = os.path.abspath(os.path.expanduser(args[at + 1]))
    del args[at:at + 2]
binary = os.path.abspath(args[0])
rg = shutil.which("rg")
if not rg:
    sys.exit("ripgrep is needed (apt install ripgrep)")

cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
readmes = sorted(p for p in glob.glob(f"{cargo_home}/registry/src/*/*/README.md"))
readmes = readmes[:355]
work = tempfile.mkdtemp(prefix="localgpt-search-bench-")


def run(command, env=None):
    """Runs one process; returns (seconds, peak resident KB)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss


def home_for(folder, embeddings):
    home = f"{work}/home-{os.path.basename(folder)}-{embeddings}"
    os.makedirs(f"{home}/workspace", exist_ok=True)
    with open(f"{home}/config.toml", "w") as f:
        f.write(f'[memory]\nextra_paths = ["{folder}"]\nembeddings = "{embeddings}"\n')
    if embeddings != "none":
        os.symlink(models, f"{home}/models")
    env = dict(os.environ, LOCALGPT_HOME=home)
    subprocess.run([binary, "memory", "reindex"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return home, env


def index_state(home):
    state = []
    for suffix in ["", "-wal"]:
        try:
            meta = os.stat(f"{home}/index.sqlite{suffix}")
            state.append((meta.st_size, meta.st_mtime_ns))
        except FileNotFoundError:
            state.append(None)
    return state


def compare(label, folder, files):
    home, env = home_for(folder, "none")
    tools = {
        "localgpt memory search": lambda q: [binary, "memory", "search", q],
        "rg -i -l -F": lambda q: [rg, "-i", "-l", "-F", q, folder],
    }
    for make in tools.values():  # warm the page cache and the index
        for query in QUERIES:
            run(make(query), env)
    before = index_state(home)
    totals = {name: [] for name in tools}
    peaks = {name: 0 for name in tools}
    for round_ in range(ROUNDS):
        order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
        for name in order:
            total = 0.0
            for query in QUERIES:
                seconds, peak = run(tools[name](query), env)
                total += seconds
                peaks[name] = max(peaks[name], peak)
            totals[name].append(total)
    after = index_state(home)
    mine, theirs = (statistics.median(totals[name]) for name in tools)
    print(f"{label}: {files} files, {sum(os.path.getsize(p) for p in glob.glob(folder + '/**/*.md', recursive=True)) / 1e6:.1f} MB, "
          f"10 queries, median of {ROUNDS} rounds")
    for name in tools:
        print(f"  {name:24} {statistics.median(totals[name]) * 1000:7.1f} ms "
              f"({statistics.median(totals[name]) * 100:.1f} ms a search, peak {peaks[name] / 1024:.1f} MB)")
    print(f"  ratio: localgpt takes {mine / theirs:.2f}× rg's time; "
          f"index {'unchanged' if before == after else 'WRITTEN'} by {ROUNDS * len(QUERIES)} searches")


def hybrid():
    folder = f"{work}/hybrid"
    os.makedirs(folder)
    for path in readmes[:40]:
        shutil.copy(path, f"{folder}/{os.path.basename(os.path.dirname(path))}.md")
    home, env = home_for(folder, "local")
    keyword_home, keyword_env = home_for(folder, "none")
    times = {"hybrid": [], "keyword": []}
    peaks = {"hybrid": 0, "keyword": 0}
    for query in QUERIES:  # warm
        run([binary, "memory", "search", query], env)
    for round_ in range(3):
        for query in QUERIES:
            for mode, environment in (("hybrid", env), ("keyword", keyword_env)):
                seconds, peak = run([binary, "memory", "search", query], environment)
                times[mode].append(seconds)
                peaks[mode] = max(peaks[mode], peak)
    print(f"hybrid search, 40 READMEs embedded, one process per query ({len(times['hybrid'])} each):")
    for mode in times:
        print(f"  {mode:8} median {statistics.median(times[mode]) * 1000:6.1f} ms, "
              f"peak {peaks[mode] / 1024:.1f} MB")


try:
    small = f"{work}/r355"
    os.makedirs(small)
    for path in readmes:
        shutil.copy(path, f"{small}/{os.path.basename(os.path.dirname(path))}.md")
    large = f"{work}/r3550"
    for copy in range(10):
        shutil.copytree(small, f"{large}/copy{copy}")
    print(f"{binary}; {subprocess.run([rg, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    compare("crate READMEs", small, len(readmes))
    compare("crate READMEs ×10", large, 10 * len(readmes))
    if models:
        hybrid()
finally:
    shutil.rmtree(work, ignore_errors=True)
