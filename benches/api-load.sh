#!/bin/sh
# Requests per second of the HTTP API at 64 concurrent connections (wrk, from Debian's
# packages): /health, and /api/memory/search over a memory of 500 notes (the query
# matches 25 of them).
# Goals on a 2-core machine: /health over 20,000 req/s, search over 2,000 req/s.
#
#   cargo build --release && sh benches/api-load.sh target/release/localgpt
set -eu
binary=$(realpath "$1")
seconds=${2:-10}
home=$(mktemp -d)
export LOCALGPT_HOME="$home"
trap 'kill "$server" 2>/dev/null; rm -rf "$home"' EXIT
"$binary" config show > /dev/null 2>&1
mkdir -p "$home/workspace/memory"
# 500 notes on 20 birds: a query for one bird matches 25 of them, as a real memory would.
python3 - "$home/workspace/memory" <<'PY'
import sys
birds = ["kestrel", "robin", "wren", "heron", "swift", "owl", "finch", "crow", "jay", "lark",
         "raven", "kite", "tern", "plover", "dunlin", "avocet", "bittern", "coot", "grebe", "rail"]
for i in range(500):
    bird = birds[i % 20]
    with open(f"{sys.argv[1]}/note-{i}.md", "w") as note:
        note.write(f"# Note {i}\n\n## Garden\nThe {bird} box {i} is on the north wall; "
                   f"check it in March.\n\n## Work\nRelease {i} ships on Friday after the review.\n")
PY
"$binary" memory reindex > /dev/null
token=$("$binary" serve --print-token)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$binary" serve --port "$port" 2> /dev/null &
server=$!
until curl -s "http://127.0.0.1:$port/health" > /dev/null; do sleep 0.1; done
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/memory/search?q=kestrel%20box&limit=5" > /dev/null
echo "GET /health"
wrk -t2 -c64 -d"${seconds}s" "http://127.0.0.1:$port/health" | grep -E 'Requests/sec|Latency'
echo "GET /api/memory/search?q=kestrel+box&limit=5"
wrk -t${THREADS:-2} -c${CONNECTIONS:-64} -d"${seconds}s" -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/api/memory/search?q=kestrel%20box&limit=5" | grep -E 'Requests/sec|Latency|Non-2xx'
