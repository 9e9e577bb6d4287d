#!/usr/bin/env bash
# The tensor-core decode (docs/perf.md, sessions 11-12) against the fp32 paths it replaced
# (CONCORD_CUDA_TENSOR_DECODE=0), on the GPU machine in one call of the `device` tool:
#   check   the op harness and CPU<->CUDA model parity with the fp32 paths (=0), which stay
#           the fallback, through device-check.sh (the default path is device-check's own);
#   matvec  the decode-kernel benchmark, whose last two columns are the streaming kernel's
#           fp32 and tensor products per launch shape;
#   ab      a same-call decode A/B of production against =0 (device-ab.sh; TYPES, SHAPES,
#           DEPTHS, BATCH and REPS pass through).
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
  CONCORD_CUDA_TENSOR_DECODE=0 SKIP="long families matvec bench" \
    PARITY_TYPES="${PARITY_TYPES:-q8_0 q4_0 q4_k}" scripts/device-check.sh "$BIN" >/dev/null 2>&1
  cp "$OUT/summary.txt" "$OUT/tensor-check.txt"
  cat "$OUT/tensor-check.txt"
fi

if stage matvec && [[ -x "$BIN/cuda_matvec_bench" ]]; then
  "$BIN/cuda_matvec_bench" Q4_0 Q8_0 Q4_K 2>&1 | tee "$OUT/matvec.txt"
fi

if stage ab; then
  # The fp32 build for device-ab.sh: a wrapper that sets the switch and runs the same binary.
  wrappers="$(mktemp -d)"
  printf '#!/bin/sh\nCONCORD_CUDA_TENSOR_DECODE=0 exec "%s/concord" "$@"\n' "$BIN" >"$wrappers/fp32"
  chmod +x "$wrappers/fp32"
  echo "== decode A/B: A production (tensor cores), B fp32 (=0)" | tee "$OUT/ab.txt"
  TYPES="${TYPES:-q4_0 q8_0 q4_k}" scripts/device-ab.sh "$BIN/concord" "$wrappers/fp32" 2>&1 \
    | tee -a "$OUT/ab.txt"
fi
