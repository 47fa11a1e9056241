#!/usr/bin/env python3
"""ONNX fixtures for tests/onnx_reference.rs: small PyTorch networks exported with torch.onnx.export,
with torch's logits and Zennit's heatmaps for a fixed input.

    pip install torch zennit onnx onnxscript onnxruntime safetensors numpy
    python3 tests/reference/onnx_fixtures.py                 # every fixture, into tests/fixtures/onnx/
    python3 tests/reference/onnx_fixtures.py mlp resblock    # only these
    python3 tests/reference/onnx_fixtures.py --out /tmp/of   # somewhere else

Not run by `make test`; the files it writes are committed. Each net is a `Graph` of
zennit_fixtures.py (the same nodes, seeds and Zennit composites as the safetensors graph fixtures),
and what is exported is the plain PyTorch a user writes: the residual sum is `a + b`, the
concatenation `torch.cat`, a "SAME" convolution pads with `F.pad` inside its forward (as
efficientnet-lite-pytorch's Conv2dStaticSamePadding), and for `normconv` the padding is computed from
the input's shape at run time (as its Conv2dDynamicSamePadding), so that the export carries Shape,
Gather and arithmetic nodes. Zennit explains the Graph (with zennit.layer.Sum for the residual sum);
the ONNX file and the Graph share every parameter. The fixtures cover both exporters (TorchScript,
`dynamo=False`, and torch.export, `dynamo=True`) and opsets 11 to 18:

    mlp      three dense layers on a flat [N, 784] input    TorchScript, opset 11, dynamic batch axis
    lenet    conv, max pool, conv, average pool, dense      torch.export, opset 18
    resblock SAME stem, inverted residual block, BatchNorm  TorchScript, opset 17, BatchNormalization kept
    normconv RGB, run-time SAME padding, BatchNorm, ReLU6   TorchScript, opset 13, BatchNormalization kept
    gap      global average pooling                         torch.export, opset 18
    concat   two branches concatenated                      TorchScript, opset 15
    softmax  a CNN ending in Softmax (removed on import)    TorchScript, opset 17

and `mnist-cnn.onnx`, the shipped CNN in float32 (tests/fixtures/onnx/mnist-cnn.safetensors; models/cnn.safetensors holds it in float16) written as PyTorch (ending in log_softmax,
as PyTorch's MNIST example) and exported (TorchScript, opset 17), for the page's drop test and the
check that the import equals the shipped model; and `sigmoid.onnx`, a CNN with Sigmoid activations
that the importer refuses.

Self-checks: onnx.checker accepts every file, and onnxruntime reproduces torch's output (the
softmax for `softmax`) to 1e-5. (onnx's own ReferenceEvaluator does not: it is off by 0.1 on
`normconv`.)
"""
import argparse
import importlib.metadata
import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from zennit_fixtures import (Concat, Graph, GraphNet, PadConv2d, Sum, f32, graph_nets,  # noqa: E402
                             graph_pixels, zennit_results)

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "onnx"


class Plain(torch.nn.Module):
    """The Graph's computation written as plain PyTorch (what gets exported)."""

    def __init__(self, graph, softmax=False, runtime_pad=False):
        super().__init__()
        self.net, self.softmax, self.runtime_pad = graph, softmax, runtime_pad

    def forward(self, x):
        values = [x]
        for layer, inputs in zip(self.net.layers, self.net.inputs):
            args = [values[v] for v in inputs]
            if isinstance(layer, Sum):
                y = args[0]
                for a in args[1:]:
                    y = y + a
            elif isinstance(layer, Concat):
                y = torch.cat(args, dim=1)
            elif isinstance(layer, PadConv2d) and self.runtime_pad:
                y = layer._conv_forward(same_pad_runtime(args[0], layer), layer.weight, layer.bias)
            else:
                y = layer(args[0])
            values.append(y)
        return torch.softmax(values[-1], dim=1) if self.softmax else values[-1]


