# The PyTorch side of bench/train.ts: the same DeFCN training step as
# models/defcn-train.fd (ResNet + FPN + DeFCN head with 3DMF, focal loss on
# p = sigmoid(cls) * sigmoid(filter) + 2 x GIoU on fixed targets, SGD momentum
# 0.9, decay 1e-4 except GroupNorm), on CPU. Prints one JSON line:
# {"seconds": median step time, "peak_rss_mib": ..., "threads": ...}.
# With "gt" in the config (boxes [B][G][4], classes [B][G]), the step is
# DeFCN's on ground truth as the authors run it (cvpods DeFCN,
# get_ground_truth): POTO's quality on the device under no_grad, `.cpu()`,
# scipy linear_sum_assignment(maximize=True) per image, targets; Quality-ATSS
# auxiliary targets on the device; focal + GIoU (+ aux focal) losses,
# backward, SGD step, all inside the timed step.
# Usage: python3 bench/train_torch.py CONFIG_JSON
import json, os, resource, sys, time
# OpenMP threads that spin while waiting (libgomp's default) burn the cores a
# busy machine shares: PyTorch's step then runs several times slower than it
# would with sleeping waits. Sleeping waits cost little on an idle machine,
# so the baseline always gets them (the caller's setting wins).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

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


ALPHA, RADIUS, AUX_TOPK, BOX_WEIGHT = 0.8, 1.5, 9, 2.0


