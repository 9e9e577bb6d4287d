#!/usr/bin/env bash
# On the GPU machine: restores what scripts/device-pack.sh packed (device-ab-bin/*/*.xz) and
# links lib/ and shared/ into each build's directory, as scripts/device-check.sh expects.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(realpath device-ab-bin)
for dir in "$root"/*/; do
  [[ $dir == "$root/lib/" || $dir == "$root/shared/" ]] && continue
  for f in "$dir"*.xz; do
    [[ -f $f ]] || continue
    python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[1][:-3], 'wb'))" "$f"
    chmod +x "${f%.xz}"
    rm -f "$f"
  done
  ln -sfn "$root/lib" "$dir/lib"
  ln -sfn "$root/shared" "$dir/shared"
done
