#!/usr/bin/env python3
"""Zennit reference heatmaps of the photo model (models/efficientnet-lite0.safetensors) for tests/photo_reference.rs.

    pip install torch zennit safetensors numpy pillow
    python3 tests/reference/photo_fixtures.py                 # into tests/fixtures/photos/
    python3 tests/reference/photo_fixtures.py --out /tmp/pf   # somewhere else

Not run by `make test`; the fixtures it writes are committed. Reuses tests/reference/zennit_fixtures.py
(the torch graph with `zennit.layer.Sum` for the residual adds, SAME padding inside the conv's forward, the
composites and their 1e-9 stabilizer) and models/efficientnet_lite0.py (the evaluation crop and its numpy
forward pass) by import.

- The torch network is built from the COMMITTED model file, the same bytes the Rust engine loads: its
  layer list (metadata `lrp`) and tensors `layers.{i}.weight` / `.bias`, float16 weights widened exactly
  (float16 -> float32 -> float64). BatchNorm is already folded into the convolutions (their biases are the
  folded BatchNorm shifts), so no canonizer is needed.
- Zennit runs in float64 on CPU, so the reference carries no float32 rounding of its own: what the Rust
  test measures is the engine's float32 error alone. The same attributions in float32 are computed too and
  their distance to float64 printed (and recorded), to show how much of a tolerance float32 needs.
- `clamp 0..6` is `torch.nn.ReLU6` (a Hardtanh): zennit.types.Activation, so the LRP composites give it
  `Pass` (relevance passes unchanged, as the engine's clamp does); the gradient is torch's
  `hardtanh_backward` (passes only where 0 < x < 6, as the engine's `clamp_backward`).
- The residual `add` is `zennit.layer.Sum` with `Norm(stabilizer=1e-9)`, global average pooling
  `AdaptiveAvgPool2d(1)` with the same `Norm` (zennit.types.AvgPool).
- The input stage is not a layer: pixels p in [0, 1] become x = p * 255/128 - 127/128 (the model card's
  scale and shift) and every attribution is taken with respect to x. z^B's box is pixel 0 and 1 mapped
  through the stage, low = -127/128 and high = 128/128 for every channel (as zennit_fixtures.py derives
  its bounds from the normalisation: (0 - mean) / std and (1 - mean) / std).
- Methods: epsilon-plus-flat (Flat first, ZPlus on convs, Epsilon 0.1 on the dense layer),
  epsilon-gamma-box (ZBox first, Gamma 0.25, Epsilon 0.1), the gradient, and for the first photo only
  epsilon-plus-flat with `zero_params=['bias']` on every rule (the engine's `bias: false`). The target
  is the predicted class and LRP starts from onehot * logit.

Files, per photo NAME (cat, coffee): NAME.npy, the crop (float32 [3, 224, 224], pixels in [0, 1], made by
center_crop); NAME.METHOD.npy, the heatmap summed over the three channels (float32 [224, 224]); NAME.json:
target, logit, top-5 logits, versions, and per method its file, the sum and the absolute sum of the full
[3, 224, 224] map, and the float32 Zennit run's max |f32 - f64| / max |f64| of the channel-summed map;
NAME.gradient-kinks.npy, the ReLU6 units near a kink (see KINK_MARGIN).
Self-checks: torch's logits match the numpy forward of models/efficientnet_lite0.py to 1e-3; every map is
finite and not all zero.
"""
import argparse
import hashlib
import importlib.metadata
import json
import pathlib
import sys

import numpy as np
import torch
from safetensors import safe_open
from zennit.attribution import Gradient
from zennit.layer import Sum
from zennit.rules import Epsilon, Flat, ZPlus

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "models"))
import efficientnet_lite0 as eff  # noqa: E402
import zennit_fixtures as zf  # noqa: E402

MODEL = ROOT / "models/efficientnet-lite0.safetensors"
OUT = ROOT / "tests/fixtures/photos"
PHOTOS = ("cat", "coffee")
BIAS_FREE_PHOTOS = ("cat",)
NO_BIAS = ["bias"]
# The gradient is discontinuous at ReLU6's kinks (0 and 6): a unit whose input lies within float32 rounding
# of a kink may have its gate set either way by a float32 forward pass, and on this network one such unit
# can move the map by half of its max. Listed for the test (NAME.gradient-kinks.npy, float64 rows
# [layer, index in the layer's input (CHW), float64 input]): every unit whose float64 input lies within
# KINK_MARGIN times the layer's max |input| of a kink, and whose flip could move the channel-summed map by
# KINK_IMPACT of its max |value| or more (estimated: |df/dy_u| times 10x the largest max |d input_u / dx|
# of the layer's 8 such units with the largest |df/dy_u|). Measured float32 errors of those inputs: the
# engine's at most 3.1e-6, torch's at most 1.4e-5 of the layer's max |input|.
KINK_MARGIN = 2e-5
KINK_IMPACT = 1e-4


