#!/usr/bin/env python3
"""Reference heatmaps from Zennit (an independent LRP implementation) for tests/zennit_reference.rs.

Builds small networks with fixed seeds in PyTorch, saves each in the LRP Live model format
(safetensors, tensors `layers.{i}.<name>`, metadata `lrp`), and writes Zennit's attributions for
a fixed drawing-like input under composites that mirror lrp-conventions.md:

    pip install torch zennit safetensors numpy
    python3 tests/reference/zennit_fixtures.py                   # every fixture, into tests/fixtures/zennit/
    python3 tests/reference/zennit_fixtures.py gap concat        # only these
    python3 tests/reference/zennit_fixtures.py --out /tmp/zf     # somewhere else

Not run by `make test`; the fixtures it writes are committed. Conventions that differ from Zennit's
defaults are set explicitly here: the stabilizer of the rules without an epsilon is our 1e-9 (Zennit's
default is 1e-6); WSquare gets zero_params='bias' (our w^2 has no bias); ZBox bounds are the model's
input box.

Sequential fixtures (format version 1): mlp, cnn, padded. Their JSON holds float32 results printed
with 17 digits, which depend on the CPU's BLAS/SIMD code path: on another machine a rerun changes the
last digits (about 1e-7 of max |R|) while the safetensors stay byte-identical.

Graph fixtures (format version 2; every layer lists its "inputs" values: value 0 is the normalised
input, value j+1 the output of layer j): normconv, resblock, gap, concat. Each net is ONE list of
(module, inputs) nodes that both `Graph.forward` and the file writer walk. Choices made for Zennit:
- The residual `+` is a `zennit.layer.Sum` over `torch.stack([a, b], dim=-1)`, mapped to
  `Norm(stabilizer=TINY)`; a plain `+` would hand the full relevance to both branches.
- Channel concatenation is a plain `torch.cat` (module `Concat`) with no rule: the gradient splits by
  slices, which is the relevance split we want.
- BatchNorm is merged by Zennit's own canonizer, `zennit.canonizers.NamedMergeBatchNorm` with the
  explicit (conv, batchnorm) name pairs (SequentialMergeBatchNorm only handles nn.Sequential). Zennit
  0.5.1 leaves the reduced batchnorm computing x / sqrt(1 + eps) instead of x (running_var := 1, eps
  kept), so the subclass `ExactMergeBatchNorm` also sets eps to 0 while merged, and restores it. The
  reference is thus the LRP of the folded network, which is what our loader builds; the saved file
  holds the unfolded conv + batchnorm layers. Convs followed by a batchnorm have no bias in torch and
  are saved with a zero bias.
- nn.ReLU6 (a Hardtanh) and nn.ReLU are zennit.types.Activation and get Pass; ReLU6 is saved as
  {"type": "clamp", "min": 0, "max": 6}. normconv's first batchnorm shifts one channel by +5.5 so that
  some ReLU6 units saturate (Pass still hands their relevance down; their gradient is 0).
- nn.AdaptiveAvgPool2d(1) is a zennit.types.AvgPool and gets Norm(stabilizer=TINY), like AvgPool2d.
- TensorFlow "SAME" asymmetric padding is a Conv2d subclass (`PadConv2d`) that zero-pads inside its
  forward. Zennit's rules call the module's forward on their modified inputs, so Flat's ones and ZBox's
  low/high get zero padding too: the padding behaves exactly like a conv's built-in zero padding (it
  contributes nothing and is not an input). In our file it is the conv's "padding" [top, left, bottom, right].
- The input stage (p - mean_c) / std_c is not a layer: Zennit attributes with respect to the
  normalised input, and the heatmap is all C x H x W values in CHW order. z^B bounds are, per
  channel, (0 - mean_c) / std_c and (1 - mean_c) / std_c.
- Depthwise and 1x1 convs are conv layers and take the conv rule.
Each LRP result records its rules ("rules": the preset's first/conv/dense rules and "layers", the rule
of every saved layer in our rule-list spelling, null for none). Self-checks: a numpy forward of the
SAVED file (batchnorm unfolded) and the BN-merged network Zennit explains both reproduce torch's logits
to 1e-5; every heatmap is finite and not all zero. Graph fixture JSON prints float32 values in their
shortest round-trip form, without spaces.
"""
import argparse
import importlib.metadata
import json
import pathlib

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from zennit.attribution import Gradient
from zennit.canonizers import NamedMergeBatchNorm
from zennit.composites import LayerMapComposite, SpecialFirstLayerMapComposite
from zennit.layer import Sum
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


