#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, generates the seed corpus with the GGUF writer,
# and fuzzes the GGUF reader for N seconds (default 60) and the tokenizers for N/2. Fails on
# any crash or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scripts/build.sh fuzz
corpus=build/fuzz/corpus
mkdir -p "$corpus"
build/fuzz/fuzz/gguf_corpus "$corpus"
build/fuzz/fuzz/gguf_reader_fuzz -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
tokenizer_corpus=build/fuzz/tokenizer-corpus
mkdir -p "$tokenizer_corpus"
printf '\x00Hello world' >"$tokenizer_corpus/spm"
printf '\x01 the thin end<|end|>\n\n  x' >"$tokenizer_corpus/bpe"
printf '\x03<|end|>caf\xc3\xa9 \xe2\x80\xa8 123456' >"$tokenizer_corpus/bpe-special"
build/fuzz/fuzz/tokenizer_fuzz -max_total_time="$((seconds / 2))" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 "$tokenizer_corpus" 2>&1 | tail -n 12
echo "fuzzing finished clean after ${seconds} + $((seconds / 2)) s"
