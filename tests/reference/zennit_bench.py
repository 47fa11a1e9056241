#!/usr/bin/env python3
"""Reference column of `make bench`: Zennit (CPU PyTorch) explaining the shipped CNN with EpsilonPlus,
the same weights and MNIST test digits as `lrp bench`, single thread and default threads, batch 1 and
batch 100; our time as a ratio to it. It also checks that both produce the same heatmaps.

Optional: skipped with a message when torch or zennit is missing (`pip install torch zennit`).
Run after `lrp bench --json target/bench/native.json` (make bench does both).
"""
import gzip
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]

try:
    import numpy as np
    import torch
    from safetensors import safe_open
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlus
except ImportError as e:  # optional reference
    print(f"Zennit reference skipped: {e.name} is not installed (pip install torch zennit safetensors numpy)")
    sys.exit(0)


def load_model(path):
    with safe_open(str(path), "np") as f:
        meta = json.loads(f.metadata()["lrp"])
        layers = []
        for i, spec in enumerate(meta["layers"]):
            t = spec["type"]
            if t == "conv2d":
                m = torch.nn.Conv2d(spec["in_channels"], spec["out_channels"], tuple(spec["kernel"]), tuple(spec["stride"]), spec["padding"])
            elif t == "dense":
                m = torch.nn.Linear(spec["inputs"], spec["outputs"])
            elif t == "relu":
                m = torch.nn.ReLU()
            elif t == "maxpool2d":
                m = torch.nn.MaxPool2d(tuple(spec["kernel"]), tuple(spec["stride"]))
            elif t == "flatten":
                m = torch.nn.Flatten()
            else:
                raise ValueError(t)
            if t in ("conv2d", "dense"):
                m.weight.data = torch.from_numpy(f.get_tensor(f"layers.{i}.weight").copy())
                m.bias.data = torch.from_numpy(f.get_tensor(f"layers.{i}.bias").copy())
            layers.append(m)
    return torch.nn.Sequential(*layers).eval()


def digits(n):
    raw = gzip.open(ROOT / "www/data/t10k-images-idx3-ubyte.gz").read()
    return np.frombuffer(raw[16:16 + n * 784], dtype=np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255.0


def explain(model, x):
    composite = EpsilonPlus(epsilon=0.1, stabilizer=1e-9)
    with Gradient(model=model, composite=composite) as attributor:
        with torch.no_grad():
            logits = model(x)
        target = logits.argmax(1)
        onehot = torch.zeros_like(logits)
        onehot[torch.arange(len(x)), target] = logits[torch.arange(len(x)), target]
        _, rel = attributor(x.requires_grad_(True), onehot)
    return rel


def per_digit_us(model, xs, batch, reps):
    for i in range(0, min(len(xs), 5 * batch), batch):  # warm-up
        explain(model, torch.from_numpy(xs[i:i + batch]))
    times = []
    for r in range(reps):
        i = (r * batch) % (len(xs) - batch + 1)
        x = torch.from_numpy(xs[i:i + batch])
        t0 = time.perf_counter()
        explain(model, x)
        times.append((time.perf_counter() - t0) * 1e6 / batch)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(0.95 * len(times)))]


def main():
    model = load_model(ROOT / "models/cnn.safetensors")
    xs = digits(1000)
    # correctness: the same heatmaps as `lrp explain` on the first 100 digits. MNIST digits have
    # saturated strokes, so some max-pooling windows hold exactly equal maxima: torch routes everything to
    # the first, lrp-conventions.md splits equally. A tiny dither (1e-3) breaks those ties for the check.
    rng = np.random.default_rng(0)
    dithered = np.clip(xs[:100] + rng.uniform(0, 1e-3, xs[:100].shape).astype(np.float32), 0, 1)
    for name, batch in (("MNIST digits", xs[:100]), ("dithered digits", dithered)):
        with tempfile.TemporaryDirectory() as d:
            inp, out = pathlib.Path(d) / "x.npy", pathlib.Path(d) / "r.npy"
            np.save(inp, batch[:, 0])
            subprocess.run([str(ROOT / "target/release/lrp"), "explain", "--model", str(ROOT / "models/cnn.safetensors"), "--input", str(inp), "--method", "epsilon-plus", "--out", str(out)], check=True)
            ours = np.load(out)
        theirs = explain(model, torch.from_numpy(batch)).detach().numpy()[:, 0]
        err = np.abs(ours - theirs).max(axis=(1, 2)) / np.abs(theirs).max(axis=(1, 2))
        same = int((err < 1e-4).sum())
        print(f"EpsilonPlus heatmaps, {name}: ours vs Zennit {same}/100 the same (1e-4 of max |R|), largest difference {err.max():.1e}")
    native = {}
    try:
        for r in json.loads((ROOT / "target/bench/native.json").read_text()):
            if r["model"] == "cnn" and r["task"] == "epsilon-plus":
                native = r
    except FileNotFoundError:
        pass
    default_threads = torch.get_num_threads()
    print("CNN, forward + EpsilonPlus, per digit (µs)       median      p95   ours/Zennit (median)")
    for threads in (1, default_threads):
        torch.set_num_threads(threads)
        for batch, reps in ((1, 300), (100, 10)):
            med, p95 = per_digit_us(model, xs, batch, reps)
            ours = native.get("median_us" if batch == 1 else "batch100_us")
            ratio = f"{ours / med:.3f} ({med / ours:.0f}x faster)" if ours else "(run lrp bench first)"
            print(f"Zennit, {threads} thread{'s' if threads > 1 else ''}, batch {batch:<3}                 {med:9.1f} {p95:8.1f}   {ratio}")
    if native:
        print(f"ours (lrp bench), 1 thread, batch 1 / batch 100   {native['median_us']:9.1f} {native['p95_us']:8.1f}   batch 100: {native['batch100_us']:.1f} µs/digit")


if __name__ == "__main__":
    main()
