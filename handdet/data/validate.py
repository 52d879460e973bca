"""Check records against their images: decode every image, clip and clean boxes, map classes.

Each finding is a `Problem(file, kind, message)`; nothing here raises for a bad dataset (the
converter decides what `--strict` means). Box maths is pure numpy.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from handdet.core.detections import Detections
from handdet.data.records import ClassMap, CleanRecord, ImageRecord, Problem, ProblemKind, Severity

# Pixel slack before a box edge outside the image counts as a problem (annotation tools round).
CLIP_TOLERANCE_PX = 1.0
# Boxes narrower or shorter than this after clipping are dropped as empty.
MIN_SIDE_PX = 1.0

_FORMAT_SUFFIXES = {
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "PNG": (".png",),
    "BMP": (".bmp",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "MPO": (".jpg", ".jpeg"),  # phone JPEGs with several frames
}


def check_image(path: str | os.PathLike, decode: bool = True) -> tuple[tuple[int, int] | None, list[Problem]]:
    """Open and (by default) fully decode an image.

    Returns:
        ((w, h) as decoders see it, EXIF rotation applied; or None if unusable), problems.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    problems: list[Problem] = []
    if not path.is_file():
        return None, [Problem(path, ProblemKind.MISSING_IMAGE, "image file not found")]
    size = path.stat().st_size
    if size == 0:
        return None, [Problem(path, ProblemKind.UNREADABLE_IMAGE, "empty file (0 bytes)")]
    try:
        with Image.open(path) as im:
            fmt = im.format or "?"
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
            if decode:
                if fmt == "JPEG":
                    im.draft("RGB", (max(1, w // 8), max(1, h // 8)))  # DCT-scaled decode: reads all data, 8x faster
                im.load()
    except UnidentifiedImageError:
        return None, [Problem(path, ProblemKind.UNREADABLE_IMAGE, "not an image file (unknown format)")]
    except (OSError, SyntaxError, ValueError) as e:
        reason = "truncated image data" if "truncated" in str(e) else f"cannot decode ({e})"
        return None, [Problem(path, ProblemKind.UNREADABLE_IMAGE, reason)]
    except Exception as e:  # a decoder plug-in failing in its own way is still an unreadable image
        return None, [Problem(path, ProblemKind.UNREADABLE_IMAGE, f"cannot decode ({type(e).__name__}: {e})")]
    if fmt in ("JPEG", "MPO") and decode:
        with open(path, "rb") as f:
            f.seek(max(0, size - 2))
            if f.read(2) != b"\xff\xd9":
                return None, [Problem(path, ProblemKind.UNREADABLE_IMAGE, "truncated JPEG (no end-of-image marker)")]
    allowed = _FORMAT_SUFFIXES.get(fmt)
    if allowed and path.suffix.lower() not in allowed:
        problems.append(Problem(path, ProblemKind.SUFFIX_MISMATCH, f"{fmt} data in a {path.suffix} file"))
    if orientation in (5, 6, 7, 8):  # EXIF 90° rotations: OpenCV and Ultralytics see the image turned
        w, h = h, w
    return (int(w), int(h)), problems


def check_boxes(
    xyxy: np.ndarray, resolution_wh: tuple[int, int], file: Path
) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    """Clip boxes to the image and flag bad ones.

    Args:
        xyxy: (N, 4) absolute corners.
        resolution_wh: image (w, h).
        file: named in problems.

    Returns:
        (N, 4) clipped corners, (N,) bool keep mask (False for non-finite or empty boxes), problems.
    """
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4).copy()
    problems: list[Problem] = []
    if len(b) == 0:
        return b, np.zeros(0, bool), problems
    w, h = resolution_wh
    finite = np.isfinite(b).all(axis=1)
    for i in np.flatnonzero(~finite):
        problems.append(Problem(file, ProblemKind.NON_FINITE, f"box {i} has a non-finite coordinate {b[i].tolist()}"))
    b[~finite] = 0
    lo, hi = -CLIP_TOLERANCE_PX, np.array([w, h, w, h]) + CLIP_TOLERANCE_PX
    outside = finite & ((b < lo).any(axis=1) | (b > hi).any(axis=1))
    raw = b.copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    empty = finite & (((b[:, 2] - b[:, 0]) < MIN_SIDE_PX) | ((b[:, 3] - b[:, 1]) < MIN_SIDE_PX))
    for i in np.flatnonzero(empty):
        problems.append(Problem(file, ProblemKind.EMPTY_BOX, f"box {i} {_fmt(raw[i])} has no area inside the {w}x{h} image"))
    for i in np.flatnonzero(outside & ~empty):
        problems.append(Problem(file, ProblemKind.BOX_CLIPPED, f"box {i} {_fmt(raw[i])} reaches outside the {w}x{h} image; clipped"))
    return b, finite & ~empty, problems


def duplicates(xyxy: np.ndarray, class_id: np.ndarray, tol: float = 0.5) -> np.ndarray:
    """(N,) bool: True for a box equal (within `tol` px per coordinate, same class) to an earlier one."""
    n = len(xyxy)
    dup = np.zeros(n, bool)
    if n < 2:
        return dup
    diff = np.abs(xyxy[:, None, :] - xyxy[None, :, :]).max(axis=2) <= tol
    same = diff & (class_id[:, None] == class_id[None, :])
    earlier = np.tril(same, k=-1)  # [i, j] with j < i
    dup[:] = earlier.any(axis=1)
    return dup


def validate_record(
    record: ImageRecord, class_map: ClassMap, decode: bool = True, group: str | None = None
) -> tuple[CleanRecord | None, list[Problem], Counter]:
    """Check one record against its image; return the clean record (None if unusable) and problems.

    Returns:
        (clean record or None, problems, counters: `boxes_in`, `boxes_kept`, `boxes_dropped`,
        `boxes_ignored`, `boxes_unmapped` (dropped on purpose by the class map)).
    """
    counts: Counter = Counter(boxes_in=len(record))
    size, problems = check_image(record.image_path, decode=decode)
    if size is None:
        counts["boxes_dropped"] += len(record)
        return None, problems, counts
    ann = record.annotation_path or record.image_path
    if record.resolution_wh is not None and tuple(record.resolution_wh) != size and all(record.resolution_wh):
        problems.append(Problem(ann, ProblemKind.SIZE_MISMATCH,
                                f"annotation says {record.resolution_wh[0]}x{record.resolution_wh[1]}, "
                                f"image is {size[0]}x{size[1]}; using the image size"))
    xyxy, keep, box_problems = check_boxes(record.xyxy, size, ann)
    problems += box_problems
    class_id = np.full(len(record), -1, np.int64)
    for i, name in enumerate(record.labels):
        if not keep[i]:
            continue
        try:
            cid = class_map(name)
        except KeyError:
            problems.append(Problem(ann, ProblemKind.UNKNOWN_CLASS, f"box {i}: unknown class {name!r} (not in the class map)"))
            keep[i] = False
            continue
        if cid is None:
            keep[i] = False
            counts["boxes_unmapped"] += 1
            continue
        class_id[i] = cid
    dup = np.zeros(len(record), bool)
    idx = np.flatnonzero(keep)
    dup[idx] = duplicates(xyxy[idx], class_id[idx])
    for i in np.flatnonzero(dup):
        problems.append(Problem(ann, ProblemKind.DUPLICATE_BOX, f"box {i} {_fmt(xyxy[i])} repeats an earlier box; dropped"))
    keep &= ~dup
    ignore = record.ignore & keep
    if ignore.any():
        problems.append(Problem(ann, ProblemKind.IGNORED_BOX,
                                f"{int(ignore.sum())} difficult/ignore box(es) kept for evaluation, not written to labels"))
    det = Detections(xyxy[keep].astype(np.float32), class_id=class_id[keep], ignore=record.ignore[keep])
    counts["boxes_kept"] += int((keep & ~record.ignore).sum())
    counts["boxes_ignored"] += int(ignore.sum())
    counts["boxes_dropped"] += int(len(record) - keep.sum() - counts["boxes_unmapped"])
    grp = group if group is not None else (record.group if record.group is not None else record.image_path.stem)
    return CleanRecord(record.image_path, size, det, grp, record.source_split), problems, counts


def summarize(problems: Iterable[Problem]) -> list[tuple[ProblemKind, Severity, int, str]]:
    """Rows (kind, severity, count, first file) sorted by severity then count, for the summary table."""
    by_kind: dict[ProblemKind, list[Problem]] = {}
    for p in problems:
        by_kind.setdefault(p.kind, []).append(p)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    rows = [(k, k.severity, len(v), str(v[0].file)) for k, v in by_kind.items()]
    return sorted(rows, key=lambda r: (order[r[1]], -r[2], r[0].value))


def format_table(problems: list[Problem]) -> str:
    """A plain-text table of problem counts by kind (empty string when there are none)."""
    rows = summarize(problems)
    if not rows:
        return ""
    lines = [f"{'kind':<18} {'severity':<8} {'count':>6}  first file"]
    lines += [f"{k.value:<18} {s.value:<8} {n:>6}  {f}" for k, s, n, f in rows]
    return "\n".join(lines)


def _fmt(b: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:g}" for v in np.asarray(b).tolist()) + "]"
