#!/usr/bin/env python3
"""Puts fusedet's and PyTorch's R50-FPN 800x1216 results for one GPU side by
side: prints a table and writes bench/results/cuda-vs-torch-<size>-<gpu>.md.
Usage: python3 tools/gpu/summary.py [bench/results]"""
import glob
import json
import os
import sys


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = 0
    for ours_path in sorted(glob.glob(os.path.join(folder, "cuda-r50-fpn-*.json"))):
        theirs_path = ours_path.replace("cuda-r50-fpn-", "torch-r50-fpn-", 1)
        if not os.path.exists(theirs_path):
            print(f"{ours_path}: no PyTorch result beside it ({theirs_path})", file=sys.stderr)
            continue
        ours, theirs = json.load(open(ours_path)), json.load(open(theirs_path))
        ms = ours["run"]["median_ms"]
        lines = [f"# ResNet-50-FPN forward {ours['input'][2]}x{ours['input'][3]} on {ours['gpu']}", "",
                 "| what | median ms | fusedet / this |", "| --- | --- | --- |",
                 f"| fusedet CUDA ({ours['compiler']}; {ours['launches']} launches, one CUDA graph) | {ms:.2f} | 1.00 |"]
        if "runPlainLaunches" in ours:
            plain = ours["runPlainLaunches"]["median_ms"]
            lines.append(f"| fusedet CUDA, plain launches (FUSEDET_CUDA_GRAPHS=0) | {plain:.2f} | {ms / plain:.2f} |")
        for key, label in (("eager", "PyTorch eager"), ("compiled", "PyTorch torch.compile")):
            if key in theirs:
                t = theirs[key]["median_ms"]
                lines.append(f"| {label} (torch {theirs['torch']}, TF32 {theirs['tf32']}) | {t:.2f} | {ms / t:.2f} |")
        if "compiled_error" in theirs:
            lines.append(f"| PyTorch torch.compile | failed: {theirs['compiled_error']} | |")
        lines += ["", f"fusedet kernel time (events) {ours['kernelSumMs']:.2f} ms; {theirs['note']}.", ""]
        text = "\n".join(lines)
        print(text)
        out = ours_path.replace("cuda-r50-fpn-", "cuda-vs-torch-r50-fpn-", 1)[:-5] + ".md"
        with open(out + ".tmp", "w") as f:
            f.write(text)
        os.replace(out + ".tmp", out)
        rows += 1
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
