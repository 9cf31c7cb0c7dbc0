#!/usr/bin/env python3
"""Time from process start to the REPL's first prompt, through a pseudo-terminal, and the
resident memory while it waits there. Goals: under 30 ms and under 20 MB.

    cargo build --release && python3 benches/time-to-prompt.py target/release/localgpt
"""
import os, pty, time, sys, statistics, resource
B = sys.argv[1]
times = []
for i in range(30):
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["NO_COLOR"] = "1"
        os.execv(B, [B, "-q"])
    buf = b""
    while "›".encode() not in buf:
        buf += os.read(fd, 4096)
    times.append((time.perf_counter() - start) * 1000)
    # idle RSS while waiting at the prompt
    if i == 0:
        time.sleep(0.3)
        with open(f"/proc/{pid}/status") as f:
            rss = [l for l in f if l.startswith("VmRSS")][0].strip()
    os.write(fd, b"\x04")
    os.waitpid(pid, 0)
    os.close(fd)
print(f"time to prompt: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms; idle {rss}")
