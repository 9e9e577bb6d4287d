"""External oracle for the weight formats: gguf-py (the GGUF project's own Python package,
from PyPI) dequantises the tensors concord quantised, and must agree bit for bit with
concord's own dequantisation (written out by `concord quantize ... F32`).

Usage: quant_oracle.py CONCORD_BINARY WORK_DIR. Exits 77 (skip) without gguf/numpy."""
import os
import subprocess
import sys

try:
    import numpy as np
    import gguf
    from gguf import quants
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: gguf-py/numpy not installed ({e}); scripts/install-deps.sh installs them")
    sys.exit(77)

TYPES = "q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k f16 bf16".split()


def main() -> int:
    concord, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures = 0
    for t in TYPES:
        qpath, fpath = os.path.join(work, f"{t}.gguf"), os.path.join(work, f"{t}-f32.gguf")
        subprocess.run([concord, "synth", "-o", qpath, "--type", t, "--width", "256",
                        "--ff", "512", "--layers", "1", "--seed", "11"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([concord, "quantize", qpath, fpath, "f32"], check=True,
                       stdout=subprocess.DEVNULL)
        quantised, decoded = gguf.GGUFReader(qpath), gguf.GGUFReader(fpath)
        worst = 0.0
        for a, b in zip(quantised.tensors, decoded.tensors):
            assert a.name == b.name
            theirs = quants.dequantize(a.data, a.tensor_type).reshape(-1)
            ours = np.asarray(b.data).reshape(-1)
            worst = max(worst, float(np.max(np.abs(theirs.astype(np.float64) - ours))))
        status = "ok" if worst == 0.0 else "MISMATCH"
        failures += worst != 0.0
        print(f"{t:5s} max |gguf-py - concord| = {worst:g} {status}")
    print(f"{len(TYPES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
