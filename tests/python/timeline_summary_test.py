"""scripts/timeline-summary.py on a synthetic decode-step timeline with known figures.

Five replays of a step of five launches (roles a, b, a, b, then the logits), three blocks
each, 1 ms apart; the logits launch has a fourth block that leaves before the wait (its
waited and first times stay zero). A launch seen once (id 99) is not the step's. Per launch
i >= 1 of a replay starting at T (ns):
  start    T + 10000 i - 3000 + 10 b   -> gap    -2.20 us (against the previous end)
  waited   T + 10000 i + 700 + 100 b   -> edge    1.50 us, spread 0.20 us
  first    waited + 2000 + 10 b        -> first   2.01 us (median over blocks)
  end      T + 10000 i + 9000 + 100 b  -> body    8.50 us, tail 0.10 us (0.15 with the
                                          early block's end in the logits' median)
Block b runs on SM b, and the logits' fourth on SM 0: 3 SMs, at most 1 block on one (2 for
the logits). Every block starts before the previous launch ends (late 0), but block 2 of the
logits, which starts at T + 10000 i - 500, 0.3 us after the launch before it ends (late 1).
Between steps: the next replay's first start - the logits' last end = 947.8 us.
Usage: timeline_summary_test.py SCRIPT. Exits 77 (skip) without numpy."""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"SKIP: numpy not installed ({e}); scripts/install-deps.sh installs it")
    sys.exit(77)

RECORD = np.dtype([("launch", "<u4"), ("block", "<u4"), ("kernel", "<u4"), ("sm", "<u4"),
                   ("start", "<u8"), ("waited", "<u8"), ("first", "<u8"), ("end", "<u8")])
LAUNCHES, BLOCKS, REPLAYS, REPLAY_NS = 5, 3, 5, 1_000_000


def records():
    rows = []
    for k in range(REPLAYS):
        t0 = (k + 1) * REPLAY_NS
        for i in range(LAUNCHES):
            base = t0 + 10_000 * i
            for b in range(BLOCKS):
                waited = base + 700 + 100 * b
                start = base - 500 if (i, b) == (LAUNCHES - 1, 2) else base - 3000 + 10 * b
                rows.append((i, b, 0, b, start, waited, waited + 2000 + 10 * b,
                             base + 9000 + 100 * b))
            if i == LAUNCHES - 1:  # leaves before the wait
                rows.append((i, BLOCKS, 1, 0, base - 3000, 0, 0, base - 2000))
    rows.append((99, 0, 0, 0, 5 * REPLAY_NS, 5 * REPLAY_NS + 1, 0, 5 * REPLAY_NS + 2))
    return np.array(rows, dtype=RECORD)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "timeline.bin")
        records().tofile(path)
        out = subprocess.run([sys.executable, sys.argv[1], path, "a,b"], check=True,
                             capture_output=True, text=True).stdout
    lines = out.splitlines()
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[4:-1]}
    expected = {  # blocks, gap, edge, spread, first, body, tail, sms, per_sm, late
        "a": [3, -2.20, 1.50, 0.20, 2.01, 8.50, 0.10, 3, 1, 0],
        "b": [3, -2.20, 1.50, 0.20, 2.01, 8.50, 0.10, 3, 1, 0],
        "logits": [4, -2.20, 1.50, 0.20, 2.01, 8.50, 0.15, 3, 2, 1],
    }
    failures = []
    if f"the step: {LAUNCHES} launches, {REPLAYS} replays" not in lines[0]:
        failures.append(f"header: {lines[0]!r}")
    if "52.2 us a step" not in lines[1]:  # last end (T + 49200) - first start (T - 3000)
        failures.append(f"span: {lines[1]!r}")
    if "947.8 us" not in lines[2]:  # the next replay's first start (T + 997000) - T + 49200
        failures.append(f"between steps: {lines[2]!r}")
    for role, want in expected.items():
        got = rows.get(role)
        if got is None or len(got) != len(want) or any(
                abs(g - w) > 1e-6 for g, w in zip(got, want)):
            failures.append(f"{role}: got {got}, expected {want}")
    if lines[-1] != "a step's edges 6.0 us, bodies 34.0 us":
        failures.append(f"totals: {lines[-1]!r}")
    for failure in failures:
        print("FAIL", failure)
    print(f"{len(expected) + 4 - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
