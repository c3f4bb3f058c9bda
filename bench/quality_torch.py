"""The peer of `npm run quality`: what a user gets from PyTorch in the same CPU
time. torchvision's FCOS (ResNet-18-FPN from scratch, P3-P7, GroupNorm
head, centerness as torchvision has it) trained with SGD 0.01 (momentum 0.9,
weight decay 1e-4, linear warm-up) at batch 4 for a fixed wall-clock budget
on the same scenes, then run on the test scenes with its NMS (IoU 0.6) and
without (nms_thresh 1.0: nothing is suppressed). Writes COCO results JSON
files that bench/quality.ts scores with the same evaluators as fusedet's
rows.

usage: /usr/bin/python3 bench/quality_torch.py --train A.json --test B.json --out DIR
       [--minutes M] [--threads T] [--seed S] [--max-steps N]
prints one JSON line: {"steps", "train_seconds", "results_nms", "results_no_nms", ...}
"""
import argparse
import json
import os
import random
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models.detection import FCOS
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


def load(ann_path):
    with open(ann_path) as f:
        ann = json.load(f)
    root = os.path.dirname(ann_path)
    sample = ann["images"][0]["file_name"]
    if not os.path.exists(os.path.join(root, sample)):
        root = os.path.join(root, "images")
    boxes = {}
    for a in ann["annotations"]:
        if a.get("iscrowd") or a.get("ignore"):
            continue
        x, y, w, h = a["bbox"]
        if w <= 0 or h <= 0:
            continue
        boxes.setdefault(a["image_id"], []).append(([x, y, x + w, y + h], a["category_id"]))
    images = [(im["id"], os.path.join(root, im["file_name"])) for im in ann["images"]]
    return images, boxes, max(c["id"] for c in ann["categories"])


def tensor_of(path):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    train_images, train_boxes, max_cat = load(a.train)
    train_images = [im for im in train_images if im[0] in train_boxes]
    size = Image.open(train_images[0][1]).size[0]
    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5,
                                   returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    # Category ids are the labels (torchvision FCOS takes them as class indices).
    model = FCOS(backbone, num_classes=max_cat + 1, min_size=size, max_size=size,
                 score_thresh=0.05, nms_thresh=0.6, detections_per_img=100, topk_candidates=1000)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    warmup = 200
    model.train()
    t0 = time.time()
    step = 0
    losses = []
    order = []
    while True:
        if a.max_steps and step >= a.max_steps:
            break
        if not a.max_steps and time.time() - t0 > 60 * a.minutes:
            break
        if len(order) < 4:
            order += random.sample(range(len(train_images)), len(train_images))
        batch, order = order[:4], order[4:]
        imgs, targets = [], []
        for i in batch:
            iid, path = train_images[i]
            img = tensor_of(path)
            bx = torch.tensor([b for b, _ in train_boxes[iid]], dtype=torch.float32)
            lb = torch.tensor([c for _, c in train_boxes[iid]], dtype=torch.int64)
            if random.random() < 0.5:  # flip, as fusedet's loader does
                img = img.flip(-1)
                w = img.shape[-1]
                bx = torch.stack([w - bx[:, 2], bx[:, 1], w - bx[:, 0], bx[:, 3]], dim=1)
            imgs.append(img)
            targets.append({"boxes": bx, "labels": lb})
        f = min(1.0, 0.001 + (1 - 0.001) * step / warmup)
        for g in opt.param_groups:
            g["lr"] = 0.01 * f
        loss_dict = model(imgs, targets)
        loss = sum(loss_dict.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        losses.append(float(loss))
        step += 1
    train_seconds = time.time() - t0

    test_images, _, _ = load(a.test)
    model.eval()
    out = {"steps": step, "train_seconds": round(train_seconds, 1), "batch": 4, "threads": a.threads,
           "loss_first": float(np.mean(losses[: max(1, len(losses) // 5)])) if losses else None,
           "loss_last": float(np.mean(losses[-max(1, len(losses) // 5):])) if losses else None,
           "torch": torch.__version__, "torchvision": torchvision.__version__}
    for name, thresh in (("nms", 0.6), ("no_nms", 1.0)):
        model.nms_thresh = thresh
        res = []
        with torch.no_grad():
            for iid, path in test_images:
                d = model([tensor_of(path)])[0]
                for b, s, l in zip(d["boxes"].tolist(), d["scores"].tolist(), d["labels"].tolist()):
                    res.append({"image_id": iid, "category_id": int(l), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": s})
        path = os.path.join(a.out, f"torchvision-fcos-{name}.json")
        with open(path, "w") as f:
            json.dump(res, f)
        out[f"results_{name}"] = path
    print(json.dumps(out))


if __name__ == "__main__":
    main()
