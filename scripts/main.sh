#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the main job on the
# default model. Until a real default model ships, that is a synthetic Llama model made
# by `concord synth` (seeded), inspected with `concord gguf`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
concord=build/release/src/concord
model=build/default-synthetic.gguf
"$concord" synth -o "$model" --layers 4 --width 256 --heads 8 --kv-heads 4 --ff 768 \
  --vocab 1024 --ctx 512 --type q4_k --seed 1
"$concord" gguf "$model"
