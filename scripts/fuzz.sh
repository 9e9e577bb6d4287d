#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, generates the seed corpus with the GGUF writer,
# and fuzzes the GGUF reader for N seconds (default 60). Fails on any crash or sanitizer
# report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/build.sh fuzz
corpus=build/fuzz/corpus
mkdir -p "$corpus"
build/fuzz/fuzz/gguf_corpus "$corpus"
build/fuzz/fuzz/gguf_reader_fuzz -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
echo "fuzzing finished clean after ${seconds} s"
