#!/usr/bin/env python3
"""The idle daemon: resident memory and CPU after 60 s with the two example tasks
installed (neither due), and how often its threads woke up in the last 50 s.
Goals: under 20 MB, and no wake-ups between scheduled events beyond the file watcher;
with the embedding model installed (`--models DIR`, a folder holding
all-minilm-l6-v2/, such as ~/.localgpt/models): under 30 MB idle and no 200 MB peak.

    cargo build --release && python3 benches/daemon-idle.py target/release/localgpt [SECONDS] [--models DIR]
"""
import glob, os, shutil, subprocess, sys, tempfile, time

args = sys.argv[1:]
models = None
if "--models" in args:
    at = args.index("--models")
    models = os.path.abspath(args[at + 1])
    del args[at:at + 2]
binary = os.path.abspath(args[0])
seconds = int(args[1]) if len(args) > 1 else 60
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
home = tempfile.mkdtemp(prefix="localgpt-idle-")
env = dict(os.environ, LOCALGPT_HOME=home)
subprocess.run([binary, "config", "show"], env=env, stdout=subprocess.DEVNULL, check=True)
if models:
    os.symlink(models, f"{home}/models")
os.makedirs(f"{home}/workspace/heartbeat", exist_ok=True)
for task in glob.glob(f"{repo}/scripts/heartbeat/*.rhai"):
    shutil.copy(task, f"{home}/workspace/heartbeat/")
daemon = subprocess.Popen([binary, "daemon", "run"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def switches():
    """Context switches so far, per thread: a thread that exits takes its counts with it,
    so the wake-ups are summed thread by thread rather than as one total."""
    counts = {}
    for status in glob.glob(f"/proc/{daemon.pid}/task/*/status"):
        try:
            with open(status) as f:
                counts[status.split("/")[-2]] = sum(
                    int(line.split()[1]) for line in f
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended while being read
    return counts

def cpu_ticks():
    with open(f"/proc/{daemon.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

try:
    time.sleep(10)
    start_switches, start_ticks = switches(), cpu_ticks()
    time.sleep(seconds - 10)
    end_switches = switches()
    woke = sum(count - start_switches.get(tid, 0) for tid, count in end_switches.items())
    exited = len(start_switches.keys() - end_switches.keys())
    ticks = cpu_ticks() - start_ticks
    with open(f"/proc/{daemon.pid}/status") as f:
        status = {line.split(":")[0]: line.split()[1] for line in f if line.startswith("Vm")}
    rss, peak = status["VmRSS"], status["VmHWM"]
    threads = len(os.listdir(f"/proc/{daemon.pid}/task"))
    hz = os.sysconf("SC_CLK_TCK")
    print(f"after {seconds} s idle{' (embedding model installed)' if models else ''}: "
          f"VmRSS {int(rss) / 1024:.1f} MB (peak {int(peak) / 1024:.1f} MB), {threads} threads, "
          f"CPU {ticks / hz * 1000:.0f} ms and {woke} thread wake-ups in the last {seconds - 10} s"
          + (f" ({exited} thread{'s' * (exited > 1)} ended in that time, not counted)" if exited else ""))
finally:
    daemon.terminate()
    daemon.wait()
    shutil.rmtree(home, ignore_errors=True)
