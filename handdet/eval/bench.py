"""Speed and agreement of our evaluator against pycocotools on synthetic detections.

    python -m handdet.eval.bench            # 5,000 images x 20 predictions, prints a dict

`synthetic_pairs` also feeds the tests: many images, crowded scenes, empty images, images with no
predictions, wrong classes and duplicates, boxes of every COCO size.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np

from handdet.core.boxes import xyxy_to_xywh
from handdet.core.detections import Detections
from handdet.eval.evaluator import Evaluator


def synthetic_pairs(
    n_images: int = 200,
    n_pred: int = 20,
    n_gt: tuple[int, int] = (5, 10),
    num_classes: int = 3,
    seed: int = 0,
    p_empty: float = 0.1,
    p_no_pred: float = 0.05,
    p_ignore: float = 0.0,
    resolution_wh: tuple[int, int] = (640, 480),
) -> list[tuple[Detections, Detections]]:
    """Random (prediction, ground truth) pairs that look like a detector's output.

    Ground truth: `n_gt` boxes per image (inclusive range; none with probability `p_empty`), sizes
    log-uniform from 6 to 320 px, random classes, a share `p_ignore` flagged ignore. Predictions:
    `n_pred` per image (none with probability `p_no_pred`): about 60% jittered copies of ground truth
    (some duplicated, 10% with the wrong class) scored by how close they are, the rest random boxes
    with low scores.

    Returns:
        (pred, gt) `Detections` per image, `xyxy` pixels in an image of `resolution_wh`.
    """
    rng = np.random.default_rng(seed)
    w, h = resolution_wh
    pairs = []
    for _ in range(n_images):
        k = 0 if rng.random() < p_empty else int(rng.integers(n_gt[0], n_gt[1] + 1))
        gt = _random_boxes(rng, k, w, h)
        gt_cls = rng.integers(0, num_classes, k)
        gt_ign = rng.random(k) < p_ignore
        m = 0 if rng.random() < p_no_pred else n_pred
        n_copy = int(round(m * 0.6)) if k else 0
        src = rng.integers(0, max(k, 1), n_copy)
        sigma = rng.uniform(0.01, 0.35, n_copy)
        copy = gt[src] + rng.normal(0, 1, (n_copy, 4)) * sigma[:, None] * np.repeat(
            (gt[src, 2:] - gt[src, :2]), 2, axis=0).reshape(n_copy, 4)
        copy_cls = np.where(rng.random(n_copy) < 0.1, rng.integers(0, num_classes, n_copy), gt_cls[src])
        copy_score = 1 / (1 + np.exp(-(4 - 14 * sigma + rng.normal(0, 1, n_copy))))
        rand = _random_boxes(rng, m - n_copy, w, h)
        boxes = np.concatenate([copy, rand])
        boxes = np.stack([boxes[:, 0].clip(0, w), boxes[:, 1].clip(0, h),
                          boxes[:, 2].clip(0, w), boxes[:, 3].clip(0, h)], axis=1)
        bad = (boxes[:, 2] - boxes[:, 0] < 1) | (boxes[:, 3] - boxes[:, 1] < 1)
        boxes[bad, 2:] = boxes[bad, :2] + 2
        scores = np.concatenate([copy_score, rng.uniform(0.001, 0.6, m - n_copy)])
        classes = np.concatenate([copy_cls, rng.integers(0, num_classes, m - n_copy)])
        perm = rng.permutation(m)
        pairs.append((Detections(boxes[perm], scores[perm], classes[perm]), Detections(gt, class_id=gt_cls, ignore=gt_ign)))
    return pairs


def _random_boxes(rng: np.random.Generator, n: int, w: int, h: int) -> np.ndarray:
    size = np.exp(rng.uniform(np.log(6), np.log(320), n))
    aspect = np.exp(rng.normal(0, 0.35, n))
    bw, bh = np.minimum(size * aspect, w - 1), np.minimum(size / aspect, h - 1)
    x1, y1 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    return np.stack([x1, y1, x1 + bw, y1 + bh], axis=1).reshape(-1, 4)


def to_coco(
    pairs: list[tuple[Detections, Detections]], num_classes: int, resolution_wh: tuple[int, int] = (640, 480)
) -> tuple[dict, list[dict]]:
    """The same pairs as a COCO ground-truth dict and a COCO results list (image ids 1.., category ids 1..).

    Ground-truth `area` is the box area w*h (pycocotools would otherwise use a segment area), and
    ignore boxes become `iscrowd: 1`.
    """
    w, h = resolution_wh
    images, anns, dets = [], [], []
    for i, (pred, gt) in enumerate(pairs, 1):
        images.append({"id": i, "width": w, "height": h})
        for b, c, ig in zip(xyxy_to_xywh(gt.xyxy.astype(np.float64)).tolist(), gt.class_id.tolist(),
                            gt.ignore.tolist(), strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c + 1, "bbox": b,
                         "area": b[2] * b[3], "iscrowd": int(ig)})
        for b, c, s in zip(xyxy_to_xywh(pred.xyxy.astype(np.float64)).tolist(), pred.class_id.tolist(),
                           pred.confidence.astype(np.float64).tolist(), strict=True):
            dets.append({"image_id": i, "category_id": c + 1, "bbox": b, "score": s})
    cats = [{"id": c + 1, "name": str(c)} for c in range(num_classes)]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def coco_stats(gt: dict, dets: list[dict]) -> dict[str, float]:
    """pycocotools' bbox summary: ap50_95, ap50, ap75, ap_small, ap_medium, ap_large (-1 when undefined)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    keys = ("ap50_95", "ap50", "ap75", "ap_small", "ap_medium", "ap_large")
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if not dets:
            has_gt = any(not a["iscrowd"] for a in gt["annotations"])
            return dict.fromkeys(keys, 0.0 if has_gt else -1.0)
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(keys, ev.stats[:6], strict=True)}


def bench_vs_pycocotools(n_images: int = 5000, n_pred: int = 20, seed: int = 0, num_classes: int = 3) -> dict:
    """Time our `Evaluator` (update + compute) and pycocotools (index + evaluate + accumulate) on the same data.

    Returns:
        dict with time_ours, time_coco (seconds), ratio (coco / ours), ap_diff (largest |difference| over
        AP50-95, AP50, AP75 and the three area APs), and both sets of numbers.
    """
    pairs = synthetic_pairs(n_images, n_pred, num_classes=num_classes, seed=seed)
    gt, dets = to_coco(pairs, num_classes)
    t0 = time.perf_counter()
    ev = Evaluator(num_classes)
    for pred, g in pairs:
        ev.update(pred, g)
    r = ev.compute()
    time_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    coco = coco_stats(gt, dets)
    time_coco = time.perf_counter() - t0
    ours = {"ap50_95": r.ap50_95, "ap50": r.ap50, "ap75": r.ap75, "ap_small": r.ap_small,
            "ap_medium": r.ap_medium, "ap_large": r.ap_large}
    diff = max(abs((ours[k] if ours[k] is not None else -1.0) - coco[k]) for k in ours)
    return {"n_images": n_images, "n_pred": n_pred, "time_ours": time_ours, "time_coco": time_coco,
            "ratio": time_coco / time_ours, "ap_diff": diff, "ours": ours, "coco": coco}


if __name__ == "__main__":
    print(bench_vs_pycocotools())
