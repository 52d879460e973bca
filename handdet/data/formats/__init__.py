"""Dataset format readers, registered by name. Adding a format is one line in `READERS`.

A reader is `read(src: Path) -> Iterator[ImageRecord | Problem]`: boxes in pixels with the
source's class names, one record per image, problems for files it cannot use. Readers are
imported only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

from handdet.core.errors import ConfigError
from handdet.data.records import ImageRecord, Problem

Reader = Callable[[Path], Iterator[ImageRecord | Problem]]

# format name -> "module:function" of its reader
READERS: dict[str, str] = {
    "voc": "handdet.data.formats.voc:read_voc",
    "yolo": "handdet.data.formats.yolo:read_yolo",
    "coco": "handdet.data.formats.coco:read_coco",
    "coco-wholebody": "handdet.data.formats.coco_wholebody:read_coco_wholebody",
    "egohands": "handdet.data.formats.egohands:read_egohands",
    "oxford": "handdet.data.formats.oxford:read_oxford",
    "hagrid": "handdet.data.formats.hagrid:read_hagrid",
    "labelme": "handdet.data.formats.labelme:read_labelme",
    "images": "handdet.data.formats.images:read_images",
}

Format = Enum("Format", {name.upper().replace("-", "_"): name for name in READERS}, type=str)
Format.__doc__ = "Known dataset formats (the names in `READERS`)."
Format.__str__ = lambda self: self.value  # type: ignore[method-assign]


def get_reader(fmt: str | Enum) -> Reader:
    """The reader function of a format name.

    Raises:
        ConfigError: for an unknown format, listing the known ones.
    """
    name = fmt.value if isinstance(fmt, Enum) else str(fmt).lower()
    if name not in READERS:
        raise ConfigError(f"unknown dataset format {name!r} (known: {', '.join(READERS)})")
    module, func = READERS[name].split(":")
    return getattr(importlib.import_module(module), func)
