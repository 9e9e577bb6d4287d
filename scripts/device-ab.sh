#!/usr/bin/env bash
# Decode A/B of two or more concord builds in one device call, interleaved (a b a b) so that
# all see the same machine: the lent H100s differ by several percent from one lease to the next
# (docs/perf.md), more than many changes are worth.
#
#   scripts/device-ab.sh CONCORD_A CONCORD_B [CONCORD_C ...]    (through the `device` tool)
# A build may be a wrapper script that sets an environment variable and execs a binary.
# TYPES (default q8_0), SHAPES (1b, 3b, 8b: scripts/llama-shapes.sh; default 8b 1b), DEPTHS (tokens in the cache before
# the test, as `bench -d`; default 0), BATCH (sequences decoded together, as `bench -b`;
# default 1) and REPS (default 3) pick the synthetic models, depths, batch and repetitions;
# prints tg128 t/s (all sequences) and utilisation per build and round.
set -uo pipefail
usage() { echo "usage: $0 CONCORD_A CONCORD_B [CONCORD_C ...] (executables)" >&2; exit 2; }
(($# >= 2)) || usage
builds=()
for b in "$@"; do
  [[ -x "$b" ]] || usage
  builds+=("$(realpath "$b")")
done
labels=(A B C D E F G H)
# Builds with `serve` link cpp-httplib, absent on the device: a lib/ beside them may carry it.
lib="$(dirname "${builds[0]}")/lib"
[[ -d "$lib" ]] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# shellcheck source=scripts/llama-shapes.sh
source "$(dirname "$0")/llama-shapes.sh"
for shape in ${SHAPES:-8b 1b}; do
  dims=$(llama_shape "$shape") || exit 2
  for t in ${TYPES:-q8_0}; do
    m="/tmp/ab-$t-$shape.gguf"
    # shellcheck disable=SC2086
    "${builds[0]}" synth -o "$m" $dims --ctx 8192 --type "$t" --seed 1 >/dev/null || exit 1
    for depth in ${DEPTHS:-0}; do
      for round in 1 2; do
        for i in "${!builds[@]}"; do
          rate=$("${builds[$i]}" bench -m "$m" --backend cuda -p 0 -n 128 -d "$depth" \
            -b "${BATCH:-1}" -r "${REPS:-3}" 2>&1 | grep -E "tg128" | head -1 | awk -F'|' '{print $7, $9}')
          echo "$shape $t d$depth round $round ${labels[$i]}: $rate"
        done
      done
    done
    rm -f "$m"
  done
done
