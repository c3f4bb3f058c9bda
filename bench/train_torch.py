# The PyTorch side of bench/train.ts: the same DeFCN training step as
# models/defcn-train.fd (ResNet + FPN + DeFCN head with 3DMF, focal loss on
# p = sigmoid(cls) * sigmoid(filter) + 2 x GIoU on fixed targets, SGD momentum
# 0.9, decay 1e-4 except GroupNorm), on CPU. Prints one JSON line:
# {"seconds": median step time, "peak_rss_mib": ..., "threads": ...}.
# Usage: python3 bench/train_torch.py CONFIG_JSON
import json, os, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
# All cores, as fusedet's CPU runtime uses.
torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(cfg.get('seed', 0))
K, C, G, W, depth, B, S = cfg['K'], cfg['C'], cfg['groups'], cfg['width'], cfg['depth'], cfg['batch'], cfg['size']
TAU, PHI = 2, 3


class FrozenBN(nn.Module):
    def __init__(self, c):
        super().__init__()
        for n, v in (('weight', 1.0), ('bias', 0.0), ('mean', 0.0), ('var', 1.0)):
            self.register_buffer(n, torch.full((c,), v))

    def forward(self, x):
        scale = self.weight * (self.var + 1e-5).rsqrt()
        return x * scale[None, :, None, None] + (self.bias - self.mean * scale)[None, :, None, None]


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode='fan_out', nonlinearity='relu')
        self.bn = FrozenBN(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, cin, mid, cout, stride, bottleneck):
        super().__init__()
        self.convs = nn.ModuleList([ConvBN(cin, mid, 1), ConvBN(mid, mid, 3, stride), ConvBN(mid, cout, 1)] if bottleneck
                                   else [ConvBN(cin, cout, 3, stride), ConvBN(cout, cout, 3)])
        self.down = ConvBN(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = x
        for i, c in enumerate(self.convs):
            y = c(y)
            if i < len(self.convs) - 1:
                y = F.relu(y)
        return F.relu(y + (self.down(x) if self.down is not None else x))


def freeze(m):
    for p in m.parameters():
        p.requires_grad_(False)
    return m


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        if depth == 0:
            self.outs = (2 * W, 4 * W, 4 * W)
            self.stem = freeze(ConvBN(3, W, 3, 2))
            self.stages = nn.ModuleList([Block(W, 0, 2 * W, 2, False), Block(2 * W, 0, 4 * W, 2, False), Block(4 * W, 0, 4 * W, 2, False)])
            self.res2 = None
        else:
            counts = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth]
            self.outs = (8 * W, 16 * W, 32 * W)
            self.stem = freeze(ConvBN(3, W, 7, 2))
            self.res2 = freeze(nn.Sequential(*[Block(W if i == 0 else 4 * W, W, 4 * W, 1, True) for i in range(counts[0])]))
            cins, mids = [4 * W, 8 * W, 16 * W], [2 * W, 4 * W, 8 * W]
            self.stages = nn.ModuleList([nn.Sequential(*[Block(cins[s] if i == 0 else self.outs[s], mids[s], self.outs[s], 2 if i == 0 else 1, True)
                                                         for i in range(counts[s + 1])]) for s in range(3)])

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2, 1)
        if self.res2 is not None:
            x = self.res2(x)
        c3 = self.stages[0](x)
        c4 = self.stages[1](c3)
        return c3, c4, self.stages[2](c4)


