#!/usr/bin/env bash
# Per-kernel GPU time of decode steps (Nsight Compute) on a synthetic Llama-shaped model,
# through the `device` tool: scripts/device-profile.sh BIN_DIR [TYPE] [SHAPE]
# SHAPE: 1b (Llama-3.2-1B layout, the default), 3b or 8b (scripts/llama-shapes.sh). PREFILL=1
# profiles a 512-token prompt instead (twice: the warm-up and the timed run).
# Writes $OUT/ncu-TYPE-SHAPE.txt (full) and prints the per-kernel summary.
# DETAIL=REGEX instead collects every Nsight Compute section (stall reasons, memory
# workload, occupancy) for the first 8 launches whose kernel name matches REGEX after
# SKIP_LAUNCHES (default 64) matching ones: $OUT/ncu-detail-TYPE-SHAPE.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="$1"
TYPE="${2:-f16}"
SHAPE="${3:-1b}"
OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
[[ -d "$BIN/lib" ]] && export LD_LIBRARY_PATH="$(realpath "$BIN/lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# shellcheck source=scripts/llama-shapes.sh
source scripts/llama-shapes.sh
dims=$(llama_shape "$SHAPE") || exit 2
m=/tmp/profile-$TYPE-$SHAPE.gguf
# shellcheck disable=SC2086
"$BIN/concord" synth -o "$m" $dims --ctx 1024 --type "$TYPE" --seed 1 >/dev/null
# -p 0 -n 4: the warm-up and four decode steps; kernels inside CUDA graphs are profiled one
# by one. --clock-control none: the clocks stay as the benchmarks see them.
steps=(-p 0 -n 4)
[[ "${PREFILL:-0}" == 1 ]] && steps=(-p 512 -n 0)
if [[ -n "${DETAIL:-}" ]]; then
  report="$OUT/ncu-detail-$TYPE-$SHAPE.txt"
  ncu --clock-control none --set full -k "regex:$DETAIL" --launch-skip "${SKIP_LAUNCHES:-64}" \
    --launch-count 8 "$BIN/concord" bench -m "$m" --backend cuda -p 0 -n 4 -r 1 >"$report" 2>&1
  grep -E "^  [a-zA-Z_].*\(|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Issue Slots Busy|Registers Per|No Eligible|Active Warps Per|Eligible Warps" "$report" | head -150
  exit 0
fi
report="$OUT/ncu-$TYPE-$SHAPE.txt"
ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
  "$BIN/concord" bench -m "$m" --backend cuda "${steps[@]}" -r 1 >"$report" 2>&1
grep -E "^  [a-zA-Z_].*\(|gpu__time_duration|Invocations" "$report" | head -120
