#!/usr/bin/env python3
"""The idle daemon: resident memory and CPU after 60 s with the two example tasks
installed (neither due), and how often its threads woke up in the last 50 s.
Goals: under 20 MB, and no wake-ups between scheduled events beyond the file watcher.

    cargo build --release && python3 benches/daemon-idle.py target/release/localgpt
"""
import glob, os, shutil, subprocess, sys, tempfile, time

binary = os.path.abspath(sys.argv[1])
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 60
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
home = tempfile.mkdtemp(prefix="localgpt-idle-")
env = dict(os.environ, LOCALGPT_HOME=home)
subprocess.run([binary, "config", "show"], env=env, stdout=subprocess.DEVNULL, check=True)
os.makedirs(f"{home}/workspace/heartbeat", exist_ok=True)
for task in glob.glob(f"{repo}/scripts/heartbeat/*.rhai"):
    shutil.copy(task, f"{home}/workspace/heartbeat/")
daemon = subprocess.Popen([binary, "daemon", "run"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def switches():
    total = 0
    for status in glob.glob(f"/proc/{daemon.pid}/task/*/status"):
        with open(status) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total

def cpu_ticks():
    with open(f"/proc/{daemon.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

try:
    time.sleep(10)
    start_switches, start_ticks = switches(), cpu_ticks()
    time.sleep(seconds - 10)
    woke = switches() - start_switches
    ticks = cpu_ticks() - start_ticks
    with open(f"/proc/{daemon.pid}/status") as f:
        rss = next(line.split()[1] for line in f if line.startswith("VmRSS"))
    threads = len(os.listdir(f"/proc/{daemon.pid}/task"))
    hz = os.sysconf("SC_CLK_TCK")
    print(f"after {seconds} s idle: VmRSS {int(rss) / 1024:.1f} MB, {threads} threads, "
          f"CPU {ticks / hz * 1000:.0f} ms and {woke} thread wake-ups in the last {seconds - 10} s")
finally:
    daemon.terminate()
    daemon.wait()
    shutil.rmtree(home, ignore_errors=True)
