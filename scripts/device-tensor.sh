#!/usr/bin/env bash
# The opt-in tensor-core decode (CONCORD_CUDA_TENSOR_DECODE, docs/perf.md session 11) on the
# GPU machine, in one call of the `device` tool:
#   check   the op harness and CPU<->CUDA model parity with every Q4_0/Q8_0/Q4_K launch on
#           tensor cores (=all), through device-check.sh;
#   matvec  the decode-kernel benchmark, whose last two columns are the streaming kernel's
#           fp32 and tensor products per launch shape;
#   ab      a same-call decode A/B of production against =1 and =all (device-ab.sh; TYPES,
#           SHAPES, DEPTHS, BATCH and REPS pass through).
#
#   scripts/device-tensor.sh BIN_DIR     (BIN_DIR as for device-check.sh: prebuilt binaries)
# STAGES picks stages (default "check matvec ab", about 8 minutes). Results go to $OUT:
# tensor-check.txt, matvec.txt, ab.txt and device-check's logs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
[[ $# -eq 1 && -x "$1/concord" ]] || { echo "usage: $0 BIN_DIR (with concord in it)" >&2; exit 2; }
BIN="$(realpath "$1")"
export OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
STAGES="${STAGES:-check matvec ab}"
stage() { [[ " $STAGES " == *" $1 "* ]]; }

if stage check; then
  CONCORD_CUDA_TENSOR_DECODE=all SKIP="long families matvec bench" \
    PARITY_TYPES="${PARITY_TYPES:-q8_0 q4_0 q4_k}" scripts/device-check.sh "$BIN" >/dev/null 2>&1
  cp "$OUT/summary.txt" "$OUT/tensor-check.txt"
  cat "$OUT/tensor-check.txt"
fi

if stage matvec && [[ -x "$BIN/cuda_matvec_bench" ]]; then
  "$BIN/cuda_matvec_bench" Q4_0 Q8_0 Q4_K 2>&1 | tee "$OUT/matvec.txt"
fi

if stage ab; then
  # Builds for device-ab.sh: wrappers that set the switch and run the same binary.
  wrappers="$(mktemp -d)"
  for mode in 1 all; do
    printf '#!/bin/sh\nCONCORD_CUDA_TENSOR_DECODE=%s exec "%s/concord" "$@"\n' "$mode" "$BIN" \
      >"$wrappers/tensor-$mode"
    chmod +x "$wrappers/tensor-$mode"
  done
  echo "== decode A/B: A production, B tensor (=1), C tensor (=all)" | tee "$OUT/ab.txt"
  TYPES="${TYPES:-q4_0 q8_0 q4_k}" scripts/device-ab.sh "$BIN/concord" "$wrappers/tensor-1" \
    "$wrappers/tensor-all" 2>&1 | tee -a "$OUT/ab.txt"
fi