def same_pad_runtime(x, conv):
    """TensorFlow "SAME" padding from the input's shape at run time (traced into Shape/Gather/...)."""
    ih, iw = x.shape[-2], x.shape[-1]
    (kh, kw), (sh, sw) = conv.kernel_size, conv.stride
    ph = ((ih + sh - 1) // sh - 1) * sh + kh - ih
    pw = ((iw + sw - 1) // sw - 1) * sw + kw - iw
    return torch.nn.functional.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


EXTRA_SEED = {"mlp": 31, "lenet": 32, "softmax": 33}


def extra_nets():
    nn = torch.nn
    torch.manual_seed(EXTRA_SEED["mlp"])
    mlp = Graph([(nn.Linear(784, 64), [0]), (nn.ReLU(), [1]), (nn.Linear(64, 32), [2]), (nn.ReLU(), [3]),
                 (nn.Linear(32, 10), [4])])
    torch.manual_seed(EXTRA_SEED["lenet"])
    lenet = Graph([(nn.Conv2d(1, 6, 5, padding=2), [0]), (nn.ReLU(), [1]), (nn.MaxPool2d(2), [2]),
                   (nn.Conv2d(6, 16, 5), [3]), (nn.ReLU(), [4]), (nn.AvgPool2d(2), [5]),
                   (nn.Flatten(), [6]), (nn.Linear(16 * 5 * 5, 84), [7]), (nn.ReLU(), [8]), (nn.Linear(84, 10), [9])])
    torch.manual_seed(EXTRA_SEED["softmax"])
    soft = Graph([(nn.Conv2d(1, 8, 3, stride=2), [0]), (nn.ReLU(), [1]), (nn.Flatten(), [2]),
                  (nn.Linear(8 * 13 * 13, 10), [3])])
    return [GraphNet("mlp", "an MLP on 28x28 digits", mlp, (1, 28, 28), [0.1307], [0.3081]),
            GraphNet("lenet", "LeNet-5-like: conv, max pool, conv, average pool, dense", lenet, (1, 28, 28), [0.0], [1.0]),
            GraphNet("softmax", "a small CNN whose export ends in Softmax", soft, (1, 28, 28), [0.5], [0.5])]


# name -> (exporter, opset, export options)
EXPORTS = {
    "mlp": ("torchscript", 11, {"dynamic_axes": {"input": {0: "batch"}}}),
    "lenet": ("dynamo", 18, {}),
    "resblock": ("torchscript", 17, {"do_constant_folding": False}),
    "normconv": ("torchscript", 13, {"do_constant_folding": False, "runtime_pad": True}),
    "gap": ("dynamo", 18, {}),
    "concat": ("torchscript", 15, {}),
    "softmax": ("torchscript", 17, {"softmax": True}),
}
SEED = {**EXTRA_SEED, "normconv": 21, "resblock": 22, "gap": 23, "concat": 24}


def export(g, path):
    exporter, opset, opts = EXPORTS[g.name]
    opts = dict(opts)
    plain = Plain(g.net.eval(), softmax=opts.pop("softmax", False), runtime_pad=opts.pop("runtime_pad", False)).eval()
    x = torch.zeros(1, *input_shape(g))
    kw = dict(input_names=["input"], output_names=["output"], opset_version=opset, **opts)
    if exporter == "dynamo":
        torch.onnx.export(plain, (x,), str(path), dynamo=True, external_data=False, **kw)
    else:
        torch.onnx.export(plain, (x,), str(path), dynamo=False, **kw)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    return plain, model


def input_shape(g):
    """The net's input: [C, H, W], or [C*H*W] for a net that starts with a dense layer (an ONNX input [N, F])."""
    return (int(np.prod(g.shape)),) if isinstance(g.net.layers[0], torch.nn.Linear) else g.shape


def fixture(g, out):
    net = g.net.eval()
    c, h, w = g.shape
    path = out / f"{g.name}.onnx"
    plain, model = export(g, path)
    pixels = graph_pixels(g, SEED[g.name])
    mean = torch.tensor(g.mean, dtype=torch.float32).reshape(1, c, 1, 1)
    std = torch.tensor(g.std, dtype=torch.float32).reshape(1, c, 1, 1)
    x = ((torch.from_numpy(pixels).reshape(1, c, h, w) - mean) / std).reshape(1, *input_shape(g))
    if len(input_shape(g)) == 1:
        mean, std = mean.reshape(1, 1), std.reshape(1, 1)
    with torch.no_grad():
        logits = net(x)[0]
        exported = plain(x)[0]
    (onnx_out,) = onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})
    diff = float(np.abs(onnx_out[0] - exported.numpy()).max())
    assert diff < 1e-5, f"{g.name}: onnxruntime differs from torch by {diff}"
    target = int(logits.argmax())
    results, merged_diff = zennit_results(net, x, logits, target, mean, std)
    ops = sorted({n.op_type for n in model.graph.node})
    exporter, opset, _ = EXPORTS[g.name]
    fixture = {"model": path.name, "description": g.description, "exporter": exporter, "opset": opset, "operators": ops,
               "shape": [c, h, w], "mean": g.mean, "std": g.std, "pixels": f32(pixels), "target": target,
               "logits": f32(logits), "zennit": importlib.metadata.version("zennit"), "torch": torch.__version__,
               "results": results}
    (out / f"{g.name}.json").write_text(json.dumps(fixture, separators=(",", ":")))
    print(f"{g.name}: {exporter} opset {opset}, {len(model.graph.node)} nodes ({', '.join(ops)}); target {target}, "
          f"onnxruntime {diff:.1e}, merged {merged_diff:.1e}")


