"""Formats with one annotation file per image beside it (VOC XML, LabelMe JSON): the shared walk."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from handdet.core.errors import DataError
from handdet.data.records import ImageRecord, Problem, ProblemKind
from handdet.data.yolo_dataset import IMAGE_SUFFIXES


def read_sidecar(
    src: str | os.PathLike,
    suffix: str,
    format_name: str,
    parse: Callable[[Path, Path], Iterable[ImageRecord | Problem]],
) -> Iterator[ImageRecord | Problem]:
    """Parse every `suffix` file under `src` (sorted), then flag images that no annotation used.

    Raises:
        DataError: if `src` is not a folder or holds no annotation file.
    """
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected {format_name} {suffix} files beside their images)")
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() == suffix and p.is_file())
    if not files:
        raise DataError(f"{src}: no {format_name} {suffix} files found")
    used: set[Path] = set()
    for path in files:
        for item in parse(path, src):
            if isinstance(item, ImageRecord):
                used.add(Path(os.path.normpath(item.image_path)))
            yield item
    for img in sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        if Path(os.path.normpath(img)) not in used:
            yield Problem(img, ProblemKind.MISSING_LABEL, f"image has no {format_name} annotation; skipped")
