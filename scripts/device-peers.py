#!/usr/bin/env python3
"""Peers for the CUDA decode figures, through PyTorch on the device machine (it has torch;
the development machine need not): copy, add and read-only bandwidths of 1 GiB buffers, and
cuBLAS fp16 matrix-vector products (torch.mv) on the Llama-3-8B decode shapes, in GB/s of
weights, each matrix cycled through enough copies that L2 (50 MB) never holds it.

    python3 scripts/device-peers.py        (through the `device` tool)
"""
import torch


def seconds_per_call(call, reps):
    call()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        call()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / 1e3 / reps


def bandwidths():
    n = 1 << 28  # floats: 1 GiB per buffer
    a, b = torch.ones(n, device="cuda"), torch.ones(n, device="cuda")
    c = torch.empty(n, device="cuda")
    size = 4 * n
    for name, moved, call in [("copy (read + written)", 2, lambda: c.copy_(a)),
                              ("add (2 reads + 1 write)", 3, lambda: torch.add(a, b, out=c)),
                              ("sum (read only)", 1, lambda: a.sum())]:
        print(f"{name}: {moved * size / seconds_per_call(call, 20) / 1e9:.0f} GB/s")


def matrix_vector():
    shapes = {"qkv": (6144, 4096), "q/o": (4096, 4096), "gate+up": (28672, 4096),
              "gate": (14336, 4096), "down": (4096, 14336), "output": (128256, 4096)}
    for name, (rows, cols) in shapes.items():
        size = rows * cols * 2
        copies = [torch.randn(rows, cols, device="cuda", dtype=torch.float16)
                  for _ in range(max(1, int(400e6 // size)))]
        x = torch.randn(cols, device="cuda", dtype=torch.float16)
        y = torch.empty(rows, device="cuda", dtype=torch.float16)

        def every_copy():
            for w in copies:
                torch.mv(w, x, out=y)

        t = seconds_per_call(every_copy, 50) / len(copies)
        print(f"cuBLAS fp16 mv {name} {rows}x{cols}: {t * 1e6:.1f} us, {size / t / 1e9:.0f} GB/s")


if __name__ == "__main__":
    bandwidths()
    matrix_vector()
