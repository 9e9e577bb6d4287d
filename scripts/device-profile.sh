#!/usr/bin/env bash
# Per-kernel GPU time of decode steps (Nsight Compute) on a synthetic Llama-3.2-1B-shaped
# model, through the `device` tool: scripts/device-profile.sh BIN_DIR [TYPE]
# Writes $OUT/ncu.txt (full) and prints the per-kernel summary.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="$1"
TYPE="${2:-f16}"
OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
[[ -d "$BIN/lib" ]] && export LD_LIBRARY_PATH="$PWD/$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
m=/tmp/profile-$TYPE.gguf
"$BIN/concord" synth -o "$m" --layers 16 --width 2048 --heads 32 --kv-heads 8 --ff 8192 \
  --vocab 128256 --ctx 256 --type "$TYPE" --seed 1 >/dev/null
# -p 0 -n 4: the warm-up and four decode steps; kernels inside CUDA graphs are profiled one by one.
ncu --metrics gpu__time_duration.sum --print-summary per-kernel \
  "$BIN/concord" bench -m "$m" --backend cuda -p 0 -n 4 -r 1 >"$OUT/ncu.txt" 2>&1
grep -E "^  [a-zA-Z_].*\(|gpu__time_duration|Invocations" "$OUT/ncu.txt" | head -120
