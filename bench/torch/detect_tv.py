#!/usr/bin/python3
"""The torchvision side of bench/detect-suite.ts: end-to-end inference of
torchvision's fcos_resnet50_fpn (weights=None, weights_backbone=None: random
init, nothing downloaded; 80 classes as fusedet's configs) on PyTorch CPU:
read and decode the image file, its own GeneralizedRCNNTransform (normalise,
resize to min_size/max_size, batch padded to 32), backbone, head, its own
post-processing (per-level top-k, decode, batched_nms, detections_per_img).

Usage: detect_tv.py IMAGE MIN_SIZE MAX_SIZE REPS THREADS SCORE_THRESH
Prints one JSON line: best, median wall seconds, cpu (process CPU seconds per
image, all threads), detections, input size.
"""
import json
import os
import sys
import time

# OpenMP threads that spin while waiting (libgomp's default) burn the cores a
# busy machine shares: PyTorch's step then runs several times slower than it
# would with sleeping waits. Sleeping waits cost little on an idle machine,
# so the baseline always gets them (the caller's setting wins).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch  # noqa: E402
import torchvision
from torchvision.io import read_image
from torchvision.models.detection import fcos_resnet50_fpn

path, min_size, max_size, reps, threads, thresh = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=80, min_size=min_size, max_size=max_size,
                          score_thresh=thresh, nms_thresh=0.6, detections_per_img=100, topk_candidates=1000).eval()


def detect():
    img = read_image(path).float() / 255
    return model([img])[0]


times, out = [], None
with torch.inference_mode():
    out = detect()
    c0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter()
        out = detect()
        times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / reps
    size = list(model.transform([read_image(path).float() / 255])[0].tensors.shape[-2:])
times = sorted(times)
print(json.dumps({'best': times[0], 'median': times[len(times) // 2], 'cpu': cpu, 'detections': int(out['boxes'].shape[0]), 'input': size,
                  'threads': torch.get_num_threads(), 'omp_wait_policy': os.environ['OMP_WAIT_POLICY'], 'torch': torch.__version__, 'torchvision': torchvision.__version__}))
