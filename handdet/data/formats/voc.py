"""Pascal VOC reader: one `NAME.xml` per image, boxes as `<bndbox>` xmin/ymin/xmax/ymax in pixels.

    handdet convert voc ../shared/data/subhi-hands-voc build/subhi --group '^(.*?)_?pic\\d+$'

Searches SRC recursively. The image is `<filename>` beside the XML (a name from the file may not
leave SRC), else the XML stem with any image suffix. The first folder below SRC (`train/`, `test/`)
is kept as the record's `source_split`; `<difficult>1</difficult>` boxes become ignore boxes.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from handdet.data.formats.sidecar import read_sidecar
from handdet.data.records import ImageRecord, Problem, ProblemKind, safe_join
from handdet.data.yolo_dataset import IMAGE_SUFFIXES


def read_voc(src: str | os.PathLike) -> Iterator[ImageRecord | Problem]:
    """Yield one record per VOC XML under `src` (sorted), and problems for files that cannot be used.

    Raises:
        DataError: if `src` is not a folder or holds no XML, or an XML names a file outside `src`.
    """
    return read_sidecar(src, ".xml", "VOC", lambda xml, root: [parse_voc_xml(xml, root)])


def parse_voc_xml(xml: Path, root: Path) -> ImageRecord | Problem:
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
        labels.append(name)
        ignore.append((obj.findtext("difficult") or "0").strip() in ("1", "true", "True"))
    rel = xml.relative_to(root).parts
    split = rel[0] if len(rel) > 1 else None
    return ImageRecord(image, boxes, tuple(labels), ignore, size, None, split, xml)


def _find_image(xml: Path, root: Path, filename: str) -> Path | None:
    if filename:
        # Names from the file are relative to the XML's folder and must stay inside the dataset root.
        rel = os.path.relpath(xml.parent, root)
        candidate = safe_join(root, os.path.join(rel, filename), xml)
        if candidate.is_file():
            return candidate
    for suffix in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
        p = xml.with_suffix(suffix)
        if p.is_file():
            return p
    return None
