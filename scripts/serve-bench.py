#!/usr/bin/env python3
"""Load benchmark of `concord serve` (a benchmark, not a test): aggregate generated
tokens/s and time to first token (p50, p99) at several concurrency levels, with streaming
requests through the official openai SDK.

    scripts/serve-bench.py [--concord build/release/src/concord] [--model M.gguf]
                           [--levels 1,8,32] [--requests 64] [--max-tokens 64] [--parallel 32]

Without --model it writes a synthetic Llama model (4 layers, width 512, Q8_0).
"""
import argparse
import concurrent.futures
import os
import re
import statistics
import subprocess
import tempfile
import time

import openai


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def one_request(client, prompt, max_tokens):
    start = time.perf_counter()
    first = None
    tokens = 0
    for chunk in client.completions.create(model="bench", prompt=prompt, max_tokens=max_tokens,
                                           temperature=0, stream=True,
                                           stream_options={"include_usage": True},
                                           extra_body={"ignore_eos": True}):
        if chunk.choices and first is None:
            first = time.perf_counter() - start
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return first, tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--concord", default="build/release/src/concord")
    ap.add_argument("--model")
    ap.add_argument("--levels", default="1,8,32")
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--parallel", type=int, default=32)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if not model:
            model = os.path.join(tmp, "bench.gguf")
            subprocess.run([args.concord, "synth", "-o", model, "--layers", "4", "--width", "512",
                            "--heads", "8", "--ff", "1536", "--vocab", "4096", "--ctx", "1024",
                            "--type", "q8_0", "--seed", "1"], check=True, capture_output=True)
        server = subprocess.Popen([args.concord, "serve", "-m", "bench=" + model, "--port", "0",
                                   "--parallel", str(args.parallel), "--ctx", "512", "--backend",
                                   args.backend], stdout=subprocess.PIPE, text=True)
        try:
            port = re.search(r":(\d+)", server.stdout.readline()).group(1)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none",
                                   max_retries=0, timeout=600)
            while True:
                try:
                    client.models.list()
                    break
                except openai.APIError:
                    time.sleep(0.1)
            print(f"model {model}, backend {args.backend}, --parallel {args.parallel}, "
                  f"{args.max_tokens} tokens per request")
            print("| concurrency | requests | generated tok/s | TTFT p50 ms | TTFT p99 ms |")
            print("| ---: | ---: | ---: | ---: | ---: |")
            for level in (int(x) for x in args.levels.split(",")):
                n = max(args.requests, level)
                prompts = [f"request {i} tells a story about the sea" for i in range(n)]
                start = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(level) as pool:
                    results = list(pool.map(lambda p: one_request(client, p, args.max_tokens), prompts))
                elapsed = time.perf_counter() - start
                ttft = [r[0] * 1000 for r in results]
                tokens = sum(r[1] for r in results)
                print(f"| {level} | {n} | {tokens / elapsed:.1f} | {statistics.median(ttft):.1f} | "
                      f"{percentile(ttft, 99):.1f} |")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
