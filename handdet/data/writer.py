"""Write clean records as a YOLO dataset.

Layout: `OUT/images/{split}/NAME.ext`, `OUT/labels/{split}/NAME.txt` (`class cx cy w h`, 6 decimals,
ignore boxes left out), `OUT/data.yaml` (no `path:` key, so the folder can move). Images are symlinked
(absolute target) by default, falling back to a hard link, then a copy; `copy=True` copies.
The caller wraps this in `atomic_dir` so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

import numpy as np

from handdet.core.boxes import xyxy_to_xywhn
from handdet.core.detections import Detections
from handdet.data.records import CleanRecord


class LinkMode(str, Enum):
    """How an image reaches the output folder."""

    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    COPY = "copy"


def label_lines(det: Detections, resolution_wh: tuple[int, int]) -> list[str]:
    """YOLO label lines `class cx cy w h` (6 decimals) for the non-ignore boxes of `det` (pixel xyxy)."""
    keep = ~det.ignore
    if not keep.any():
        return []
    xywhn = xyxy_to_xywhn(det.xyxy[keep].astype(np.float64), resolution_wh)
    return [f"{c} {b[0]:.6f} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f}" for c, b in zip(det.class_id[keep].tolist(), xywhn, strict=True)]


_UNSAFE_CHARS = re.compile(r"[^\w.\-+]+")


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Output stems, unique across all `paths` (case-insensitively, for case-folding file systems).

    A stem used by one file stays as is; clashing stems get their parent folder names prefixed
    (`test__x`), then a counter (`x_2`).
    """
    def clean(s: str) -> str:
        return _UNSAFE_CHARS.sub("_", s).strip("._") or "image"

    stems = [clean(p.stem) for p in paths]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    out, used = [], set()
    for p, s in zip(paths, stems, strict=True):
        name = s
        if counts[s.lower()] > 1:
            parents = [clean(x) for x in p.parent.parts[-2:] if x not in ("/", "")]
            name = "__".join([*parents, s]) if parents else s
        base, k = name, 2
        while name.lower() in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name.lower())
        out.append(name)
    return out


def place_image(src: Path, dst: Path, mode: LinkMode) -> LinkMode:
    """Put `src` at `dst` by `mode`, falling back symlink -> hard link -> copy; returns the mode used."""
    if mode == LinkMode.SYMLINK:
        try:
            os.symlink(os.path.abspath(src), dst)
            return LinkMode.SYMLINK
        except OSError:
            mode = LinkMode.HARDLINK
    if mode == LinkMode.HARDLINK:
        try:
            os.link(src, dst)
            return LinkMode.HARDLINK
        except OSError:
            pass
    shutil.copyfile(src, dst)
    return LinkMode.COPY


def write_record(root: Path, split: str, name: str, record: CleanRecord, mode: LinkMode) -> tuple[LinkMode, int]:
    """Write one image and its label file under `root`; returns (mode used, boxes written)."""
    img_dir, lbl_dir = root / "images" / split, root / "labels" / split
    suffix = record.image_path.suffix.lower() or ".jpg"
    used = place_image(record.image_path, img_dir / f"{name}{suffix}", mode)
    lines = label_lines(record.detections, record.resolution_wh)
    (lbl_dir / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return used, len(lines)


def make_split_dirs(root: Path, splits: Sequence[str]) -> None:
    for split in splits:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)


def data_yaml_text(names: Sequence[str], splits: Sequence[str]) -> str:
    """`data.yaml` for a dataset written by this module.

    It has no `path:` key on purpose: Ultralytics and `read_data_yaml` then take the yaml's own
    folder as the root, so the dataset can move. (`path: .` would mean the *working directory* to
    Ultralytics.)
    """
    lines = ["# Written by handdet convert. Split paths are relative to this file's folder."]
    val = "val" if "val" in splits else ("test" if "test" in splits else "train")
    lines.append("train: images/train")
    lines.append(f"val: images/{val}")
    if "test" in splits:
        lines.append("test: images/test")
    lines.append("names:")
    lines += [f"  {i}: {_yaml_str(n)}" for i, n in enumerate(names)]
    return "\n".join(lines) + "\n"


def _yaml_str(s: str) -> str:
    import yaml

    return yaml.safe_dump(s, default_style=None).strip().removesuffix("...").strip()