class MnistCnn(torch.nn.Module):
    """The shipped models/cnn.safetensors as a PyTorch user writes it, ending in log_softmax like
    PyTorch's MNIST example (the importer removes it)."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return torch.nn.functional.log_softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def shipped_cnn(out):
    """mnist-cnn.onnx: the shipped CNN's float32 weights (tests/fixtures/onnx/mnist-cnn.safetensors) exported from PyTorch, for the
    page's drop test and the check that it matches the shipped model."""
    from safetensors.numpy import load_file
    t = load_file(str(pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "onnx" / "mnist-cnn.safetensors"))
    net = MnistCnn().eval()
    layers = [net.features[0], net.features[3], net.classifier[0], net.classifier[2]]
    with torch.no_grad():
        for layer, k in zip(layers, (0, 3, 7, 9)):
            layer.weight.copy_(torch.from_numpy(t[f"layers.{k}.weight"]))
            layer.bias.copy_(torch.from_numpy(t[f"layers.{k}.bias"]))
    path = out / "mnist-cnn.onnx"
    torch.onnx.export(net, (torch.zeros(1, 1, 28, 28),), str(path), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["log_probabilities"], dynamic_axes={"input": {0: "batch"}})
    onnx.checker.check_model(onnx.load(str(path)))
    print(f"mnist-cnn: the shipped CNN, TorchScript opset 17, ends in LogSoftmax")


def unsupported(out):
    """sigmoid.onnx: a small CNN with Sigmoid activations, which the importer refuses (every node named)."""
    torch.manual_seed(34)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.Sigmoid(), nn.Conv2d(4, 4, 3), nn.Sigmoid(), nn.Flatten(),
                        nn.Linear(4 * 10 * 10, 10)).eval()
    path = out / "sigmoid.onnx"
    torch.onnx.export(net, (torch.zeros(1, 1, 28, 28),), str(path), dynamo=False, opset_version=17, input_names=["input"])
    onnx.checker.check_model(onnx.load(str(path)))
    print("sigmoid: Sigmoid activations (refused on import)")


def main():
    nets = {g.name: g for g in graph_nets() + extra_nets()}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"fixtures to write (default: all of {', '.join(EXPORTS)}, mnist-cnn, sigmoid)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"output directory (default: {OUT})")
    args = parser.parse_args()
    extra = {"mnist-cnn": shipped_cnn, "sigmoid": unsupported}
    names = args.names or list(EXPORTS) + list(extra)
    unknown = [n for n in names if n not in EXPORTS and n not in extra]
    if unknown:
        parser.error(f"unknown fixture(s): {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name in extra:
            extra[name](args.out)
        else:
            fixture(nets[name], args.out)


if __name__ == "__main__":
    main()
