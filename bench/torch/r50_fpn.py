# ResNet-50 body + FPN P3-P7 in PyTorch, the same network as the bench's
# R50FPN entry (models/resnet.fd + models/fpn.fd): torchvision resnet50 in
# eval mode (BN with running statistics = frozen BN), lateral 1x1 convs,
# nearest top-down resize to the finer level's size, 3x3 output convs, P6
# from P5's output by a stride-2 3x3 conv, P7 from relu(P6) the same way.
# Prints one JSON line: best and median seconds of the forward at the size given.
# Usage: python3 r50_fpn.py [--size 320] [--threads 2] [--reps 10]
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class R50FPN(nn.Module):
    def __init__(self, C=256):
        super().__init__()
        r = torchvision.models.resnet50(weights=None)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.res2, self.res3, self.res4, self.res5 = r.layer1, r.layer2, r.layer3, r.layer4
        self.lateral3, self.lateral4, self.lateral5 = nn.Conv2d(512, C, 1), nn.Conv2d(1024, C, 1), nn.Conv2d(2048, C, 1)
        self.output3, self.output4, self.output5 = (nn.Conv2d(C, C, 3, padding=1) for _ in range(3))
        self.p6, self.p7 = nn.Conv2d(C, C, 3, 2, 1), nn.Conv2d(C, C, 3, 2, 1)

    def forward(self, x):
        c3 = self.res3(self.res2(self.stem(x)))
        c4 = self.res4(c3)
        c5 = self.res5(c4)
        t5 = self.lateral5(c5)
        t4 = self.lateral4(c4) + F.interpolate(t5, size=c4.shape[-2:], mode="nearest")
        t3 = self.lateral3(c3) + F.interpolate(t4, size=c3.shape[-2:], mode="nearest")
        q5 = self.output5(t5)
        q6 = self.p6(q5)
        return self.output3(t3), self.output4(t4), q5, q6, self.p7(F.relu(q6))


def sgemm_gflops(n=512, reps=30):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = R50FPN().eval()
    x = torch.randn(1, 3, args.size, args.size)
    with torch.no_grad():
        outs = net(x)  # warm: allocator, oneDNN/MKL primitive caches
        times = [_timed(lambda: net(x)) for _ in range(args.reps)]
    print(json.dumps({
        "torch": torch.__version__, "torchvision": torchvision.__version__, "threads": torch.get_num_threads(),
        "size": args.size, "best": min(times), "median": statistics.median(times), "reps": args.reps,
        "shapes": [list(o.shape) for o in outs], "sgemm512_gflops": sgemm_gflops(),
    }))


if __name__ == "__main__":
    main()
