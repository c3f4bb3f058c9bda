#!/usr/bin/python3
"""The numpy/scipy side of the `train` suite's per-image assignment figure:
DeFCN's whole assignment of one image (POTO quality with 3DMF's filter,
centre prior, scipy's linear_sum_assignment(maximize=True), Quality-ATSS
auxiliary owners) on the inputs of models/assign.fd's AssignImage, read from
raw float32 files, timed without the reading. IoU and the centre prior are
the fixture generator's independent implementations
(tools/fixtures/assign_fixtures.py); Quality-ATSS is vectorised over the GTs
here (the generator's per-GT loop also tracks float32-fragile decisions,
which a baseline should not pay for).

Usage: assign_np.py DIR REPS   (DIR: meta.json + <name>.f32 per input)
Prints one JSON line: best, median seconds; poto_total; aux_match (list).
"""
import json
import os
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'fixtures'))
from assign_fixtures import center_region, iou_matrix, sig, strictly_inside  # noqa: E402

d, reps = sys.argv[1], int(sys.argv[2])
meta = json.load(open(os.path.join(d, 'meta.json')))
x = {k: np.fromfile(os.path.join(d, k + '.f32'), dtype=np.float32).reshape(s) for k, s in meta['shapes'].items()}
sizes, alpha, radius, topk = meta['sizes'], meta['alpha'], meta['radius'], meta['aux_topk']


def assign(points, strides, cls_logits, filter_logits, pred_boxes, gt_boxes, gt_classes):
    cls = sig(cls_logits)                              # [N, K]
    p = cls * sig(filter_logits)                       # 3DMF's filter
    g = gt_classes.astype(np.int64)
    iou = iou_matrix(gt_boxes, pred_boxes)             # [G, N]
    ia = iou ** alpha
    q = p[:, g].T ** (1 - alpha) * ia
    qm = np.where(center_region(points, strides, gt_boxes, radius), q, -1.0)
    rows, cols = linear_sum_assignment(qm, maximize=True)
    total = float(qm[rows, cols].astype(np.float64).sum())
    # Quality-ATSS: per level each GT's top k by quality, threshold mean + std (ddof 1), strictly inside, conflicts to the highest.
    qa = cls[:, g].T ** (1 - alpha) * ia
    G, N = qa.shape
    cand, st = [], 0
    for n in sizes:
        kk = min(topk, n)
        cand.append(st + np.argpartition(-qa[:, st:st + n], kk - 1, axis=1)[:, :kk])
        st += n
    cand = np.concatenate(cand, 1)
    v = np.take_along_axis(qa, cand, 1)
    thr = v.mean(1, keepdims=True) + v.std(1, ddof=1, keepdims=True)
    ok = np.zeros((G, N), bool)
    rr = np.repeat(np.arange(G)[:, None], cand.shape[1], 1)
    ok[rr, cand] = v >= thr
    ok &= strictly_inside(points, gt_boxes)
    s = np.where(ok, qa, -np.inf)
    owner = np.where(ok.any(0), np.argmax(s, 0), -1)
    return total, owner


args = [x[k] for k in ('points', 'strides', 'cls_logits', 'filter_logits', 'pred_boxes', 'gt_boxes', 'gt_classes')]
times = []
for _ in range(reps + 1):
    t0 = time.perf_counter()
    total, owner = assign(*args)
    times.append(time.perf_counter() - t0)
times = sorted(times[1:])
print(json.dumps({'best': times[0], 'median': times[len(times) // 2], 'poto_total': total, 'aux_match': owner.tolist()}))
