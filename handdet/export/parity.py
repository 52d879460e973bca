"""Do two predictors (PyTorch and ONNX, or FP32 and INT8) give the same detections on real images?

Per image, detections are paired one to one (same class, best IoU first, IoU >= 0.5). The check
passes when every detection above the confidence threshold has a partner (a box within `score_tol`
of the threshold may appear on one side only: it sits on the cut), paired boxes differ by at most
`box_tol` px in every coordinate and scores by at most `score_tol`, and AP50 against ground truth
(when there is ground truth) differs by at most `ap_tol`. AP comes from `handdet.eval`, imported
lazily.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from handdet.core.boxes import box_iou
from handdet.core.detections import Detections
from handdet.core.errors import DataError

BOX_TOL_PX = 1.0  # (px) FP32 graphs must place boxes within a pixel of PyTorch
SCORE_TOL = 1e-3  # (score) and score them within a thousandth
AP_TOL = 0.005  # (AP50) and reach the same AP50 on the val images
MATCH_IOU = 0.5  # (IoU) least overlap to pair a detection across the two runs
EVAL_CONF = 0.001  # (score) predictions for AP keep boxes down to this score, as a validation run does


@dataclass(frozen=True)
class ImageParity:
    """One image: counts above the threshold, unpaired boxes, and the worst paired differences."""

    image: str
    n_ref: int
    n_test: int
    unpaired_ref: int
    unpaired_test: int
    max_box_diff: float
    max_score_diff: float


@dataclass(frozen=True)
class ParityReport:
    """Result of a parity run; `failures` says in words what failed (empty when `passed`)."""

    reference: str
    candidate: str
    n_images: int
    images_from: str
    conf: float
    n_ref: int
    n_test: int
    unpaired: int
    max_box_diff_px: float
    max_score_diff: float
    ap50_ref: float | None
    ap50_test: float | None
    ap50_note: str
    tolerances: dict
    passed: bool
    failures: list[str]
    per_image: list[ImageParity] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        ap = (f", AP50 {self.ap50_ref:.4f} vs {self.ap50_test:.4f}" if self.ap50_ref is not None
              and self.ap50_test is not None else f" ({self.ap50_note})")
        verdict = "passed" if self.passed else "FAILED: " + "; ".join(self.failures)
        return (f"parity {self.candidate} vs {self.reference} on {self.n_images} images: {self.n_ref} vs "
                f"{self.n_test} boxes, max box diff {self.max_box_diff_px:.3f} px, max score diff "
                f"{self.max_score_diff:.2e}{ap} -> {verdict}")


def compare_detections(
    ref: Detections, test: Detections, conf: float = 0.25, score_tol: float = SCORE_TOL, image: str = ""
) -> ImageParity:
    """Pair `ref` and `test` boxes scoring >= `conf` (same class, IoU >= 0.5, best first) and measure.

    Unpaired boxes scoring within `score_tol` of `conf` are not counted: they sit on the cut-off.
    """
    ref = ref[ref.confidence >= conf - score_tol]
    test = test[test.confidence >= conf - score_tol]
    iou = box_iou(ref.xyxy, test.xyxy)
    if iou.size:
        iou[ref.class_id[:, None] != test.class_id[None, :]] = 0.0
    used_r = np.zeros(len(ref), bool)
    used_t = np.zeros(len(test), bool)
    box_diff, score_diff = 0.0, 0.0
    if iou.size:
        pairs = np.argwhere(iou >= MATCH_IOU)
        for r, t in pairs[np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")]:
            if used_r[r] or used_t[t]:
                continue
            used_r[r] = used_t[t] = True
            box_diff = max(box_diff, float(np.abs(ref.xyxy[r] - test.xyxy[t]).max()))
            score_diff = max(score_diff, float(abs(ref.confidence[r] - test.confidence[t])))
    on_cut = conf + score_tol
    unpaired_r = int(np.sum(~used_r & (ref.confidence >= on_cut)))
    unpaired_t = int(np.sum(~used_t & (test.confidence >= on_cut)))
    return ImageParity(image, int(np.sum(ref.confidence >= conf)), int(np.sum(test.confidence >= conf)),
                       unpaired_r, unpaired_t, box_diff, score_diff)


def ap50(preds: Sequence[Detections], gts: Sequence[Detections], names: dict[int, str]) -> tuple[float | None, str]:
    """AP50 of `preds` against `gts` through `handdet.eval`; (None, reason) when it cannot be computed."""
    try:
        from handdet.eval.evaluator import Evaluator
    except ImportError as e:  # the evaluation package is optional for export
        return None, f"AP50 skipped: handdet.eval not available ({e})"
    n = max([*names, *[int(g.class_id.max()) for g in gts if len(g)], 0]) + 1
    ev = Evaluator(names={i: names.get(i, str(i)) for i in range(n)}, max_dets=None)
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        ev.update(p, g, image_id=i)
    value = ev.compute().ap50
    return (None, "AP50 skipped: no ground-truth boxes") if value is None else (float(value), "")


def parity_report(
    image_names: Sequence[str],
    ref: Sequence[Detections],
    test: Sequence[Detections],
    names: dict[int, str],
    gts: Sequence[Detections] | None = None,
    conf: float = 0.25,
    box_tol: float = BOX_TOL_PX,
    score_tol: float = SCORE_TOL,
    ap_tol: float = AP_TOL,
    reference: str = "pytorch",
    candidate: str = "onnx",
    images_from: str = "",
) -> ParityReport:
    """Compare two runs over the same images (detections kept down to a low score, e.g. 0.001).

    Args:
        image_names: one name per image.
        ref, test: detections of the reference and the candidate, one per image.
        names: class names (for AP).
        gts: ground truth per image, or None (then AP50 is not compared).
        conf: score above which detections must agree.
        box_tol, score_tol, ap_tol: tolerances (px, score, AP50).
    """
    if not (len(image_names) == len(ref) == len(test)):
        raise ValueError("parity_report: image_names, ref and test must have the same length")
    per = [compare_detections(r, t, conf, score_tol, n) for n, r, t in zip(image_names, ref, test, strict=True)]
    failures = []
    unpaired = sum(p.unpaired_ref + p.unpaired_test for p in per)
    n_ref, n_test = sum(p.n_ref for p in per), sum(p.n_test for p in per)
    box = max((p.max_box_diff for p in per), default=0.0)
    score = max((p.max_score_diff for p in per), default=0.0)
    if unpaired:
        worst = max(per, key=lambda p: p.unpaired_ref + p.unpaired_test)
        failures.append(f"detection count differs: {unpaired} boxes without a partner "
                        f"(worst {worst.image}: {worst.n_ref} vs {worst.n_test})")
    if box > box_tol:
        failures.append(f"boxes differ by up to {box:.3f} px (> {box_tol} px)")
    if score > score_tol:
        failures.append(f"scores differ by up to {score:.2e} (> {score_tol:.0e})")
    ap_ref = ap_test = None
    note = "AP50 skipped: no ground truth for these images"
    if gts is not None:
        ap_ref, note = ap50(ref, gts, names)
        if ap_ref is not None:
            ap_test, _ = ap50(test, gts, names)
            note = ""
            if ap_test is not None and abs(ap_ref - ap_test) > ap_tol:
                failures.append(f"AP50 differs: {ap_ref:.4f} vs {ap_test:.4f} (> {ap_tol})")
    return ParityReport(reference, candidate, len(per), images_from, conf, n_ref, n_test, unpaired, box, score,
                        ap_ref, ap_test, note, {"box_px": box_tol, "score": score_tol, "ap50": ap_tol},
                        not failures, failures, per)


def run_predictors(
    predictors: Sequence[Callable[[np.ndarray], Detections]], images: Sequence[str | os.PathLike]
) -> list[list[Detections]]:
    """Run each predictor over every image; returns one list of `Detections` per predictor."""
    import cv2

    out: list[list[Detections]] = [[] for _ in predictors]
    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"{path}: cannot read this image")
        for i, p in enumerate(predictors):
            out[i].append(p(image))
    return out


@dataclass(frozen=True)
class ImageSet:
    """Real images for parity, calibration or benchmarks, with ground truth when known."""

    paths: list[Path]
    gts: list[Detections] | None
    source: str


def evenly(items: list, n: int | None) -> list:
    """`n` items spread evenly over the list (all when n is None or larger)."""
    if n is None or n >= len(items):
        return list(items)
    if n <= 0:
        return []
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def load_images(data: str | os.PathLike, n: int | None, splits: Sequence[str] = ("val", "test", "train")) -> ImageSet:
    """Images (and YOLO ground truth) from a `data.yaml` split, or the images of a folder.

    Args:
        data: a YOLO `data.yaml` (or the folder holding it), or a folder of images.
        n: how many images, spread evenly over the sorted list; None for all.
        splits: for a data.yaml, the first of these splits that exists is used.

    Raises:
        DataError: nothing usable there.
    """
    from handdet.data.yolo_dataset import image_size, label_path_for, read_data_yaml

    data = Path(data)
    if data.is_file() and data.suffix in (".yaml", ".yml") or (data / "data.yaml").is_file():
        info = read_data_yaml(data)
        split = next((s for s in splits if info.splits.get(s)), None)
        if split is None:
            raise DataError(f"{info.yaml_path}: none of the splits {', '.join(splits)} has images")
        paths = evenly(info.images(split), n)
        from handdet.data.yolo_dataset import read_labels

        gts = [read_labels(label_path_for(p), image_size(p)) for p in paths]
        return ImageSet(paths, gts, f"{info.yaml_path} ({split})")
    if data.is_dir():
        from handdet.infer.sources import IMAGE_SUFFIXES

        files = sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{data}: no images in this folder")
        return ImageSet(evenly(files, n), None, str(data))
    raise DataError(f"{data}: not a data.yaml or a folder of images")


def default_images(n: int | None) -> ImageSet:
    """Ultralytics' sample photos (bus.jpg, zidane.jpg): real images present wherever Ultralytics is."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.origin:
        raise DataError("no images for the parity check: pass --data path/to/data.yaml")
    assets = Path(spec.origin).parent / "assets"
    files = sorted(p for p in assets.glob("*.jpg"))
    return ImageSet(evenly(files, n), None, str(assets))
