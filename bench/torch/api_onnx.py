#!/usr/bin/python3
"""The onnxruntime side of bench/api-suite.ts: fusedet's FCOS dense network
(models/fcos.fd forward with centerness: ResNet-50 with frozen BN, FPN
P3-P7, the shared GN head) written in PyTorch with fusedet's parameter
names, loaded with the SAME weights fusedet runs (a safetensors file the
suite writes), and exported to ONNX at one input size, batch 1. Outputs
cls0..cls4 (logits [1, K, H_l, W_l]), box0..box4 (ltrb pixels,
relu(scale_l * x) * stride_l) and ctr0..ctr4 (centerness logits), in the
order of fusedet's forward entry.

Frozen BN is nn.BatchNorm2d in eval mode (running statistics = fusedet's
mean/var, eps 1e-5), as torchvision exports it: onnxruntime folds it into
the convolution, as fusedet's compiler does.

Usage: api_onnx.py WEIGHTS.safetensors H W OUT.onnx
Prints one JSON line: the output names, the file's size and torch's version.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    body = memoryview(raw)[8 + n:]
    out = {}
    for name, h in header.items():
        if name == '__metadata__':
            continue
        if h['dtype'] != 'F32':
            raise SystemExit(f'api_onnx.py: {path}: {name} is {h["dtype"]}, only F32 is expected')
        a, b = h['data_offsets']
        out[name] = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).reshape(h['shape'])
    return out


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x):
        return self.bn(self.conv(x))


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = ConvBN(cin, mid, 1), ConvBN(mid, mid, 3, stride), ConvBN(mid, cout, 1)
        self.downsample = ConvBN(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Stem(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv = ConvBN(3, width, 7, 2)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.conv(x)), 3, 2, 1)


class ResNet50(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.stem = Stem(width)

        def stage(n, cin, mid, cout, stride):
            return nn.ModuleList([Bottleneck(cin if i == 0 else cout, mid, cout, stride if i == 0 else 1) for i in range(n)])
        self.res2 = stage(3, width, width, 4 * width, 1)
        self.res3 = stage(4, 4 * width, 2 * width, 8 * width, 2)
        self.res4 = stage(6, 8 * width, 4 * width, 16 * width, 2)
        self.res5 = stage(3, 16 * width, 8 * width, 32 * width, 2)

    def forward(self, x):
        def run(blocks, y):
            for b in blocks:
                y = b(y)
            return y
        c3 = run(self.res3, run(self.res2, self.stem(x)))
        c4 = run(self.res4, c3)
        return c3, c4, run(self.res5, c4)


class FPN(nn.Module):
    def __init__(self, c3, c4, c5, C):
        super().__init__()
        self.lateral3, self.lateral4, self.lateral5 = nn.Conv2d(c3, C, 1), nn.Conv2d(c4, C, 1), nn.Conv2d(c5, C, 1)
        self.output3, self.output4, self.output5 = (nn.Conv2d(C, C, 3, padding=1) for _ in range(3))
        self.p6, self.p7 = nn.Conv2d(C, C, 3, 2, 1), nn.Conv2d(C, C, 3, 2, 1)

    def forward(self, x3, x4, x5):
        t5 = self.lateral5(x5)
        t4 = self.lateral4(x4) + F.interpolate(t5, size=x4.shape[-2:], mode='nearest')
        t3 = self.lateral3(x3) + F.interpolate(t4, size=x3.shape[-2:], mode='nearest')
        q5 = self.output5(t5)
        q6 = self.p6(q5)
        return self.output3(t3), self.output4(t4), q5, q6, self.p7(F.relu(q6))


class ConvGN(nn.Module):
    def __init__(self, C, groups):
        super().__init__()
        self.conv = nn.Conv2d(C, C, 3, padding=1)
        self.norm = nn.GroupNorm(groups, C, eps=1e-5)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class Head(nn.Module):
    def __init__(self, C, K, groups):
        super().__init__()
        self.cls_tower = nn.Sequential(*(ConvGN(C, groups) for _ in range(4)))
        self.box_tower = nn.Sequential(*(ConvGN(C, groups) for _ in range(4)))
        self.cls, self.box, self.ctr = nn.Conv2d(C, K, 3, padding=1), nn.Conv2d(C, 4, 3, padding=1), nn.Conv2d(C, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(5))


class FCOS(nn.Module):
    def __init__(self, K=80, C=256, groups=32):
        super().__init__()
        self.backbone = ResNet50()
        self.fpn = FPN(512, 1024, 2048, C)
        self.head = Head(C, K, groups)
        self.strides = [8, 16, 32, 64, 128]

    def forward(self, image):
        feats = self.fpn(*self.backbone(image))
        cls, box, ctr = [], [], []
        for l, p in enumerate(feats):
            t = self.head.box_tower(p)
            cls.append(self.head.cls(self.head.cls_tower(p)))
            box.append(F.relu(self.head.scales[l] * self.head.box(t)) * self.strides[l])
            ctr.append(self.head.ctr(t))
        return tuple(cls + box + ctr)


def fusedet_to_torch(name):
    """fusedet's frozen BN calls its statistics mean/var; nn.BatchNorm2d running_mean/running_var."""
    if name.endswith('.bn.mean'):
        return name[:-len('mean')] + 'running_mean'
    if name.endswith('.bn.var'):
        return name[:-len('var')] + 'running_var'
    return name


def main():
    if len(sys.argv) != 5:
        raise SystemExit('usage: api_onnx.py WEIGHTS.safetensors H W OUT.onnx')
    weights, h, w, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    tensors = read_safetensors(weights)
    K = tensors['head.cls.weight'].shape[0]
    net = FCOS(K).eval()
    state = {fusedet_to_torch(k): v for k, v in tensors.items()}
    # BatchNorm2d's step counters are not fusedet parameters.
    own = {k: v for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or extra:
        raise SystemExit(f'api_onnx.py: {weights}: names do not match the FCOS network: missing {missing[:5]}, unexpected {extra[:5]}')
    for k, v in state.items():
        if tuple(own[k].shape) != tuple(v.shape):
            raise SystemExit(f'api_onnx.py: {weights}: {k} is {list(v.shape)}, the network wants {list(own[k].shape)}')
    net.load_state_dict(state, strict=False)
    names = [f'{kind}{l}' for kind in ('cls', 'box', 'ctr') for l in range(5)]
    tmp = out + '.tmp'
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, 3, h, w),), tmp, opset_version=13, input_names=['image'], output_names=names, do_constant_folding=True)
    os.replace(tmp, out)  # a half-written file is never taken for a model
    print(json.dumps({'exported': out, 'bytes': os.path.getsize(out), 'outputs': names, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
