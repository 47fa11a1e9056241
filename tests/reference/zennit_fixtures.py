#!/usr/bin/env python3
"""Reference heatmaps from Zennit (an independent LRP implementation) for tests/zennit_reference.rs.

Builds three small networks with fixed seeds in PyTorch, saves each in the LRP Live model format
(safetensors, tensors `layers.{i}.weight|bias`, metadata `lrp`), and writes Zennit's attributions for
a fixed drawing-like input under composites that mirror lrp-conventions.md:

    pip install torch zennit safetensors numpy
    python3 tests/reference/zennit_fixtures.py        # writes tests/fixtures/zennit/

Not run by `make test`; the fixtures it writes are committed. Conventions that differ from Zennit's
defaults are set explicitly here: the stabilizer of the rules without an epsilon is our 1e-9 (Zennit's
default is 1e-6) gets zero_params='bias' (our w^2 has no bias); ZBox bounds are the model's input box.
"""
import json
import pathlib

import numpy as np
import torch
from safetensors.numpy import save_file
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite
from zennit.rules import AlphaBeta, Epsilon, Flat, Gamma, Norm, Pass, WSquare, ZBox, ZPlus
from zennit.types import Activation, AvgPool, Linear

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "zennit"


class Stage(torch.nn.Module):
    """The model's input stage: x * scale + shift, then constant padding."""

    def __init__(self, scale, shift, pad, value):
        super().__init__()
        self.scale, self.shift, self.pad, self.value = scale, shift, pad, value

    def forward(self, x):
        x = x * self.scale + self.shift
        if self.pad:
            x = torch.nn.functional.pad(x, (self.pad,) * 4, value=self.value)
        return x


def spec(layer):
    """Our metadata entry for a torch layer."""
    if isinstance(layer, torch.nn.Linear):
        return {"type": "dense", "inputs": layer.in_features, "outputs": layer.out_features}
    if isinstance(layer, torch.nn.Conv2d):
        return {"type": "conv2d", "in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "kernel": list(layer.kernel_size), "stride": list(layer.stride), "padding": layer.padding[0]}
    if isinstance(layer, torch.nn.ReLU):
        return {"type": "relu"}
    if isinstance(layer, torch.nn.Flatten):
        return {"type": "flatten"}
    if isinstance(layer, torch.nn.MaxPool2d):
        return {"type": "maxpool2d", "kernel": [layer.kernel_size] * 2, "stride": [layer.stride] * 2}
    if isinstance(layer, torch.nn.AvgPool2d):
        return {"type": "avgpool2d", "kernel": [layer.kernel_size] * 2, "stride": [layer.stride] * 2}
    raise TypeError(layer)


def save_model(net, stage, name):
    tensors = {}
    for i, layer in enumerate(net):
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            tensors[f"layers.{i}.weight"] = layer.weight.detach().numpy().astype(np.float32)
            tensors[f"layers.{i}.bias"] = layer.bias.detach().numpy().astype(np.float32)
    meta = {
        "format": "lrp-live-model", "version": 1, "name": name,
        "description": "random test network for the Zennit reference fixtures",
        "input": {"height": 28, "width": 28, "channels": 1, "scale": stage.scale, "shift": stage.shift,
                  "pad": stage.pad, "pad_value": stage.value},
        "layers": [spec(layer) for layer in net],
        "classes": [str(c) for c in range(10)],
        "provenance": {"source": "tests/reference/zennit_fixtures.py", "torch_seed": SEED[name]},
    }
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata={"lrp": json.dumps(meta)})


def nets():
    torch.manual_seed(SEED["mlp"])
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 24), torch.nn.ReLU(),
                              torch.nn.Linear(24, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    torch.manual_seed(SEED["cnn"])
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
                              torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2, 2),
                              torch.nn.Flatten(), torch.nn.Linear(216, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    torch.manual_seed(SEED["padded"])
    padded = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 5, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(4, 8, 3),
                                 torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(),
                                 torch.nn.Linear(8 * 6 * 6, 10))
    return [("mlp", mlp, Stage(1.0, 0.0, 0, 0.0)), ("cnn", cnn, Stage(1.0, 0.0, 0, 0.0)),
            ("padded", padded, Stage(2.0, -1.0, 2, -1.0))]


