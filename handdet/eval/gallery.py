"""The error galleries, boxes drawn (green TP, red FP, orange FN): the images with the most errors, and the
hand-free photos with the surest false detections."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from handdet.eval.evaluator import ImageErrors

TP_COLOR = (0, 200, 0)  # BGR green
FP_COLOR = (0, 0, 255)  # BGR red
FN_COLOR = (0, 165, 255)  # BGR orange
TILE = 320  # (int) longest side of each gallery tile in pixels
COLUMNS = 4  # (int) tiles per gallery row


def draw_errors(image_bgr: np.ndarray, errors: ImageErrors, names: dict[int, str] | None = None,
                thickness: int = 2, scale: float = 1.0) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 BGR image with TP, FP (with scores) and FN boxes drawn.

    Boxes are `xyxy` pixels of the original image; `scale` maps them onto an image already resized by it.
    """
    import cv2

    img = image_bgr.copy()
    names = names or {}
    for dets, color, scored in ((errors.fn, FN_COLOR, False), (errors.tp, TP_COLOR, True),
                                (errors.fp, FP_COLOR, True)):
        for box, conf, cls in zip(dets.xyxy, dets.confidence, dets.class_id, strict=True):
            x1, y1, x2, y2 = (int(round(float(v) * scale)) for v in box)
            cv2.rectangle(img, (x1, y1), (x2, y2), color, thickness)
            label = names.get(int(cls), str(int(cls))) + (f" {float(conf):.2f}" if scored else "")
            cv2.putText(img, label, (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return img


def worst_images(image_errors: np.ndarray, top_k: int) -> list[int]:
    """Indices of up to `top_k` images with the most FP + FN (ties: more FN first), none without errors.

    Args:
        image_errors: (n_images, 3) TP, FP, FN counts.
    """
    e = np.asarray(image_errors).reshape(-1, 3)
    total = e[:, 1] + e[:, 2]
    order = np.lexsort((np.arange(len(e)), -e[:, 2], -total))
    return [int(i) for i in order[:top_k] if total[i] > 0]


def worst_false_alarms(errors: Sequence[ImageErrors], top_k: int) -> list[ImageErrors]:
    """Up to `top_k` of the entries with a false detection, the one whose surest false detection scores
    highest first (ties: more false detections first, then the given order).

    Args:
        errors: per image, its boxes at one confidence cut-off (`Evaluator.errors`); on a hand-free
            photo every detection is false.
    """
    keyed = [(-float(e.fp.confidence.max()), -len(e.fp), i) for i, e in enumerate(errors) if len(e.fp)]
    return [errors[i] for *_, i in sorted(keyed)[:top_k]]


def error_gallery(
    errors: Sequence[ImageErrors],
    load_image: Callable[[ImageErrors], np.ndarray | None],
    names: dict[int, str] | None = None,
    tile: int = TILE,
    columns: int = COLUMNS,
) -> np.ndarray | None:
    """A mosaic (H, W, 3) uint8 BGR of the given images with their boxes and a caption; None when empty.

    Args:
        errors: the images to show, in order.
        load_image: returns the BGR image of an entry (None to skip it).
        names: class names for the labels.
        tile: each image is scaled so its longer side is `tile` pixels and padded to a square.
        columns: tiles per row.
    """
    import cv2

    tiles = []
    for e in errors:
        img = load_image(e)
        if img is None:
            continue
        h, w = img.shape[:2]
        s = tile / max(h, w)
        small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        drawn = draw_errors(small, e, names, scale=s)  # drawn after resizing, so labels stay legible
        canvas = np.full((tile + 22, tile, 3), 32, np.uint8)
        canvas[22:22 + drawn.shape[0], :drawn.shape[1]] = drawn
        caption = f"{str(e.image_id)[:28]}  FP {len(e.fp)}  FN {len(e.fn)}"
        cv2.putText(canvas, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(canvas)
    if not tiles:
        return None
    columns = min(columns, len(tiles))
    blank = np.full_like(tiles[0], 32)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def write_error_gallery(
    errors: Sequence[ImageErrors],
    load_image: Callable[[ImageErrors], np.ndarray | None],
    path: str | os.PathLike,
    names: dict[int, str] | None = None,
) -> Path | None:
    """Write `error_gallery` as an image file; returns the path, or None when there is nothing to show."""
    import cv2

    mosaic = error_gallery(errors, load_image, names)
    if mosaic is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), mosaic):
        raise OSError(f"{path}: could not write the gallery image")
    return path
