# The bench's networks as ONNX files for the onnxruntime-node baseline, and
# the same networks timed in PyTorch, so the three engines run one network:
#   r50fpn  ResNet-50 body + FPN P3-P7 (r50_fpn.py's R50FPN: the bench's R50FPN entry)
#   fcos    the FCOS dense network: R50FPN + torchvision's FCOSHead (4 conv+GN+ReLU
#           per tower, cls 80, box 4, centerness 1 from the box tower), applied per
#           level with box = relu(scale_l * box) * stride_l, as models/fcos.fd's forward
#   sgemm   C = A @ B at n x n (onnxruntime's GEMM peak)
# Weights are torchvision's initialisation (seeded); only speed is compared.
# Usage: export_onnx.py export NET H W OUT.onnx     (batch 1, opset 13, static shapes)
#        export_onnx.py time NET H W [--threads 2] [--reps 3]  -> one JSON line
import argparse, json, os, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection.fcos import FCOSHead

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from r50_fpn import R50FPN  # noqa: E402


class FCOSDense(nn.Module):
    def __init__(self, K=80, C=256):
        super().__init__()
        self.body = R50FPN(C)
        h = FCOSHead(C, 1, K)
        self.cls_tower, self.cls = h.classification_head.conv, h.classification_head.cls_logits
        self.box_tower, self.box, self.ctr = h.regression_head.conv, h.regression_head.bbox_reg, h.regression_head.bbox_ctrness
        self.scales = nn.Parameter(torch.ones(5))
        self.strides = [8, 16, 32, 64, 128]

    def forward(self, x):
        outs = []
        for l, p in enumerate(self.body(x)):
            t = self.box_tower(p)
            outs += [self.cls(self.cls_tower(p)), F.relu(self.scales[l] * self.box(t)) * self.strides[l], self.ctr(t)]
        return tuple(outs)


class MatMul(nn.Module):
    def forward(self, a, b):
        return a @ b


def network(name):
    torch.manual_seed(0)
    if name == "r50fpn":
        return R50FPN().eval()
    if name == "fcos":
        return FCOSDense().eval()
    if name == "sgemm":
        return MatMul().eval()
    raise SystemExit(f"export_onnx.py: unknown network '{name}' (r50fpn, fcos, sgemm)")


def inputs(name, h, w):
    if name == "sgemm":
        return (torch.randn(h, w), torch.randn(w, w))
    return (torch.randn(1, 3, h, w),)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["export", "time"])
    ap.add_argument("net")
    ap.add_argument("h", type=int)
    ap.add_argument("w", type=int)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net, x = network(a.net), inputs(a.net, a.h, a.w)
    if a.mode == "export":
        if not a.out:
            raise SystemExit("export_onnx.py export: give the output .onnx path")
        names = ["a", "b"] if a.net == "sgemm" else ["image"]
        tmp = a.out + ".tmp"
        with torch.no_grad():
            torch.onnx.export(net, x, tmp, opset_version=13, input_names=names, do_constant_folding=True)
        os.replace(tmp, a.out)  # a half-written file is never taken for a model
        print(json.dumps({"exported": a.out, "bytes": os.path.getsize(a.out)}))
        return
    with torch.no_grad():
        net(*x)  # warm: allocator, oneDNN/MKL primitive caches
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            net(*x)
            times.append(time.perf_counter() - t0)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "net": a.net, "h": a.h, "w": a.w,
                      "best": min(times), "median": statistics.median(times), "reps": a.reps}))


if __name__ == "__main__":
    main()