def save_model(net, stage, name, out):
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
    save_file(tensors, str(out / f"{name}.safetensors"), metadata={"lrp": json.dumps(meta)})


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


def composite(first, conv, dense, low, high, extra=(), canonizers=None):
    """A rule per layer type, with a special first layer, and Norm on average pooling (our presets)."""
    base = [(Activation, Pass()), (AvgPool, Norm(stabilizer=TINY))] + list(extra)
    layer_map = base + [(torch.nn.Conv2d, conv()), (torch.nn.Linear, dense())]
    if first is None:
        return LayerMapComposite(layer_map=layer_map, canonizers=canonizers)
    return SpecialFirstLayerMapComposite(layer_map=layer_map, first_map=[(Linear, first(low, high))],
                                         canonizers=canonizers)


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


def sequential_fixtures(out_dir, names):
    """The format-version-1 fixtures: nn.Sequential nets behind a scalar input stage."""
    rng = np.random.default_rng(5)
    pixels = np.where(rng.random(784) < 0.3, rng.random(784), 0.0).astype(np.float32)
    for name, net, stage in nets():
        if name not in names:
            continue
        net.eval()
        save_model(net, stage, name, out_dir)
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
        (out_dir / f"{name}.json").write_text(json.dumps(fixture))
        print(f"{name}: target {target}, logit {float(logits[target]):.4f}, {len(results)} methods")

# ---------------------------------------------------------------------------------------------------
# Graph fixtures (format version 2)


