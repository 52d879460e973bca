"""Images reader: a folder of hand-free photos, each a background image with no boxes.

    handdet convert images ../shared/data/hand-free/camvid-streets build/camvid --split train=1

Every image file under SRC (recursively, sorted) becomes a record without boxes; its group is its
file stem (use `--group` for frames of one video). No label file is read or expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem
from handdet.data.yolo_dataset import IMAGE_SUFFIXES


def read_images(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one box-free record per image under `src`.

    Raises:
        DataError: if `src` is not a folder.
    """
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: not a folder of images")
    for p in sorted(src.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            yield ImageRecord(p)
