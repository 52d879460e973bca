"""Images reader: a folder of hand-free photos, each a background image with no boxes.

    handdet convert images ../shared/data/hand-free/camvid-streets build/camvid --split train=1

Every image file under SRC (recursively, sorted) becomes a record without boxes; its group is its
file stem (use `--group` for frames of one video). No label file is read or expected.

SRC may also be a text file listing images, one per line (`#` comments and blank lines skipped), each
relative to the list's folder or to the data directory: how a hard-negative round (`handdet mine`
writes `images.txt`) names the photos it adds without copying them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem
from handdet.data.yolo_dataset import IMAGE_SUFFIXES


def read_images(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one box-free record per image under `src` (a folder) or listed in `src` (a .txt file).

    Raises:
        DataError: if `src` is neither, or a listed image is missing (naming the list and line).
    """
    src = Path(src)
    if src.is_file() and src.suffix.lower() == ".txt":
        yield from (ImageRecord(p) for p in read_image_list(src))
        return
    if not src.is_dir():
        raise DataError(f"{src}: not a folder of images (nor a .txt list of images)")
    for p in sorted(src.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            yield ImageRecord(p)


def read_image_list(path: str | os.PathLike) -> list[Path]:
    """The images named by a list file, resolved against its folder, then the data directory.

    Raises:
        DataError: naming the file and line of a missing or non-image entry.
    """
    from handdet.core.paths import data_dir

    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        cands = [Path(entry).expanduser()] if Path(entry).is_absolute() else [path.parent / entry, data_dir() / entry]
        hit = next((c for c in cands if c.is_file()), None)
        if hit is None:
            raise DataError(f"{path}:{n}: image '{entry}' not found (beside the list or in the data directory)")
        if hit.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}:{n}: '{entry}' is not an image ({', '.join(sorted(IMAGE_SUFFIXES))})")
        out.append(hit.absolute())
    return out
