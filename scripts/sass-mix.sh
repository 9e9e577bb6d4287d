#!/usr/bin/env bash
# The SASS instruction mix of CUDA kernels in an object file, counted on the development
# machine (no GPU needed): how many instructions of each opcode a kernel holds, and the same
# for a span of its tensor-core instructions (HMMA/IMMA), the decode kernels' unrolled loop.
#
#   [FROM=a TO=b] scripts/sass-mix.sh OBJECT KERNEL_REGEX
# The span runs from the FROM-th tensor-core instruction (default 1) up to, not including,
# the TO-th (default: through the last). A steady-state window keeps the loop's prologue out:
# e.g. FROM=5 TO=13 is two of the Q4_K kernel's 4-HMMA pairs of sub-blocks, mid-loop:
#   FROM=5 TO=13 scripts/sass-mix.sh \
#     build/cuda-test/src/CMakeFiles/concord_core.dir/backends/cuda/matvec.cu.o \
#     'TensorStreamINS_9BlockQ4_KELi64ELb0ELi4EEELNS1_8EpilogueE1ELb0E'
# cuobjdump and nvdisasm are not in the CUDA toolkit installed here: the script installs
# NVIDIA's PyPI packages into a virtual environment under build/ on first use.
set -euo pipefail
(($# == 2)) || { echo "usage: $0 OBJECT KERNEL_REGEX" >&2; exit 2; }
object="$1" pattern="$2"
[[ -f "$object" ]] || { echo "no object file '$object'" >&2; exit 2; }
object=$(realpath "$object")
cd "$(dirname "$0")/.."
venv=build/sass-tools
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install -q nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm
fi
cuobjdump=$(find "$venv" -name cuobjdump -type f | head -1)
[[ -x "$cuobjdump" ]] || { echo "cuobjdump not found in $venv" >&2; exit 1; }
PATH="$(dirname "$cuobjdump"):$PATH"  # cuobjdump runs nvdisasm
export PATH

# Kernel names (mangled) in the object that match the pattern.
mapfile -t kernels < <("$cuobjdump" -sass "$object" | grep -oE 'Function : [^ ]+' |
  awk '{print $3}' | grep -E -- "$pattern" | sort -u)
((${#kernels[@]})) || { echo "no kernel matches '$pattern'" >&2; exit 1; }

# Opcode counts of SASS lines read from stdin (predicates and modifiers dropped).
mix() {
  grep -oE '^\s+/\*[0-9a-f]{4,}\*/\s+(@!?U?P[0-9T] )?[A-Z][A-Z0-9]*' |
    awk '{print $NF}' | sort | uniq -c | sort -rn | awk '{printf "  %-8s %5d\n", $2, $1}'
}
# The total of a mix's counts.
total() { awk '{n += $2} END {print n}' <<<"$1"; }
for kernel in "${kernels[@]}"; do
  sass=$("$cuobjdump" -sass -fun "$kernel" "$object")
  echo "== $kernel"
  whole=$(mix <<<"$sass")
  echo "whole kernel: $(total "$whole") instructions"
  mapfile -t mma < <(grep -nE '(HMMA|IMMA)\.' <<<"$sass" | cut -d: -f1)
  from=${FROM:-1} to=${TO:-}
  if ((${#mma[@]} == 0)); then
    echo "$whole"
  elif ((from < 1 || from > ${#mma[@]})) || { [[ -n "$to" ]] && ((to <= from || to > ${#mma[@]})); }; then
    echo "FROM=$from TO=$to: the kernel has ${#mma[@]} tensor-core instructions" >&2
    exit 2
  else
    first=${mma[from - 1]}
    last=$([[ -n "$to" ]] && echo $((${mma[to - 1]} - 1)) || echo "${mma[-1]}")
    span=$(sed -n "${first},${last}p" <<<"$sass" | mix)
    echo "tensor-core instruction $from to ${to:-the last}${to:+ (not included)}:" \
      "$(total "$span") instructions"
    echo "$span"
  fi
done