TINY = 1e-9  # lrp-conventions.md: the stabilizer of every rule without a user epsilon
SEED = {"mlp": 11, "cnn": 12, "padded": 13}


def composite(first, conv, dense, low, high):
    """A rule per layer type, with a special first layer, and Norm on average pooling (our presets)."""
    base = [(Activation, Pass()), (AvgPool, Norm(stabilizer=TINY))]
    layer_map = base + [(torch.nn.Conv2d, conv()), (torch.nn.Linear, dense())]
    if first is None:
        return LayerMapComposite(layer_map=layer_map)
    return SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=[(Linear, first(low, high))])


def methods(low, high):
    eps = lambda: Epsilon(epsilon=0.1)
    zero = lambda: Epsilon(epsilon=1e-9)
    gamma = lambda: Gamma(gamma=0.25, stabilizer=TINY)
    plus = lambda: ZPlus(stabilizer=TINY)
    ab = lambda: AlphaBeta(alpha=2.0, beta=1.0, stabilizer=TINY)
    zbox = lambda lo, hi: ZBox(low=lo, high=hi, stabilizer=TINY)
    flat = lambda lo, hi: Flat(stabilizer=TINY)
    w2 = lambda lo, hi: WSquare(zero_params="bias", stabilizer=TINY)
    return {
        "lrp-0": (None, zero, zero),
        "lrp-eps": (None, eps, eps),
        "lrp-gamma": (None, gamma, gamma),
        "lrp-alpha2-beta1": (None, ab, ab),
        "lrp-zplus": (None, plus, plus),
        "deep-taylor": (zbox, plus, plus),
        "epsilon-plus": (None, plus, eps),
        "epsilon-gamma-box": (zbox, gamma, eps),
        "epsilon-alpha2-beta1": (None, ab, eps),
        "epsilon-plus-flat": (flat, plus, eps),
        "rules:w2,zplus...": (w2, plus, plus),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    pixels = np.where(rng.random(784) < 0.3, rng.random(784), 0.0).astype(np.float32)
    for name, net, stage in nets():
        net.eval()
        save_model(net, stage, name)
        x = stage(torch.from_numpy(pixels).reshape(1, 1, 28, 28))
        low = torch.full_like(x, stage.shift if stage.scale > 0 else stage.scale + stage.shift)
        high = torch.full_like(x, stage.scale + stage.shift if stage.scale > 0 else stage.shift)
        if stage.pad:  # the padding is constant: its box is the pad value
            p = stage.pad
            mask = torch.ones_like(x, dtype=torch.bool)
            mask[..., p:-p, p:-p] = False
            low[mask] = stage.value
            high[mask] = stage.value
        if isinstance(net[0], torch.nn.Flatten):  # the first linear layer sees the flattened input
            low, high = low.flatten(1), high.flatten(1)
        with torch.no_grad():
            logits = net(x)[0]
        target = int(logits.argmax())
        results = {}
        for method, (first, conv, dense) in methods(low, high).items():
            comp = composite(first, conv, dense, low, high)
            with Gradient(model=net, composite=comp) as attributor:
                out, rel = attributor(x.clone().requires_grad_(True), torch.eye(10)[[target]] * logits[target])
            rel = rel[0, 0]
            if stage.pad:
                p = stage.pad
                inner = rel[p:-p, p:-p]
                results[method] = {"heatmap": inner.flatten().tolist(), "padding": float(rel.sum() - inner.sum())}
            else:
                results[method] = {"heatmap": rel.flatten().tolist(), "padding": 0.0}
        # Gradient x Input with respect to the normalized input
        xg = x.clone().requires_grad_(True)
        net(xg)[0, target].backward()
        gxi = (xg * xg.grad)[0, 0]
        if stage.pad:
            p = stage.pad
            gxi = gxi[p:-p, p:-p]
        results["gradient-x-input"] = {"heatmap": gxi.flatten().tolist(), "padding": None}
        fixture = {"model": f"{name}.safetensors", "pixels": pixels.tolist(), "target": target,
                   "logits": logits.tolist(), "zennit": "0.5.1", "torch": torch.__version__, "results": results}
        (OUT / f"{name}.json").write_text(json.dumps(fixture))
        print(f"{name}: target {target}, logit {float(logits[target]):.4f}, {len(results)} methods")


if __name__ == "__main__":
    main()