def conv(cin, cout, k, stride=1, std=None, bias=0.0):
    c = nn.Conv2d(cin, cout, k, stride, k // 2)
    if std is None:
        nn.init.kaiming_normal_(c.weight, mode='fan_in', nonlinearity='linear')
    else:
        nn.init.normal_(c.weight, 0, std)
    nn.init.constant_(c.bias, bias)
    return c


class FPN(nn.Module):
    def __init__(self, c3, c4, c5):
        super().__init__()
        self.lat = nn.ModuleList([conv(c, C, 1) for c in (c3, c4, c5)])
        self.out = nn.ModuleList([conv(C, C, 3) for _ in range(3)])
        self.p6, self.p7 = conv(C, C, 3, 2), conv(C, C, 3, 2)

    def forward(self, x3, x4, x5):
        t5 = self.lat[2](x5)
        t4 = self.lat[1](x4) + F.interpolate(t5, size=x4.shape[-2:], mode='nearest')
        t3 = self.lat[0](x3) + F.interpolate(t4, size=x3.shape[-2:], mode='nearest')
        q5 = self.out[2](t5)
        q6 = self.p6(q5)
        return [self.out[0](t3), self.out[1](t4), q5, q6, self.p7(F.relu(q6))]


def tower():
    layers = []
    for _ in range(4):
        layers += [conv(C, C, 3, std=0.01), nn.GroupNorm(G, C), nn.ReLU()]
    return nn.Sequential(*layers)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_tower, self.box_tower = tower(), tower()
        self.cls = conv(C, K, 3, std=0.01, bias=-4.59511985013459)
        self.box = conv(C, 4, 3, std=0.01)
        self.scales = nn.Parameter(torch.ones(5))
        self.mf_conv = conv(C, C, 3, std=0.01)
        self.mf_norm = nn.GroupNorm(G, C)
        self.filter = conv(C, 1, 3, std=0.01)


def max3d(fs):
    out = []
    for l, f in enumerate(fs):
        ks = [k for k in range(l - TAU // 2, l + TAU // 2 + 1) if 0 <= k < len(fs)]
        stack = torch.stack([F.interpolate(fs[k], size=f.shape[-2:], mode='bilinear', align_corners=False) for k in ks], dim=2)
        pooled = F.max_pool3d(stack, (TAU + 1, PHI, PHI), 1, (TAU // 2, PHI // 2, PHI // 2))
        out.append(pooled[:, :, ks.index(l)])
    return out


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.fpn = FPN(*self.backbone.outs)
        self.head = Head()

    def forward(self, image):
        feats = self.fpn(*self.backbone(image))
        h = self.head
        cls, box, xs = [], [], []
        for l, p in enumerate(feats):
            t = h.box_tower(p)
            cls.append(h.cls(h.cls_tower(p)))
            box.append(F.relu(h.scales[l] * h.box(t)) * (8 * 2 ** l))
            xs.append(t)
        fs = max3d([h.mf_conv(x) for x in xs])
        filt = [h.filter(F.relu(h.mf_norm(f + x))) for f, x in zip(fs, xs)]
        return cls, box, filt


def flat(xs):
    return torch.cat([x.reshape(x.shape[0], x.shape[1], -1) for x in xs], dim=2)


def giou(a, b, eps=1e-7):
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    lt, rb = torch.max(a[..., :2], b[..., :2]), torch.min(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (area(a) + area(b) - inter).clamp(min=eps)
    elt, erb = torch.min(a[..., :2], b[..., :2]), torch.max(a[..., 2:], b[..., 2:])
    ewh = (erb - elt).clamp(min=0)
    enc = (ewh[..., 0] * ewh[..., 1]).clamp(min=eps)
    return inter / union - (enc - union) / enc


def ltrb(d):
    t = d.transpose(1, 2)
    return torch.cat([-t[..., :2], t[..., 2:]], dim=2)


def loss_fn(net, image, cls_t, box_t, w):
    cls, box, filt = net(image)
    p = torch.sigmoid(flat(cls)) * torch.sigmoid(flat(filt))
    npos = w.sum().clamp(min=1)
    pt = p * cls_t + (1 - p) * (1 - cls_t)
    at = cls_t * 0.25 + (1 - cls_t) * 0.75
    loss_cls = (F.binary_cross_entropy(p, cls_t, reduction='none') * at * (1 - pt) ** 2).sum() / npos
    loss_box = ((1 - giou(ltrb(flat(box)), ltrb(box_t))) * w).sum() * 2.0 / npos
    return loss_cls + loss_box


net = Net()
gn = [p for m in net.modules() if isinstance(m, nn.GroupNorm) for p in m.parameters()]
gn_ids = {id(p) for p in gn}
rest = [p for p in net.parameters() if p.requires_grad and id(p) not in gn_ids]
opt = torch.optim.SGD([{'params': rest, 'weight_decay': 1e-4}, {'params': gn, 'weight_decay': 0.0}], lr=0.01, momentum=0.9)
N = sum(h * h for h in (S // 8, S // 16, S // 32, (S // 32 - 1) // 2 + 1, ((S // 32 - 1) // 2) // 2 + 1))
image = torch.rand(B, 3, S, S) * 2 - 1
cls_t = torch.zeros(B, K, N)
w = torch.zeros(B, N)
for b in range(B):
    for i in range(4):
        n = (b * 97 + i * 31) % N
        cls_t[b, (b + i) % K, n] = 1
        w[b, n] = 1
box_t = torch.rand(B, 4, N) * 28 + 4

times = []
for it in range(cfg.get('warmup', 2) + cfg.get('iters', 5)):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(net, image, cls_t, box_t, w)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
times = sorted(times[cfg.get('warmup', 2):])
print(json.dumps({'seconds': times[len(times) // 2], 'loss': float(loss), 'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'threads': torch.get_num_threads(), 'torch': torch.__version__}))
