"""Pascal VOC reader: one `NAME.xml` per image, boxes as `<bndbox>` xmin/ymin/xmax/ymax in pixels.

    handdet convert voc ../shared/data/subhi-hands-voc build/subhi --group '^(.*?)_?pic\\d+$'

Searches SRC recursively. The image is `<filename>` beside the XML (a name from the file may not
leave SRC), else the XML stem with any image suffix; in the VOCdevkit layout (`Annotations/*.xml`,
`JPEGImages/*.jpg`, as PASCAL VOC and 100DOH ship) it is looked up in the sibling `JPEGImages/`.
The record's `source_split` (for `--keep-splits`) is the image's list in `ImageSets/Main/{train,val,test}.txt`
in that layout, else the first folder below SRC (`train/`, `test/`). `<difficult>1</difficult>` boxes
become ignore boxes. With `sides=True` a `<handside>` (100DOH: 0 left, 1 right) names the box `left_hand` or
`right_hand`; a hand without one is `hand`, which the sides scheme drops on purpose.
"""

from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from handdet.data.formats.sidecar import read_sidecar
from handdet.data.records import ImageRecord, Problem, ProblemKind, safe_join
from handdet.data.yolo_dataset import IMAGE_SUFFIXES

SIDES_CLASS_MAP = {"left_hand": "left_hand", "right_hand": "right_hand", "hand": None}
HANDSIDE = {"0": "left_hand", "1": "right_hand"}  # 100DOH's <handside>
DEVKIT_SPLITS = ("train", "val", "test")  # ImageSets/Main lists read for `source_split`, first wins


def read_voc(src: str | os.PathLike, *, sides: bool = False) -> Iterator[ImageRecord | Problem]:
    """Yield one record per VOC XML under `src` (sorted), and problems for files that cannot be used.

    Args:
        src: dataset folder (searched recursively).
        sides: label hands by their `<handside>` (left_hand / right_hand) instead of their name.

    Raises:
        DataError: if `src` is not a folder or holds no XML, or an XML names a file outside `src`.
    """
    return read_sidecar(src, ".xml", "VOC", lambda xml, root: [parse_voc_xml(xml, root, sides)])


def parse_voc_xml(xml: Path, root: Path, sides: bool = False) -> ImageRecord | Problem:
    """Parse one VOC annotation into a record (or a `BAD_ANNOTATION` / `MISSING_IMAGE` problem)."""
    try:
        tree = ET.parse(xml).getroot()
    except ET.ParseError as e:
        return Problem(xml, ProblemKind.BAD_ANNOTATION, f"XML does not parse ({e})")
    except OSError as e:
        return Problem(xml, ProblemKind.BAD_ANNOTATION, f"cannot read ({e.strerror})")
    if tree.tag != "annotation":
        return Problem(xml, ProblemKind.BAD_ANNOTATION, f"root element is <{tree.tag}>, not <annotation>")
    image = _find_image(xml, root, (tree.findtext("filename") or "").strip())
    if image is None:
        return Problem(xml, ProblemKind.MISSING_IMAGE, "no image found for this annotation")
    size = None
    node = tree.find("size")
    if node is not None:
        try:
            size = (int(float(node.findtext("width", ""))), int(float(node.findtext("height", ""))))
        except ValueError:
            return Problem(xml, ProblemKind.BAD_ANNOTATION, "<size> width/height are not numbers")
        if size[0] <= 0 or size[1] <= 0:
            size = None  # some tools write 0x0; the image decides
    boxes, labels, ignore = [], [], []
    for k, obj in enumerate(tree.iter("object")):
        name = (obj.findtext("name") or "").strip()
        bnd = obj.find("bndbox")
        if not name:
            return Problem(xml, ProblemKind.BAD_ANNOTATION, f"object {k} has no <name>")
        if bnd is None:
            return Problem(xml, ProblemKind.BAD_ANNOTATION, f"object {k} ({name}) has no <bndbox>")
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = bnd.findtext(tag)
            if text is None or not text.strip():
                return Problem(xml, ProblemKind.BAD_ANNOTATION, f"object {k} ({name}) <bndbox> lacks <{tag}>")
            try:
                coords.append(float(text))
            except ValueError:
                return Problem(xml, ProblemKind.BAD_ANNOTATION, f"object {k} ({name}) <{tag}> is not a number: {text!r}")
        boxes.append(coords)
        side = (obj.findtext("handside") or "").strip()
        labels.append(HANDSIDE.get(side, name) if sides and name == "hand" else name)
        ignore.append((obj.findtext("difficult") or "0").strip() in ("1", "true", "True"))
    return ImageRecord(image, boxes, tuple(labels), ignore, size, None, _source_split(xml, root), xml)


def _devkit(xml: Path) -> Path | None:
    """The VOCdevkit year folder (holding Annotations/ and JPEGImages/) of `xml`, if it is in that layout."""
    return xml.parent.parent if xml.parent.name == "Annotations" else None


def _find_image(xml: Path, root: Path, filename: str) -> Path | None:
    devkit = _devkit(xml)
    folders = [xml.parent] + ([devkit / "JPEGImages"] if devkit is not None else [])
    for folder in folders:
        if filename:
            # Names from the file are relative to the image folder and must stay inside the dataset root.
            candidate = safe_join(root, os.path.join(os.path.relpath(folder, root), filename), xml)
            if candidate.is_file():
                return candidate
        for suffix in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
            p = folder / (xml.stem + suffix)
            if p.is_file():
                return p
    return None


def _source_split(xml: Path, root: Path) -> str | None:
    devkit = _devkit(xml)
    if devkit is not None:
        listed = _imageset_splits(devkit / "ImageSets" / "Main")
        if listed:
            return listed.get(xml.stem)
    rel = xml.relative_to(root).parts
    return rel[0] if len(rel) > 1 else None


@functools.lru_cache(maxsize=8)
def _imageset_splits(folder: Path) -> dict[str, str]:
    """Image id -> split from VOCdevkit's `ImageSets/Main/{train,val,test}.txt` (empty when absent)."""
    out: dict[str, str] = {}
    for split in DEVKIT_SPLITS:
        f = folder / f"{split}.txt"
        if f.is_file():
            for line in f.read_text().splitlines():
                if line.strip():
                    out.setdefault(line.split()[0], split)
    return out
