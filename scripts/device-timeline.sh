#!/usr/bin/env bash
# The decode step's timeline on the GPU (src/backends/cuda/timeline.cuh), through the
# `device` tool: per synthetic model, tg128 untraced and traced (what recording costs), then
# scripts/timeline-summary.py's table of the step's launches.
#
#   [MODELS="1b:q4_0 8b:q4_0"] [ROLES=qkv,attn,o,gate_up,down] scripts/device-timeline.sh CONCORD
# Each model is SHAPE:TYPE (shapes 1b, 3b, 8b: scripts/llama-shapes.sh). The 3B and 8B shapes
# decode 64 and 48 tokens traced, so that their replays fit the 4M records. ROLES names a layer's launches for
# timeline-summary.py: its Llama-like default, or a build's own where a layer launches
# otherwise (exp/group-attention: qkv_attn,o,gate_up,down).
set -euo pipefail
(($# == 1)) && [[ -x "$1" ]] || { echo "usage: $0 CONCORD" >&2; exit 2; }
concord=$(realpath "$1")
here=$(dirname "$0")
lib="$(dirname "$concord")/lib"  # builds with `serve` may carry cpp-httplib there
[[ -d "$lib" ]] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
trace=$(mktemp /tmp/timeline.XXXXXX)
# shellcheck source=scripts/llama-shapes.sh
source "$here/llama-shapes.sh"
for model in ${MODELS:-1b:q4_0}; do
  IFS=: read -r shape type <<<"$model"
  dims=$(llama_shape "$shape") || exit 2
  case "$shape" in
    3b) n=64 ;;
    8b) n=48 ;;
    *) n=128 ;;
  esac
  m="/tmp/timeline-$shape-$type.gguf"
  # shellcheck disable=SC2086
  "$concord" synth -o "$m" $dims --ctx 8192 --type "$type" --seed 1 >/dev/null
  echo "== $shape $type"
  rate() { "$concord" bench -m "$m" --backend cuda -p 0 -n "$1" -r "$2" 2>&1 | grep "tg$1 " |
    awk -F'|' '{print $7, $9}'; }
  echo "tg128 untraced: $(rate 128 2)"
  echo "tg$n traced: $(CONCORD_CUDA_TIMELINE="$trace" rate "$n" 1)"
  python3 "$here/timeline-summary.py" "$trace" ${ROLES:-}
  rm -f "$m" "$trace"
done
