"""`manifest.csv` beside a multi-source `data.yaml`: where every image of the dataset came from.

    image,split,source,kind,group
    images/val/asl-letters__A1.jpg,val,asl-letters,hands,A1
    images/test/camvid-streets__0001TP_006690.jpg,test,hand-free/camvid-streets,background,0001TP_006690

`image` is relative to the dataset folder; `kind` says what the image is (`Kind`). Evaluation reads it
to score each source alone; a dataset without a manifest is one source.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from handdet.core.atomic import write_text_atomic
from handdet.core.errors import DataError

MANIFEST_NAME = "manifest.csv"
FIELDS = ("image", "split", "source", "kind", "group")


class Kind(str, Enum):
    """What an image of a multi-source dataset is."""

    HANDS = "hands"  # a photo of a hand source (it may still have no box)
    BACKGROUND = "background"  # a hand-free photo from a background folder
    CROP = "crop"  # a hand-free crop cut from a hand source's photo (training negatives)


@dataclass(frozen=True)
class ManifestRow:
    """One image: its path relative to the dataset folder, split, source name, kind and split group."""

    image: str
    split: str
    source: str
    kind: Kind
    group: str

    @property
    def stem(self) -> str:
        return Path(self.image).stem


def manifest_path(data: str | os.PathLike) -> Path:
    """The manifest of a dataset given by its data.yaml or folder."""
    p = Path(data)
    return (p if p.is_dir() else p.parent) / MANIFEST_NAME


def write_manifest(path: str | os.PathLike, rows: list[ManifestRow]) -> Path:
    """Write `rows` as CSV (atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for r in rows:
        w.writerow([r.image, r.split, r.source, r.kind.value, r.group])
    return write_text_atomic(path, buf.getvalue())


def read_manifest(data: str | os.PathLike) -> list[ManifestRow] | None:
    """The rows of the manifest beside `data` (data.yaml or its folder); None when there is none.

    Raises:
        DataError: naming the file and line, for a malformed manifest.
    """
    path = manifest_path(data)
    if not path.is_file():
        return None
    rows = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != FIELDS:
            raise DataError(f"{path}: expected the header {','.join(FIELDS)}, got {','.join(header or [])!r}")
        for i, cells in enumerate(reader, 2):
            if not cells:
                continue
            if len(cells) != len(FIELDS):
                raise DataError(f"{path}:{i}: expected {len(FIELDS)} fields, got {len(cells)}")
            try:
                kind = Kind(cells[3])
            except ValueError:
                raise DataError(f"{path}:{i}: unknown kind {cells[3]!r} "
                                f"(use {', '.join(k.value for k in Kind)})") from None
            rows.append(ManifestRow(cells[0], cells[1], cells[2], kind, cells[4]))
    return rows


def images_of(data: str | os.PathLike, split: str, kinds: tuple[Kind, ...] = (Kind.BACKGROUND,)) -> list[Path]:
    """The image files of `split` whose kind is one of `kinds` (default: hand-free photos), in manifest order.

    Raises:
        DataError: when the dataset has no manifest (it is not a multi-source dataset).
    """
    rows = read_manifest(data)
    if rows is None:
        raise DataError(f"{manifest_path(data)}: no manifest; --data needs a multi-source dataset "
                        "(`handdet prepare` with data.sources)")
    root = manifest_path(data).parent
    return [root / r.image for r in rows if r.split == split and r.kind in kinds]


def sources_of(data: str | os.PathLike, split: str, stems: list[str]) -> list[tuple[str, Kind]] | None:
    """(source, kind) of each image stem of `split`, in order; None when the dataset has no manifest.

    Raises:
        DataError: when the manifest does not list an image of the split.
    """
    rows = read_manifest(data)
    if rows is None:
        return None
    by_stem = {r.stem: (r.source, r.kind) for r in rows if r.split == split}
    missing = [s for s in stems if s not in by_stem]
    if missing:
        raise DataError(f"{manifest_path(data)}: image '{missing[0]}' of split '{split}' is not listed "
                        f"({len(missing)} missing); rebuild the dataset with `handdet prepare`")
    return [by_stem[s] for s in stems]
