#!/usr/bin/env python3
"""Summarises a CUDA decode step's timeline (CONCORD_CUDA_TIMELINE; src/backends/cuda/timeline.cuh).

The records are the blocks of the streaming matvec and decode attention launches. A recorded
graph replays the same launches every step, so the launches recorded most often are the
step's, in launch order. Per launch, averaged over replays (the first two skipped) and over
the launches of each role (a layer's launches take the roles in turn; the last is the logits):
  gap    first block's start - previous launch's last block end (negative: started early)
  edge   first block past the dependency wait - previous launch's last block end
  spread last block past the wait - first block past the wait
  first  median over blocks of (first phase - waited): x staged, or the keys walked
  body   last block end - first block past the wait
  tail   last block end - median block end
  sms    SMs the launch's blocks ran on
  per_sm the most blocks on one SM (an SM holding more streams more bytes, or waits longer)
  late   blocks that started after the previous launch's last block ended (not resident
         beside it: their copies before the wait overlapped nothing)
A second line gives the time between steps: the host's part of a step, and the launches not
recorded. Times in microseconds. Usage: timeline-summary.py FILE [ROLES]
  ROLES: a layer's launches, comma-separated (default qkv,attn,o,gate_up,down: Llama-like).
"""
import sys

import numpy as np

# TimelineRecord (timeline.cuh).
RECORD = np.dtype([("launch", "<u4"), ("block", "<u4"), ("kernel", "<u4"), ("sm", "<u4"),
                   ("start", "<u8"), ("waited", "<u8"), ("first", "<u8"), ("end", "<u8")])
KEYS = ["gap", "edge", "spread", "first", "body", "tail"]
COUNTS = ["sms", "per_sm", "late"]
REPLAY_GAP_NS = 50_000  # a launch's blocks of one replay start within this of each other


def replays_of_each_launch(records):
    """launch id -> list of record arrays, one per replay (split where starts jump)."""
    out = {}
    for launch in np.unique(records["launch"]):
        x = records[records["launch"] == launch]
        x = x[np.argsort(x["start"])]
        cuts = np.where(np.diff(x["start"].astype(np.int64)) > REPLAY_GAP_NS)[0] + 1
        out[int(launch)] = np.split(x, cuts)
    return out


def launch_times(x):
    """One replay of one launch: its blocks' extremes and medians (ns)."""
    waited = x["waited"][x["waited"] > 0].astype(np.int64)
    end = x["end"].astype(np.int64)
    both = (x["waited"] > 0) & (x["first"] > 0)
    first = x["first"][both].astype(np.int64) - x["waited"][both].astype(np.int64)
    return dict(start=int(x["start"].min()), w0=int(waited.min()) if len(waited) else 0,
                w1=int(waited.max()) if len(waited) else 0, end=int(end.max()),
                end_median=float(np.median(end)),
                first=float(np.median(first)) if len(first) else 0.0, blocks=len(x),
                sms=len(np.unique(x["sm"])), per_sm=int(np.bincount(x["sm"]).max()),
                starts=x["start"].astype(np.int64))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    records = np.fromfile(sys.argv[1], dtype=RECORD)
    roles = (sys.argv[2] if len(sys.argv) > 2 else "qkv,attn,o,gate_up,down").split(",")
    if len(records) == 0:
        sys.exit(f"{sys.argv[1]}: no records")
    replays = replays_of_each_launch(records)
    n_replays = max(len(v) for v in replays.values())
    step = sorted(launch for launch, v in replays.items() if len(v) == n_replays)
    print(f"{len(records)} blocks recorded; the step: {len(step)} launches, {n_replays} replays")
    if n_replays < 3:
        sys.exit("too few replays to summarise (the first two are skipped)")

    steps = []  # per replay: per launch of the step, its times
    for k in range(2, n_replays):
        times = [launch_times(replays[launch][k]) for launch in step]
        for i, t in enumerate(times):
            previous_end = times[i - 1]["end"] if i > 0 else np.nan
            t["gap"] = t["start"] - previous_end
            t["edge"] = t["w0"] - previous_end
            t["spread"] = t["w1"] - t["w0"]
            t["body"] = t["end"] - t["w0"]
            t["tail"] = t["end"] - t["end_median"]
            t["late"] = int(np.sum(t["starts"] > previous_end)) if i > 0 else 0
        steps.append(times)

    names = [roles[i % len(roles)] for i in range(len(step) - 1)] + ["logits"]
    span = np.mean([s[-1]["end"] - s[0]["start"] for s in steps]) / 1000
    print(f"first launch's start to last launch's end: {span:.1f} us a step")
    # The host's share: its wake from the step's sync, the next step's input upload and graph
    # launch, and the untraced launches before the first traced one (the embedding).
    between = np.mean([b[0]["start"] - a[-1]["end"] for a, b in zip(steps, steps[1:])]) / 1000
    print(f"last launch's end to the next step's first start: {between:.1f} us")
    print(f"{'launch':>8} {'blocks':>6} " + " ".join(f"{k:>7}" for k in KEYS + COUNTS))
    for role in roles + ["logits"]:
        at = [i for i, name in enumerate(names) if name == role and i > 0]
        if not at:
            continue
        mean = {k: np.nanmean([s[i][k] for s in steps for i in at]) / 1000 for k in KEYS}
        mean.update({k: np.mean([s[i][k] for s in steps for i in at]) for k in COUNTS})
        blocks = int(np.mean([steps[0][i]["blocks"] for i in at]))
        print(f"{role:>8} {blocks:>6} " + " ".join(f"{mean[k]:7.2f}" for k in KEYS + COUNTS))
    edges = np.mean([np.nansum([s[i]["edge"] for i in range(1, len(step))]) for s in steps])
    bodies = np.mean([np.nansum([s[i]["body"] for i in range(1, len(step))]) for s in steps])
    print(f"a step's edges {edges / 1000:.1f} us, bodies {bodies / 1000:.1f} us")


if __name__ == "__main__":
    main()
