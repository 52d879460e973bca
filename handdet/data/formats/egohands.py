"""EgoHands reader: `_LABELLED_SAMPLES/<video>/polygons.mat` beside the video's `frame_XXXX.jpg`.

    handdet convert egohands data/egohands_data build/egohands
    handdet convert egohands data/egohands_data build/egohands-sides --scheme sides

EgoHands (Bambach et al. 2015, IU Vision Lab) labels 100 frames of each of 48 first-person videos.
Each video folder holds `polygons.mat`, whose MATLAB struct array `polygons` has one entry per
frame with the fields `myleft`, `myright`, `yourleft`, `yourright` (the camera wearer's and the
other player's hands): a (K, 2) array of x, y pixel points, empty when that hand is not visible.
Entry i belongs to the i-th `frame_*.jpg` of the folder in frame-number order. A box is the
polygon's extent; labels are the four field names (default map: all → hand; `--scheme sides`:
my/your left → left_hand, my/your right → right_hand).

The video folder name is the group (frames of one video never straddle splits); `--group REGEX` is
matched against it, e.g. `_([A-Z]_[A-Z])$` keeps each pair of players together. A `polygons.mat`
that cannot be read, lacks `polygons` or one of its fields, or whose entry count differs from the
number of frames is unusable for its whole video, so it raises a `DataError` naming the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from handdet.core.boxes import polygon_to_xyxy
from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem

HANDS = ("myleft", "myright", "yourleft", "yourright")
SIDES_CLASS_MAP = {"myleft": "left_hand", "yourleft": "left_hand", "myright": "right_hand", "yourright": "right_hand"}
_FRAME = re.compile(r"^frame_(\d+)$")


def read_egohands(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per labelled frame of every video folder (with a `polygons.mat`) under `src`.

    Raises:
        DataError: if `src` holds no `polygons.mat`, or one is unusable (the file named).
    """
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected EgoHands _LABELLED_SAMPLES/<video>/polygons.mat)")
    mats = sorted(p for p in src.rglob("polygons.mat") if p.is_file())
    if not mats:
        raise DataError(f"{src}: no polygons.mat found (expected EgoHands _LABELLED_SAMPLES/<video>/polygons.mat)")
    for mat in mats:
        yield from read_video(mat)


def read_video(mat: Path) -> Iterator[ImageRecord]:
    """Records of the frames of one video folder, in frame order."""
    entries = load_polygons(mat)
    frames = sorted((p for p in mat.parent.iterdir() if _FRAME.match(p.stem) and p.suffix.lower() == ".jpg"),
                    key=lambda p: int(_FRAME.match(p.stem).group(1)))
    if len(frames) != len(entries):
        raise DataError(f"{mat}: {len(entries)} polygon entries but {len(frames)} frame_*.jpg files in its folder "
                        "(entries match frames by order, so every labelled frame must be there)")
    video = mat.parent.name
    for i, (frame, entry) in enumerate(zip(frames, entries, strict=True)):
        boxes, labels = [], []
        for hand in HANDS:
            pts = np.asarray(entry[hand], dtype=np.float64)
            if pts.size == 0:
                continue
            if pts.ndim != 2 or pts.shape[1] != 2:
                raise DataError(f"{mat}: polygons[{i}].{hand} is a {pts.shape} array, not (K, 2) x, y points")
            boxes.append(polygon_to_xyxy(pts))
            labels.append(hand)
        yield ImageRecord(frame, np.asarray(boxes).reshape(-1, 4), tuple(labels), None, None, video, None, None)


def load_polygons(mat: Path) -> list[dict[str, np.ndarray]]:
    """The `polygons` struct array of a `polygons.mat` as one dict per frame (field -> points).

    Raises:
        DataError: naming `mat`, if it is not a MATLAB file or lacks `polygons` or a hand field.
    """
    try:
        data = read_mat(mat)
    except ValueError as e:
        raise DataError(f"{mat}: {e}") from None
    if "polygons" not in data:
        found = ", ".join(k for k in data if not k.startswith("__")) or "nothing"
        raise DataError(f"{mat}: no 'polygons' variable (has: {found})")
    polys = data["polygons"]
    names = polys.dtype.names or ()
    missing = [h for h in HANDS if h not in names]
    if missing:
        raise DataError(f"{mat}: 'polygons' is not a struct array with fields {', '.join(HANDS)} "
                        f"(missing: {', '.join(missing)})")
    return [{h: rec[h] for h in HANDS} for rec in polys.reshape(-1)]


def read_mat(mat: Path) -> dict:
    """`scipy.io.loadmat(mat)` (arrays kept 2-D); shared with the Oxford reader.

    Raises:
        ValueError: with a one-line reason, for any file scipy cannot read.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        return loadmat(mat, squeeze_me=False)
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(f"not a readable MATLAB .mat file ({reason})") from None
