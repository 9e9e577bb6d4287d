#!/usr/bin/env bash
# The README's second command (and CI's): install dependencies, build, run every test
# lane: the release suite, the unit tests again under ASan+UBSan, and the GGUF reader and
# tokenizer fuzzers. FUZZ_SECONDS (default 60) bounds the fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The default model, for its integration tests (they skip, saying why, if this fails).
scripts/install-model.sh > /dev/null || echo "warning: the default model could not be installed"

echo "== release build and full test suite"
scripts/build.sh release
ctest --preset release -j "$(nproc)"

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --preset asan -j "$(nproc)" -L unit

echo "== GGUF reader fuzzing (${FUZZ_SECONDS:-60} s)"
scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
