#!/usr/bin/env bash
# Packs binaries built here for the `device` tool's carry (64 MB in all): stripped and
# xz-compressed into device-ab-bin/NAME/, with lib/ (cpp-httplib and fmt, absent on the GPU
# machine) and shared/ (the stories260K model and its golden file) beside them.
#
#   scripts/device-pack.sh NAME [BUILD_DIR]   (default build/cuda; concord and ops_test, and
#                                             families_test and cuda_matvec_bench where built)
# LEAN=1 packs concord alone (~14 MB), enough for the other side of scripts/device-ab.sh: a
# full pack is ~45 MB, and two would not fit the carry.
# On the device, scripts/device-unpack.sh restores them; then e.g.
#   scripts/device-check.sh device-ab-bin/NAME
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: $0 NAME [BUILD_DIR]}
build=${2:-build/cuda}
out=device-ab-bin
mkdir -p "$out/$name" "$out/lib" "$out/shared/models" "$out/shared/golden"
binaries=(src/concord tests/ops_test tests/families_test bench/cuda_matvec_bench)
[[ ${LEAN:-0} == 1 ]] && binaries=(src/concord)
for f in "${binaries[@]}"; do
  if [[ ! -x $build/$f ]]; then
    [[ $f == bench/* || $f == tests/families_test ]] && continue
    echo "missing $build/$f: build it first" >&2
    exit 1
  fi
  strip -o "$out/$name/$(basename "$f")" "$build/$f"
  xz -f --x86 --lzma2=preset=9e -T2 "$out/$name/$(basename "$f")"
done
for lib in libcpp-httplib.so.0.11 libfmt.so.9; do
  cp -L "/lib/x86_64-linux-gnu/$lib" "$out/lib/"
done
cp ../shared/models/stories260K.gguf "$out/shared/models/"
cp ../shared/golden/stories260K-greedy.json "$out/shared/golden/"
du -sh "$out"