def load(path):
    """The model file's layer list, its input stage, and its tensors by layer index (float32, float16 widened)."""
    with safe_open(str(path), "np") as f:
        meta = json.loads(f.metadata()["lrp"])
        raw = {k: f.get_tensor(k) for k in f.keys()}
    dtypes = sorted({str(v.dtype) for v in raw.values()})
    tensors = {}
    for k, spec in enumerate(meta["layers"]):
        if spec["type"] in ("conv2d", "dense"):
            tensors[k] = (raw.pop(f"layers.{k}.weight").astype(np.float32), raw.pop(f"layers.{k}.bias").astype(np.float32))
    assert not raw, f"tensors not used: {sorted(raw)[:5]}"
    return meta, tensors, dtypes


def graph(layers, tensors):
    """Our layer list as a zennit_fixtures.Graph (value 0 the normalised input, value j + 1 layer j's output)."""
    nn, nodes = torch.nn, []
    for k, spec in enumerate(layers):
        t = spec["type"]
        if t == "conv2d":
            pad = spec["padding"] if isinstance(spec["padding"], list) else [spec["padding"]] * 4
            assert spec["kernel"][0] == spec["kernel"][1] and spec["stride"][0] == spec["stride"][1], spec
            m = zf.PadConv2d(spec["in_channels"], spec["out_channels"], spec["kernel"][0], stride=spec["stride"][0],
                             groups=spec.get("groups", 1), pad=pad)
        elif t == "dense":
            m = nn.Linear(spec["in_features"], spec["out_features"])
        elif t == "clamp":
            assert (spec["min"], spec["max"]) == (0.0, 6.0), spec
            m = nn.ReLU6()
        elif t == "add":
            m = Sum()
        elif t == "globalavgpool":
            m = nn.AdaptiveAvgPool2d(1)
        elif t == "flatten":
            m = nn.Flatten()
        else:
            raise TypeError(t)
        if k in tensors:
            w, b = tensors[k]
            assert tuple(m.weight.shape) == w.shape and tuple(m.bias.shape) == b.shape, (k, w.shape)
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(w))
                m.bias.copy_(torch.from_numpy(b))
        nodes.append((m, spec.get("inputs", [k])))
    return zf.Graph(nodes).eval()


def no_bias_rules():
    """epsilon-plus-flat with zero_params=['bias'] on every rule (zennit_fixtures.composite's argument order)."""
    first = lambda lo, hi: Flat(stabilizer=zf.TINY, zero_params=NO_BIAS)  # noqa: E731 (Flat has no bias anyway)
    conv = lambda: ZPlus(stabilizer=zf.TINY, zero_params=NO_BIAS)  # noqa: E731
    dense = lambda: Epsilon(epsilon=0.1, zero_params=NO_BIAS)  # noqa: E731
    return first, conv, dense


def gradient_kinks(net, layers, x, target):
    """The ReLU6 units whose gate float32 may set either way and whose flip matters (see KINK_MARGIN), as
    [layer, index, float64 input] (index in the layer's input, CHW), and how many lay within the margin."""
    x = x.clone().requires_grad_(True)
    values = [x]
    for layer, inputs in zip(net.layers, net.inputs):
        args = [values[v] for v in inputs]
        y = layer(torch.stack(args, dim=-1)) if isinstance(layer, Sum) else layer(args[0])
        y.retain_grad()
        values.append(y)
    values[-1][0, target].backward(retain_graph=True)
    top = float(x.grad[0].sum(0).abs().max())
    units, near = [], 0
    for k, spec in enumerate(layers):
        if spec["type"] != "clamp":
            continue
        (v,) = spec.get("inputs", [k])
        pre = values[v][0].detach().reshape(-1)
        gy = values[k + 1].grad[0].reshape(-1).abs()
        margin = torch.minimum((pre - spec["min"]).abs(), (pre - spec["max"]).abs())
        cand = torch.nonzero(margin < KINK_MARGIN * pre.abs().max()).reshape(-1)
        near += len(cand)
        if not len(cand):
            continue
        cand = cand[torch.argsort(gy[cand], descending=True)]
        reach = max(float(torch.autograd.grad(values[v][0].reshape(-1)[i], x, retain_graph=True)[0][0].sum(0).abs().max())
                    for i in cand[:8].tolist())
        keep = cand[gy[cand] * 10 * reach >= KINK_IMPACT * top]
        units += [[k, int(i), float(pre[i])] for i in sorted(keep.tolist())]
    return units, near