class PadConv2d(torch.nn.Conv2d):
    """A conv with zero padding (top, left, bottom, right), e.g. TensorFlow "SAME"; pads inside forward."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.pad = tuple(int(p) for p in pad)

    def forward(self, x):
        top, left, bottom, right = self.pad
        return self._conv_forward(torch.nn.functional.pad(x, (left, right, top, bottom)), self.weight, self.bias)


def same_pad(size, kernel, stride):
    """TensorFlow "SAME" padding along one axis: (before, after), the odd pixel after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Concat(torch.nn.Module):
    """Channel concatenation of its inputs, in order (no rule: the gradient splits by slices)."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Graph(torch.nn.Module):
    """Layers with explicit inputs: value 0 is the (normalised) input, value j+1 the output of layer j.
    The residual sum is zennit.layer.Sum over the inputs stacked along a new last axis."""

    def __init__(self, nodes):
        super().__init__()
        self.layers = torch.nn.ModuleList(m for m, _ in nodes)
        self.inputs = [list(i) for _, i in nodes]
        for k, inputs in enumerate(self.inputs):
            assert inputs and all(0 <= v <= k for v in inputs), (k, inputs)

    def forward(self, x):
        values = [x]
        for layer, inputs in zip(self.layers, self.inputs):
            args = [values[v] for v in inputs]
            if isinstance(layer, Sum):
                values.append(layer(torch.stack(args, dim=-1)))
            elif isinstance(layer, Concat):
                values.append(layer(*args))
            else:
                assert len(args) == 1, layer
                values.append(layer(args[0]))
        return values[-1]

    def bn_pairs(self):
        """(conv layer, batchnorm layer) index pairs: every batchnorm must directly follow a conv whose output
        nothing else reads (else folding would change the other readers)."""
        pairs = []
        for k, layer in enumerate(self.layers):
            if isinstance(layer, torch.nn.BatchNorm2d):
                (v,) = self.inputs[k]
                assert v >= 1 and isinstance(self.layers[v - 1], torch.nn.Conv2d), k
                assert [j for j, i in enumerate(self.inputs) if v in i] == [k], f"conv {v - 1} has other readers"
                pairs.append((v - 1, k))
        return pairs


class ExactMergeBatchNorm(NamedMergeBatchNorm):
    """Zennit's NamedMergeBatchNorm, but the merged batchnorm is the exact identity: zennit 0.5.1 resets
    running_var to 1 and keeps eps, which leaves x / sqrt(1 + eps)."""

    def register(self, linears, batch_norm):
        super().register(linears, batch_norm)
        self.eps = batch_norm.eps
        batch_norm.eps = 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps


def graph_spec(layer):
    """Our version-2 metadata entry for a torch layer (without "inputs")."""
    nn = torch.nn
    if isinstance(layer, nn.Linear):
        return {"type": "dense", "in_features": layer.in_features, "out_features": layer.out_features}
    if isinstance(layer, nn.Conv2d):
        if isinstance(layer, PadConv2d):
            padding = list(layer.pad)
        else:
            ph, pw = layer.padding
            padding = [ph, pw, ph, pw]
        assert layer.padding_mode == "zeros"
        return {"type": "conv2d", "in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "kernel": list(layer.kernel_size), "stride": list(layer.stride), "padding": padding,
                "dilation": list(layer.dilation), "groups": layer.groups}
    if isinstance(layer, nn.BatchNorm2d):
        return {"type": "batchnorm", "channels": layer.num_features, "eps": layer.eps}
    if isinstance(layer, nn.ReLU):
        return {"type": "relu"}
    if isinstance(layer, nn.Hardtanh):  # nn.ReLU6 included
        return {"type": "clamp", "min": float(layer.min_val), "max": float(layer.max_val)}
    if isinstance(layer, nn.Flatten):
        return {"type": "flatten"}
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        assert layer.output_size in (1, (1, 1)), layer
        return {"type": "globalavgpool"}
    if isinstance(layer, Sum):
        return {"type": "add"}
    if isinstance(layer, Concat):
        return {"type": "concat"}
    if isinstance(layer, nn.MaxPool2d):
        assert layer.padding == 0 and layer.dilation == 1 and not layer.ceil_mode, layer
        return {"type": "maxpool2d", "kernel": list(torch.nn.modules.utils._pair(layer.kernel_size)),
                "stride": list(torch.nn.modules.utils._pair(layer.stride))}
    if isinstance(layer, nn.AvgPool2d):
        assert layer.count_include_pad and not layer.ceil_mode, layer
        p = torch.nn.modules.utils._pair(layer.padding)
        return {"type": "avgpool2d", "kernel": list(torch.nn.modules.utils._pair(layer.kernel_size)),
                "stride": list(torch.nn.modules.utils._pair(layer.stride)), "padding": [p[0], p[1], p[0], p[1]]}
    raise TypeError(layer)


def save_graph(g, path):
    tensors, layers = {}, []
    for k, (layer, inputs) in enumerate(zip(g.net.layers, g.net.inputs)):
        layers.append({**graph_spec(layer), "inputs": inputs})
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            names = {"weight": layer.weight, "bias": layer.bias if layer.bias is not None
                     else torch.zeros(layer.weight.shape[0])}
        elif isinstance(layer, torch.nn.BatchNorm2d):
            names = {n: getattr(layer, n) for n in ("weight", "bias", "running_mean", "running_var")}
        else:
            names = {}
        for n, t in names.items():
            tensors[f"layers.{k}.{n}"] = t.detach().numpy().astype(np.float32)
    c, h, w = g.shape
    meta = {
        "format": "lrp-live-model", "version": 2, "name": g.name, "description": g.description,
        "classes": [str(c) for c in range(10)],
        "provenance": {"source": "tests/reference/zennit_fixtures.py", "torch_seed": GRAPH_SEED[g.name]},
        "input": {"channels": c, "height": h, "width": w, "mean": g.mean, "std": g.std, "pad": 0, "pad_value": 0.0},
        "layers": layers,
    }
    save_file(tensors, str(path), metadata={"lrp": json.dumps(meta)})


def numpy_forward(path, pixels):
    """Our format's semantics, independently of torch: walk the SAVED spec and tensors (float64)."""
    with safe_open(str(path), "np") as f:
        meta = json.loads(f.metadata()["lrp"])
        t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    assert meta["format"] == "lrp-live-model" and meta["version"] == 2
    inp = meta["input"]
    c, h, w = inp["channels"], inp["height"], inp["width"]
    mean, std = np.array(inp["mean"])[:, None, None], np.array(inp["std"])[:, None, None]
    x = np.pad((pixels.astype(np.float64).reshape(c, h, w) - mean) / std, [(0, 0)] + [(inp["pad"], inp["pad"])] * 2,
               constant_values=inp["pad_value"])

    def pool(a, kernel, stride, reduce):
        (kh, kw), (sh, sw) = kernel, stride
        oh, ow = (a.shape[1] - kh) // sh + 1, (a.shape[2] - kw) // sw + 1
        windows = [a[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] for i in range(kh) for j in range(kw)]
        return reduce(np.stack(windows), axis=0)

    def conv(a, weight, bias, spec):
        top, left, bottom, right = spec["padding"]
        (kh, kw), (sh, sw), (dh, dw), groups = spec["kernel"], spec["stride"], spec["dilation"], spec["groups"]
        assert a.shape[0] == spec["in_channels"]
        assert weight.shape == (spec["out_channels"], spec["in_channels"] // groups, kh, kw)
        a = np.pad(a, ((0, 0), (top, bottom), (left, right)))
        oh, ow = (a.shape[1] - dh * (kh - 1) - 1) // sh + 1, (a.shape[2] - dw * (kw - 1) - 1) // sw + 1
        cin, cout = spec["in_channels"] // groups, spec["out_channels"] // groups
        y = np.zeros((spec["out_channels"], oh, ow))
        for gi in range(groups):
            xs, ws = a[gi * cin:(gi + 1) * cin], weight[gi * cout:(gi + 1) * cout]
            for i in range(kh):
                for j in range(kw):
                    patch = xs[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                    y[gi * cout:(gi + 1) * cout] += np.einsum("oc,chw->ohw", ws[:, :, i, j], patch)
        return y + bias[:, None, None]

    values = [x]
    for k, spec in enumerate(meta["layers"]):
        args = [values[v] for v in spec.get("inputs", [k])]
        a, kind = args[0], spec["type"]
        p = lambda n: t[f"layers.{k}.{n}"]
        if kind == "conv2d":
            y = conv(a, p("weight"), p("bias"), spec)
        elif kind == "dense":
            assert a.ndim == 1 and p("weight").shape == (spec["out_features"], spec["in_features"])
            y = p("weight") @ a + p("bias")
        elif kind == "batchnorm":
            col = lambda v: v[:, None, None]
            y = (a - col(p("running_mean"))) / np.sqrt(col(p("running_var")) + spec["eps"]) * col(p("weight")) + col(p("bias"))
        elif kind == "relu":
            y = np.maximum(a, 0.0)
        elif kind == "clamp":
            y = np.clip(a, spec["min"], spec["max"])
        elif kind == "flatten":
            y = a.ravel()
        elif kind == "globalavgpool":
            y = a.mean(axis=(1, 2), keepdims=True)
        elif kind == "add":
            assert len(args) >= 2 and all(b.shape == a.shape for b in args)
            y = sum(args)
        elif kind == "concat":
            y = np.concatenate(args, axis=0)
        elif kind == "maxpool2d":
            y = pool(a, spec["kernel"], spec["stride"], np.max)
        elif kind == "avgpool2d":
            top, left, bottom, right = spec["padding"]
            y = pool(np.pad(a, ((0, 0), (top, bottom), (left, right))), spec["kernel"], spec["stride"], np.mean)
        else:
            raise TypeError(kind)
        values.append(y)
    return values[-1]


def randomize_bn(bn):
    """Running statistics and affine parameters far from the identity (one channel with a negative gamma)."""
    c = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(1.0 + 0.4 * torch.randn(c))
        bn.weight[0] = -0.7
        bn.bias.copy_(0.2 * torch.randn(c))
        bn.running_mean.copy_(0.3 * torch.randn(c))
        bn.running_var.copy_(0.3 + 1.7 * torch.rand(c))


class GraphNet:
    def __init__(self, name, description, net, shape, mean, std):
        self.name, self.description, self.net, self.shape, self.mean, self.std = name, description, net, shape, mean, std


GRAPH_SEED = {"normconv": 21, "resblock": 22, "gap": 23, "concat": 24}


def graph_nets():
    nn = torch.nn
    nets = []

    torch.manual_seed(GRAPH_SEED["normconv"])
    (top, bottom), (left, right) = same_pad(32, 3, 2), same_pad(32, 3, 2)
    bn1, bn2 = nn.BatchNorm2d(8, eps=1e-3), nn.BatchNorm2d(8, eps=1e-3)
    net = Graph([
        (PadConv2d(3, 8, 3, stride=2, pad=(top, left, bottom, right), bias=False), [0]),  # 3x32x32 -> 8x16x16
        (bn1, [1]), (nn.ReLU6(), [2]),
        (nn.Conv2d(8, 8, 3, padding=1, bias=False), [3]), (bn2, [4]), (nn.ReLU6(), [5]),
        (nn.Flatten(), [6]), (nn.Linear(8 * 16 * 16, 10), [7]),
    ])
    randomize_bn(bn1)
    randomize_bn(bn2)
    with torch.no_grad():
        bn1.bias[2] += 5.5  # some ReLU6 units saturate
    nets.append(GraphNet("normconv", "per-channel normalisation, SAME-padded stride-2 conv, batchnorm, ReLU6",
                         net, (3, 32, 32), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))

    torch.manual_seed(GRAPH_SEED["resblock"])
    (top, bottom), (left, right) = same_pad(28, 3, 2), same_pad(28, 3, 2)
    bn = nn.BatchNorm2d(8)
    net = Graph([
        (PadConv2d(1, 8, 3, stride=2, pad=(top, left, bottom, right)), [0]), (nn.ReLU(), [1]),  # value 2: block input
        (nn.Conv2d(8, 16, 1), [2]), (nn.ReLU6(), [3]),                                         # expand
        (nn.Conv2d(16, 16, 3, padding=1, groups=16), [4]), (nn.ReLU6(), [5]),                  # depthwise
        (nn.Conv2d(16, 8, 1, bias=False), [6]), (bn, [7]),                                      # project
        (Sum(), [8, 2]), (nn.ReLU(), [9]),                                                      # residual
        (nn.Flatten(), [10]), (nn.Linear(8 * 14 * 14, 10), [11]),
    ])
    randomize_bn(bn)
    nets.append(GraphNet("resblock", "SAME stem, inverted residual block (1x1 expand, depthwise 3x3, 1x1 project + BN), add",
                         net, (1, 28, 28), [0.5], [0.5]))

    torch.manual_seed(GRAPH_SEED["gap"])
    net = Graph([
        (nn.Conv2d(3, 12, 3, padding=1), [0]), (nn.ReLU(), [1]),
        (nn.Conv2d(12, 12, 3, stride=2, padding=1), [2]), (nn.ReLU(), [3]),  # 12x8x8
        (nn.AdaptiveAvgPool2d(1), [4]), (nn.Flatten(), [5]), (nn.Linear(12, 10), [6]),
    ])
    nets.append(GraphNet("gap", "two convs, global average pooling, dense", net, (3, 16, 16),
                         [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]))

    torch.manual_seed(GRAPH_SEED["concat"])
    net = Graph([
        (nn.Conv2d(1, 4, 3), [0]), (nn.ReLU(), [1]),                 # 4x26x26, value 2
        (nn.Conv2d(4, 3, 3, padding=1), [2]), (nn.ReLU(), [3]),      # branch A, value 4
        (nn.Conv2d(4, 5, 1), [2]), (nn.ReLU(), [5]),                 # branch B, value 6
        (Concat(), [4, 6]), (nn.MaxPool2d(2), [7]),                  # 8x13x13
        (nn.Flatten(), [8]), (nn.Linear(8 * 13 * 13, 10), [9]),
    ])
    nets.append(GraphNet("concat", "two conv branches concatenated along channels, max pooling, dense",
                         net, (1, 28, 28), [0.1307], [0.3081]))
    return nets


def drawing(rng, shape):
    """A few anti-aliased coloured strokes on black plus sparse speckles, quantised to 8 bits."""
    c, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros(shape)
    for _ in range(4):
        (y0, y1), (x0, x1) = rng.uniform(2, h - 3, 2), rng.uniform(2, w - 3, 2)
        d = np.array([y1 - y0, x1 - x0])
        s = np.clip(((yy - y0) * d[0] + (xx - x0) * d[1]) / max(d @ d, 1e-9), 0, 1)
        dist = np.hypot(yy - (y0 + s * d[0]), xx - (x0 + s * d[1]))
        ink = np.clip(rng.uniform(1.2, 2.0) - dist, 0, 1)
        img = np.maximum(img, ink[None] * rng.uniform(0.4, 1.0, c)[:, None, None])
    img = np.where(rng.random(shape) < 0.05, rng.random(shape), img)
    return (np.round(img * 255) / 255).astype(np.float32)


def f32(t):
    """float32 values (CHW order) as the shortest decimals that round-trip to the same float32."""
    return [float(str(v)) for v in np.asarray(t.detach() if isinstance(t, torch.Tensor) else t, dtype=np.float32).ravel()]


GRAPH_METHODS = {  # method -> rules (first layer or None, conv, dense) in our rule-list spelling
    "lrp-eps": (None, "eps=0.1", "eps=0.1"),
    "epsilon-plus": (None, "zplus", "eps=0.1"),
    "epsilon-plus-flat": ("flat", "zplus", "eps=0.1"),
    "epsilon-gamma-box": ("zb", "gamma=0.25", "eps=0.1"),
    "epsilon-alpha2-beta1": (None, "alpha2-beta1", "eps=0.1"),
    "lrp-zplus": (None, "zplus", "zplus"),
}


def rule_record(net, method):
    first, conv, dense = GRAPH_METHODS[method]
    layers, seen = [], False
    for layer in net.layers:
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            rule = first if first is not None and not seen else conv if isinstance(layer, torch.nn.Conv2d) else dense
            seen = True
        elif isinstance(layer, (Sum, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)):
            rule = "0"  # Norm(stabilizer=TINY)
        else:
            rule = None  # activations (Pass), max pooling and concat (gradient), flatten, batchnorm (folded)
        layers.append(rule)
    return {"first": first, "conv": conv, "dense": dense, "add": "0", "avgpool": "0", "stabilizer": TINY,
            "batchnorm": "folded into the preceding conv", "layers": layers}


def graph_pixels(g, seed):
    """The fixture's input: a drawing of the net's input shape."""
    pixels = drawing(np.random.default_rng(100 + seed), g.shape)
    if any(isinstance(layer, torch.nn.MaxPool2d) for layer in g.net.layers):
        # a black background makes equal maxima (a ReLU of a bias): torch routes a tie to the first
        # maximum, LRP Live splits it (lrp-conventions.md). A dither of 1e-3 leaves no exact ties.
        dither = np.random.default_rng(200 + seed).uniform(0.0, 1e-3, g.shape)
        pixels = np.clip(pixels + dither, 0.0, 1.0).astype(np.float32)
    return pixels


def zennit_results(net, x, logits, target, mean, std):
    """Zennit's heatmaps of a Graph for the class `target`: the gradient, gradient x input and every
    GRAPH_METHODS preset (BatchNorm merged by ExactMergeBatchNorm). Also returns how far the BN-merged
    network's output is from `logits`. Every heatmap is checked finite and not all zero."""
    low, high = ((0.0 - mean) / std).expand(x.shape).clone(), ((1.0 - mean) / std).expand(x.shape).clone()
    pairs = net.bn_pairs()
    name_map = [((f"layers.{a}",), f"layers.{b}") for a, b in pairs]

    results = {}
    xg = x.clone().requires_grad_(True)
    net(xg)[0, target].backward()
    results["gradient"] = {"heatmap": f32(xg.grad[0]), "padding": None}
    results["gradient-x-input"] = {"heatmap": f32((x * xg.grad)[0]), "padding": None}
    rules = methods(low, high)
    merged_diff = 0.0
    for method in GRAPH_METHODS:
        first, conv, dense = rules[method]
        comp = composite(first, conv, dense, low, high, extra=[(Sum, Norm(stabilizer=TINY))],
                         canonizers=[ExactMergeBatchNorm(name_map)] if name_map else None)
        with Gradient(model=net, composite=comp) as attributor:
            output, rel = attributor(x.clone().requires_grad_(True), torch.eye(10)[[target]] * logits[target])
        merged_diff = max(merged_diff, float((output[0].detach() - logits).abs().max()))
        results[method] = {"heatmap": f32(rel[0]), "padding": 0.0, "rules": rule_record(net, method)}
    assert merged_diff < 1e-5, f"the BN-merged network differs from torch by {merged_diff}"
    for state in net.state_dict().values():  # the canonizers restored every parameter
        assert torch.isfinite(state).all()
    for method, res in results.items():
        hm = np.array(res["heatmap"])
        assert len(hm) == x[0].numel() and np.isfinite(hm).all() and np.isfinite(hm.sum()), method
        assert np.abs(hm).max() > 0, f"{method}: an all-zero heatmap"
    return results, merged_diff


def graph_fixture(g, out):
    net = g.net.eval()
    c, h, w = g.shape
    path = out / f"{g.name}.safetensors"
    save_graph(g, path)
    pixels = graph_pixels(g, GRAPH_SEED[g.name])
    mean = torch.tensor(g.mean, dtype=torch.float32).reshape(1, c, 1, 1)
    std = torch.tensor(g.std, dtype=torch.float32).reshape(1, c, 1, 1)
    x = (torch.from_numpy(pixels).reshape(1, c, h, w) - mean) / std
    with torch.no_grad():
        logits = net(x)[0]
    reference = numpy_forward(path, pixels)
    diff = float(np.abs(reference - logits.double().numpy()).max())
    assert diff < 1e-5, f"{g.name}: the saved file's numpy forward differs from torch by {diff}"
    target = int(logits.argmax())
    results, merged_diff = zennit_results(net, x, logits, target, mean, std)
    with torch.no_grad():
        assert torch.equal(net(x)[0], logits), "the canonizers did not restore the net"

    fixture = {"model": f"{g.name}.safetensors", "shape": [c, h, w], "mean": g.mean, "std": g.std,
               "pixels": f32(pixels), "target": target, "logits": f32(logits),
               "zennit": importlib.metadata.version("zennit"), "torch": torch.__version__, "results": results}
    (out / f"{g.name}.json").write_text(json.dumps(fixture, separators=(",", ":")))
    sums = ", ".join(f"{m} {sum(r['heatmap']):.4f}" for m, r in results.items())
    print(f"{g.name}: target {target}, logit {float(logits[target]):.6f}, {len(results)} methods; "
          f"numpy forward {diff:.1e}, merged {merged_diff:.1e}; sum R: {sums}")
    return {"saturated": saturation(net, x)}


def saturation(net, x):
    """Per clamp layer: how many units sit at or beyond min / max (for the report)."""
    counts, values = {}, [x]
    with torch.no_grad():
        for k, (layer, inputs) in enumerate(zip(net.layers, net.inputs)):
            args = [values[v] for v in inputs]
            y = layer(torch.stack(args, dim=-1)) if isinstance(layer, Sum) else layer(*args)
            if isinstance(layer, torch.nn.Hardtanh):
                counts[k] = {"above_max": int((args[0] >= layer.max_val).sum()), "below_min": int((args[0] <= layer.min_val).sum()),
                             "units": args[0].numel()}
            values.append(y)
    return counts


SEQUENTIAL = ("mlp", "cnn", "padded")


def main():
    graphs = {g.name: g for g in graph_nets()}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"fixtures to write (default: all of {', '.join(SEQUENTIAL + tuple(graphs))})")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"output directory (default: {OUT})")
    args = parser.parse_args()
    names = args.names or list(SEQUENTIAL) + list(graphs)
    unknown = [n for n in names if n not in SEQUENTIAL and n not in graphs]
    if unknown:
        parser.error(f"unknown fixture(s): {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    sequential_fixtures(args.out, [n for n in SEQUENTIAL if n in names])
    for name in graphs:
        if name in names:
            info = graph_fixture(graphs[name], args.out)
            if info["saturated"]:
                print(f"  clamp layers (layer: counts): {info['saturated']}")


if __name__ == "__main__":
    main()
