#!/usr/bin/env bash
# Installs everything concord needs to build, test and fuzz on Debian/Ubuntu (apt-get) and
# the Python test oracles (pip). Safe to run repeatedly.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config          # toolchain
  clang libclang-rt-dev                     # libFuzzer and sanitizer runtimes
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  nlohmann-json3-dev libcli11-dev libfmt-dev  # JSON, CLI parsing, formatting
  libcpp-httplib-dev                        # HTTP server (concord serve)
  python3 python3-pip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-time oracles and clients: gguf-py (independent GGUF/quant implementation), numpy,
# Jinja2, jsonschema, and the official openai SDK (drives the server tests).
python3 -m pip install --quiet --disable-pip-version-check -r "$(dirname "$0")/../requirements-test.txt" \
  || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
       -r "$(dirname "$0")/../requirements-test.txt"