def attributions(net, x, low, high, target, logit, methods):
    """Zennit's maps [3, 224, 224] for `target`, in net's dtype."""
    out = {}
    rules = zf.methods(low, high)
    for method in methods:
        if method == "gradient":
            xg = x.clone().requires_grad_(True)
            net(xg)[0, target].backward()
            out[method] = xg.grad[0].detach()
            continue
        first, conv, dense = no_bias_rules() if method == "epsilon-plus-flat-no-bias" else rules[method]
        comp = zf.composite(first, conv, dense, low, high, extra=[(Sum, zf.Norm(stabilizer=zf.TINY))])
        grad_out = torch.zeros(1, 1000, dtype=x.dtype)
        grad_out[0, target] = logit
        with Gradient(model=net, composite=comp) as attributor:
            _, rel = attributor(x.clone().requires_grad_(True), grad_out)
        out[method] = rel[0].detach()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"output directory (default: {OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(True)

    meta, tensors, dtypes = load(MODEL)
    scale, shift = meta["input"]["scale"], meta["input"]["shift"]
    assert (scale, shift) == (255 / 128, -127 / 128), meta["input"]
    nets = {torch.float64: graph(meta["layers"], tensors).double(), torch.float32: graph(meta["layers"], tensors)}
    classes = meta["classes"]
    sha = hashlib.sha256(MODEL.read_bytes()).hexdigest()

    for i, name in enumerate(PHOTOS):
        pixels = eff.center_crop(eff.PHOTOS / f"{name}.jpg")  # float32 [3, 224, 224] in [0, 1]
        assert pixels.dtype == np.float32 and pixels.shape == (3, 224, 224)
        np.save(args.out / f"{name}.npy", pixels)
        # the numpy forward of the converter (float32) on the same weights
        want = eff.forward(meta["layers"], tensors, pixels * np.float32(scale) + np.float32(shift))
        methods = ["epsilon-plus-flat", "epsilon-gamma-box", "gradient"]
        if name in BIAS_FREE_PHOTOS:
            methods.append("epsilon-plus-flat-no-bias")
        maps, logits = {}, {}
        for dtype, net in nets.items():
            x = torch.from_numpy(pixels.astype(np.float64) * scale + shift).to(dtype)[None]
            low, high = torch.full_like(x, 0.0 * scale + shift), torch.full_like(x, 1.0 * scale + shift)
            with torch.no_grad():
                z = net(x)[0]
            logits[dtype] = z.double().numpy()
            target = int(z.argmax())
            maps[dtype] = attributions(net, x, low, high, target, z[target].item(), methods)
        z = logits[torch.float64]
        target = int(z.argmax())
        assert int(logits[torch.float32].argmax()) == target
        diff = float(np.abs(z - want).max())
        assert diff < 1e-3, f"{name}: torch and the numpy forward differ by {diff}"
        top5 = [int(c) for c in np.argsort(-z)[:5]]
        record = {
            "photo": f"www/data/photos/{name}.jpg", "crop": f"{name}.npy",
            "model": "models/efficientnet-lite0.safetensors", "model_sha256": sha, "model_dtypes": dtypes,
            "target": target, "class": classes[target], "logit": float(z[target]),
            "top5": [{"class": c, "name": classes[c], "logit": float(z[c])} for c in top5],
            "zennit": importlib.metadata.version("zennit"), "torch": torch.__version__, "dtype": "float64",
            "stabilizer": zf.TINY, "epsilon": 0.1, "gamma": 0.25, "zbox": {"low": shift, "high": scale + shift},
            "numpy_forward_max_logit_diff": diff, "methods": {},
        }
        x64 = torch.from_numpy(pixels.astype(np.float64) * scale + shift)[None]
        kinks, near = gradient_kinks(nets[torch.float64], meta["layers"], x64, target)
        for method in methods:
            full = maps[torch.float64][method].numpy()
            summed = full.sum(axis=0)
            assert np.isfinite(full).all() and np.abs(summed).max() > 0, (name, method)
            f32 = maps[torch.float32][method].double().numpy().sum(axis=0)
            rel32 = float(np.abs(f32 - summed).max() / np.abs(summed).max())
            file = f"{name}.{method}.npy"
            np.save(args.out / file, summed.astype(np.float32))
            record["methods"][method] = {
                "map": file, "sum": float(full.sum()), "abs_sum": float(np.abs(full).sum()),
                "max_abs": float(np.abs(summed).max()), "float32_zennit_max_rel_diff": rel32,
            }
            if method == "gradient":
                np.save(args.out / f"{name}.gradient-kinks.npy", np.array(kinks, dtype=np.float64).reshape(-1, 3))
                record["methods"][method]["kinks"] = {"file": f"{name}.gradient-kinks.npy", "margin": KINK_MARGIN,
                                                      "impact": KINK_IMPACT, "near": near, "listed": len(kinks)}
                print(f"{name} gradient: {near} ReLU6 units within {KINK_MARGIN:g} of a kink, {len(kinks)} listed")
            print(f"{name} {method}: sum {full.sum():.6g} ({100 * full.sum() / z[target]:.4f} % of the logit), "
                  f"max |R| {np.abs(summed).max():.4g}; Zennit float32 vs float64: {rel32:.2e} of max |R|")
        (args.out / f"{name}.json").write_text(json.dumps(record, indent=1, separators=(",", ":")) + "\n")
        print(f"{name}: target {target} ({classes[target]}), logit {z[target]:.6f}; numpy forward {diff:.1e}")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
