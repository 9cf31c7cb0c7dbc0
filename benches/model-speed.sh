#!/bin/sh
# Model speed against llama.cpp on the same files and threads, as `localgpt models bench`
# and llama-bench measure: P prompt tokens read in one go, then G generated, after a
# warm-up. The files are real-size GGUFs with random weights (speed does not depend on
# the values), written by ../shared/bench/synth_gguf.py from the installed SmolLM2's
# tokenizer: Llama-3.2-1B, Qwen2.5-3B and Llama-3.1-8B shapes in the Q4_K_M mix (and
# Gemma-3-1B's, Qwen3-4B's and Phi-3-mini-4k's, by benches/synth_family_gguf.py), and
# SmolLM2-135M itself (Q8_0). llama.cpp is node-llama-cpp's prebuilt CPU backend.
#
#   sh benches/model-speed.sh [DIR] [THREADS...]     # needs: pip install gguf numpy;
#                                                     # npm install node-llama-cpp@3.22.1 in DIR
# LOCALGPT_CPU=avx2 measures the AVX2 kernels on an AVX-512 machine, and llama.cpp's
# too: its prebuilt backend loads the CPU variant that fits best, so the script runs it
# from a copy of DIR/node_modules without the AVX-512 variants (it then loads haswell).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/target/model-speed}
shift 2>/dev/null || true
threads=${*:-1 2}
localgpt=${LOCALGPT:-$root/target/release/localgpt}
synth=${SYNTH:-$root/../shared/bench/synth_gguf.py}
yardstick=${YARDSTICK:-$root/../shared/bench/nlc_bench.mjs}
home=${LOCALGPT_HOME:-$HOME/.localgpt}
smol=$home/models/smollm2/model.gguf
P=${PROMPT_TOKENS:-128}
G=${GEN_TOKENS:-32}
mkdir -p "$dir"
[ -f "$smol" ] || { echo "install the built-in model first: localgpt models install smollm2" >&2; exit 1; }
make() { # name kind hidden layers heads kv ffn
  [ -f "$dir/$1.gguf" ] || python3 "$synth" "$smol" "$dir/$1.gguf" "$2" "$3" "$4" "$5" "$6" "$7" >/dev/null
}
make llama-3.2-1b-q4km q4km 2048 16 32 8 8192
make qwen2.5-3b-q4km q4km 2048 36 16 2 11008
make llama-3.1-8b-q4km q4km 4096 32 32 8 14336
family() { # family name hidden layers heads kv ffn
  [ -f "$dir/$2.gguf" ] || python3 "$root/benches/synth_family_gguf.py" "$1" "$smol" \
    "$dir/$2.gguf" q4km "$3" "$4" "$5" "$6" "$7" >/dev/null
}
family gemma3 gemma3-1b-q4km 1152 26 4 1 6912
family qwen3 qwen3-4b-q4km 2560 36 32 8 9728
family phi3 phi3-mini-q4km 3072 32 32 32 8192
cp -n "$smol" "$dir/smollm2-135m-q8_0.gguf" 2>/dev/null || true
# node resolves node-llama-cpp beside the script it runs: run a copy in DIR.
[ "$yardstick" -ef "$dir/nlc_bench.mjs" ] || cp "$yardstick" "$dir/nlc_bench.mjs"
yardstick=$dir/nlc_bench.mjs
if [ "${LOCALGPT_CPU:-}" = avx2 ] && [ -d "$dir/node_modules" ]; then
  avx2=$dir/avx2-only
  if [ ! -d "$avx2/node_modules" ]; then
    mkdir -p "$avx2" && cp -r "$dir/node_modules" "$avx2/"
    for variant in zen4 cannonlake cascadelake alderlake skylakex icelake sapphirerapids cooperlake; do
      find "$avx2/node_modules" -name "libggml-cpu-$variant.so" -delete
    done
  fi
  cp "$yardstick" "$avx2/nlc_bench.mjs"
  yardstick=$avx2/nlc_bench.mjs
fi
grep -m1 "model name" /proc/cpuinfo 2>/dev/null || true
echo "| model | threads | LocalGPT prompt / generation tok/s | llama.cpp prompt / generation tok/s | peak MB (file MB) |"
echo "|---|---|---|---|---|"
for model in ${MODELS:-smollm2-135m-q8_0 llama-3.2-1b-q4km gemma3-1b-q4km qwen2.5-3b-q4km qwen3-4b-q4km phi3-mini-q4km llama-3.1-8b-q4km}; do
  file=$dir/$model.gguf
  for t in $threads; do
    ours=$("$localgpt" models bench "$file" --threads "$t" --prompt-tokens "$P" --gen-tokens "$G" --json)
    theirs=$(cd "$dir" && node "$yardstick" "$file" "$t" "$P" "$G" 2>/dev/null | tail -1 || echo '{}')
    python3 - "$model" "$t" "$ours" "$theirs" "$file" <<'PY'
import json, os, sys
model, t, ours, theirs, path = sys.argv[1:6]
o = json.loads(ours); l = json.loads(theirs or "{}")
f = lambda v: "%.1f" % v if isinstance(v, (int, float)) else "—"
print("| %s | %s | %s / %s | %s / %s | %d (%d) |" % (model, t, f(o["prompt_tokens_per_s"]), f(o["gen_tokens_per_s"]),
      f(l.get("pp")), f(l.get("tg")), o["peak_memory_bytes"] / 1e6, os.path.getsize(path) / 1e6))
PY
  done
done