def level_points(cls):
    """Locations (x, y) [N, 2], strides [N], level sizes: level by level, row-major, centre j*s + s//2."""
    pts, strides, sizes = [], [], []
    for l, c in enumerate(cls):
        s, (h, w) = 8 * 2 ** l, c.shape[-2:]
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
        pts.append(torch.stack([xs.reshape(-1) * s + s // 2, ys.reshape(-1) * s + s // 2], 1).float())
        strides.append(torch.full((h * w,), float(s)))
        sizes.append(h * w)
    return torch.cat(pts), torch.cat(strides), sizes


def box_iou(a, b):
    """IoU [G, N] of boxes a [G, 4] and b [N, 4] (x1, y1, x2, y2)."""
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
    return inter / (area(a)[:, None] + area(b)[None, :] - inter).clamp(min=1e-7)


def center_prior(points, strides, gt):
    c = (gt[:, :2] + gt[:, 2:]) / 2
    r = RADIUS * strides[None, :, None]
    lo = torch.max(c[:, None] - r, gt[:, None, :2])
    hi = torch.min(c[:, None] + r, gt[:, None, 2:])
    p = points[None]
    return ((p > lo) & (p < hi)).all(2)


def inside(points, gt):
    p = points[None]
    return ((p > gt[:, None, :2]) & (p < gt[:, None, 2:])).all(2)


def quality_atss(qa, ins, sizes):
    """cvpods DeFCN's get_aux_ground_truth: per level the top 9 by quality, threshold mean + std, inside the box; owner [N] (-1 background)."""
    G, N = qa.shape
    cand, st = [], 0
    for n in sizes:
        cand.append(qa[:, st:st + n].topk(min(AUX_TOPK, n), dim=1).indices + st)
        st += n
    cand = torch.cat(cand, 1)
    v = qa.gather(1, cand)
    thr = v.mean(1, keepdim=True) + v.std(1, keepdim=True)
    ok = torch.zeros(G, N, dtype=torch.bool)
    ok.scatter_(1, cand, (v >= thr) & ins.gather(1, cand))
    s = torch.where(ok, qa, torch.full_like(qa, -1.0))
    best, owner = s.max(0)
    return torch.where(best >= 0, owner, torch.full_like(owner, -1))


def targets(owner, points, gt, classes):
    """One-hot [K, N], ltrb [4, N] (1 at background), weight [N] from an owner map [N]."""
    pos = owner >= 0
    g = owner.clamp(min=0)
    hot = torch.zeros(K, owner.shape[0])
    hot[classes[g][pos], pos.nonzero()[:, 0]] = 1
    box = gt[g]
    ltrb = torch.cat([points - box[:, :2], box[:, 2:] - points], 1).t()
    w = pos.float()
    return hot, ltrb * w + (1 - w), w


def focal_probs(p, t):
    pt = p * t + (1 - p) * (1 - t)
    at = t * 0.25 + (1 - t) * 0.75
    return (F.binary_cross_entropy(p, t, reduction='none') * at * (1 - pt) ** 2).sum()


def focal_logits(x, t):
    p = torch.sigmoid(x)
    pt = p * t + (1 - p) * (1 - t)
    at = t * 0.25 + (1 - t) * 0.75
    return (F.binary_cross_entropy_with_logits(x, t, reduction='none') * at * (1 - pt) ** 2).sum()


def gt_loss_fn(net, image, gts):
    cls, box, filt = net(image)
    logits, ltrb_pred = flat(cls), flat(box)
    p = torch.sigmoid(logits) * torch.sigmoid(flat(filt))
    points, strides, sizes = level_points(cls)
    cls_t, box_t, w, aux_t, aux_w = [], [], [], [], []
    with torch.no_grad():
        for b, (gt, classes) in enumerate(gts):
            d = ltrb_pred[b].t()
            boxes = torch.cat([points - d[:, :2], points + d[:, 2:]], 1)
            iou = box_iou(gt, boxes)
            # POTO: quality p^(1-alpha) IoU^alpha at the GT's class, -1 outside the centre prior,
            # to the host and scipy's Hungarian (the authors' linear_sum_assignment(maximize=True)).
            q = p[b, classes] ** (1 - ALPHA) * iou ** ALPHA
            q = torch.where(center_prior(points, strides, gt), q, torch.full_like(q, -1.0))
            rows, cols = linear_sum_assignment(q.cpu().numpy(), maximize=True)
            owner = torch.full((points.shape[0],), -1, dtype=torch.long)
            owner[torch.as_tensor(cols, dtype=torch.long)] = torch.as_tensor(rows, dtype=torch.long)
            t = targets(owner, points, gt, classes)
            cls_t.append(t[0]); box_t.append(t[1]); w.append(t[2])
            qa = torch.sigmoid(logits[b, classes]) ** (1 - ALPHA) * iou ** ALPHA
            ta = targets(quality_atss(qa, inside(points, gt), sizes), points, gt, classes)
            aux_t.append(ta[0]); aux_w.append(ta[2])
    cls_t, box_t, w, aux_t, aux_w = map(torch.stack, (cls_t, box_t, w, aux_t, aux_w))
    ngt = max(sum(g.shape[0] for g, _ in gts), 1)
    loss_cls = focal_probs(p, cls_t) / ngt
    loss_box = ((1 - giou(ltrb(ltrb_pred), ltrb(box_t))) * w).sum() * BOX_WEIGHT / ngt
    loss_aux = focal_logits(logits, aux_t) / aux_w.sum().clamp(min=1)
    return loss_cls + loss_box + loss_aux


net = Net()
gn = [p for m in net.modules() if isinstance(m, nn.GroupNorm) for p in m.parameters()]
gn_ids = {id(p) for p in gn}
rest = [p for p in net.parameters() if p.requires_grad and id(p) not in gn_ids]
opt = torch.optim.SGD([{'params': rest, 'weight_decay': 1e-4}, {'params': gn, 'weight_decay': 0.0}], lr=0.01, momentum=0.9)
image = torch.rand(B, 3, S, S) * 2 - 1
if 'gt' in cfg:
    gts = [(torch.tensor(bx, dtype=torch.float32).reshape(-1, 4), torch.tensor(cl, dtype=torch.long)) for bx, cl in zip(cfg['gt']['boxes'], cfg['gt']['classes'])]
    step_loss = lambda: gt_loss_fn(net, image, gts)
else:
    N = sum(h * h for h in (S // 8, S // 16, S // 32, (S // 32 - 1) // 2 + 1, ((S // 32 - 1) // 2) // 2 + 1))
    cls_t = torch.zeros(B, K, N)
    w = torch.zeros(B, N)
    for b in range(B):
        for i in range(4):
            n = (b * 97 + i * 31) % N
            cls_t[b, (b + i) % K, n] = 1
            w[b, n] = 1
    box_t = torch.rand(B, 4, N) * 28 + 4
    step_loss = lambda: loss_fn(net, image, cls_t, box_t, w)

times = []
for it in range(cfg.get('warmup', 2) + cfg.get('iters', 5)):
    if it == cfg.get('warmup', 2):
        cpu0 = time.process_time()
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = step_loss()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
cpu = (time.process_time() - cpu0) / cfg.get('iters', 5)
times = sorted(times[cfg.get('warmup', 2):])
print(json.dumps({'seconds': times[len(times) // 2], 'best': times[0], 'cpu': cpu, 'loss': float(loss), 'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'threads': torch.get_num_threads(), 'omp_wait_policy': os.environ['OMP_WAIT_POLICY'], 'torch': torch.__version__}))
