#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run the main job - text
# generation - on the default model: ../shared/models/stories260K.gguf when present,
# otherwise a seeded synthetic Llama model written by `concord synth`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
concord=build/release/src/concord
model=../shared/models/stories260K.gguf
if [[ ! -f "$model" ]]; then
  model=build/default-synthetic.gguf
  echo "(../shared/models/stories260K.gguf not found: using a synthetic model, $model)"
  "$concord" synth -o "$model" --layers 4 --width 256 --heads 8 --kv-heads 4 --ff 768 \
    --vocab 1024 --ctx 512 --type q4_k --seed 1
fi
echo "model: $model"
"$concord" run -m "$model" -p "${PROMPT:-Once upon a time}" -n "${TOKENS:-128}" --temp 0 --verbose
