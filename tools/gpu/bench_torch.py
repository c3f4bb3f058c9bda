#!/usr/bin/env python3
"""PyTorch reference for `npm run gpu:bench`: torchvision's FCOS ResNet-50-FPN
backbone + head (no transform, no postprocessing) forward at 1x3x800x1216 on
the GPU, eager and torch.compile, f32 with PyTorch's default TF32 settings
(convolutions through cuDNN may use TF32; matmuls do not). Random weights:
speed does not depend on them. Writes one JSON file under bench/results/.

FCOS vs fusedet's DeFCN: same backbone, FPN (P3-P7) and 4-conv GN towers;
FCOS adds a centerness conv, DeFCN adds 3D Max Filtering (one conv shared by
the levels, a max over levels, GN, a 1-channel conv). Close enough to compare
speed; the JSON says so.
"""
import argparse
import json
import os
import re
import sys
import time


def timed(fn, x, warmup, iters, torch):
    for _ in range(warmup):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0], "iters": iters}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--width", type=int, default=1216)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()

    import torch
    import torchvision
    from torchvision.models.detection import fcos_resnet50_fpn

    if not torch.cuda.is_available():
        print("SKIP torch bench: torch.cuda.is_available() is False", file=sys.stderr)
        return 3
    dev = torch.device("cuda")
    model = fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=80).to(dev).eval()

    def forward(x):
        with torch.no_grad():
            feats = list(model.backbone(x).values())
            return model.head(feats)

    x = torch.randn(1, 3, args.height, args.width, device=dev)
    name = torch.cuda.get_device_name(0)
    result = {
        "model": "torchvision fcos_resnet50_fpn backbone+head (no transform, no postprocess), random weights, num_classes=80",
        "input": [1, 3, args.height, args.width],
        "dtype": "f32",
        "tf32": {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32, "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32},
        "gpu": name,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "note": "DeFCN differs from FCOS by 3D Max Filtering instead of centerness",
    }
    result["eager"] = timed(forward, x, 5, args.iters, torch)
    print(f"torch eager: {result['eager']['median_ms']:.2f} ms median", file=sys.stderr)
    if not args.no_compile:
        try:
            compiled = torch.compile(forward)
            t0 = time.time()
            compiled(x)
            torch.cuda.synchronize()
            result["compile_seconds"] = time.time() - t0
            result["compiled"] = timed(compiled, x, 5, args.iters, torch)
            print(f"torch.compile: {result['compiled']['median_ms']:.2f} ms median (compiled in {result['compile_seconds']:.0f} s)", file=sys.stderr)
        except Exception as e:  # a missing Triton/compiler is reported, not fatal
            result["compiled_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"torch.compile failed: {result['compiled_error']}", file=sys.stderr)

    os.makedirs(args.out, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    path = os.path.join(args.out, f"torch-r50-fpn-{args.height}x{args.width}-{slug}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
