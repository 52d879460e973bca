"""The intermediate representation between dataset readers and the YOLO writer.

Every format reader yields `ImageRecord`s (boxes in pixels, class *names* as the source spells
them) or `Problem`s for files it cannot read; `validate` checks records against their images,
`ClassMap` turns source names into our class ids, and `writer` turns clean records into YOLO.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import ConfigError, DataError


class Severity(str, Enum):
    """How bad a problem is: `error` drops the image, `warning` fixes or drops a box, `info` is a note."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ProblemKind(str, Enum):
    """Everything the converter can find wrong with a dataset, one value per kind of problem."""

    BAD_ANNOTATION = "bad_annotation"  # annotation file does not parse or lacks a field
    UNREADABLE_IMAGE = "unreadable_image"  # zero bytes, truncated or not decodable
    MISSING_IMAGE = "missing_image"  # an annotation whose image is not there
    MISSING_LABEL = "missing_label"  # an image with no annotation file
    SIZE_MISMATCH = "size_mismatch"  # annotated size differs from the decoded image
    BOX_CLIPPED = "box_clipped"  # box reached outside the image; clipped
    EMPTY_BOX = "empty_box"  # zero or negative area (after clipping); dropped
    NON_FINITE = "non_finite"  # NaN or inf coordinate; dropped
    DUPLICATE_BOX = "duplicate_box"  # same class and coordinates as another box; dropped
    UNKNOWN_CLASS = "unknown_class"  # source class name not in the class map; dropped
    SUFFIX_MISMATCH = "suffix_mismatch"  # e.g. a PNG named .jpg: fine for training, noted
    IGNORED_BOX = "ignored_box"  # VOC difficult / crowd: kept as ignore in records, not in YOLO labels

    @property
    def severity(self) -> Severity:
        return _SEVERITY[self]


_SEVERITY = {
    ProblemKind.BAD_ANNOTATION: Severity.ERROR,
    ProblemKind.UNREADABLE_IMAGE: Severity.ERROR,
    ProblemKind.MISSING_IMAGE: Severity.ERROR,
    ProblemKind.MISSING_LABEL: Severity.WARNING,
    ProblemKind.SIZE_MISMATCH: Severity.WARNING,
    ProblemKind.BOX_CLIPPED: Severity.WARNING,
    ProblemKind.EMPTY_BOX: Severity.WARNING,
    ProblemKind.NON_FINITE: Severity.WARNING,
    ProblemKind.DUPLICATE_BOX: Severity.WARNING,
    ProblemKind.UNKNOWN_CLASS: Severity.WARNING,
    ProblemKind.SUFFIX_MISMATCH: Severity.INFO,
    ProblemKind.IGNORED_BOX: Severity.INFO,
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file; `message` is a short phrase without the file name."""

    file: Path
    kind: ProblemKind
    message: str

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def __str__(self) -> str:
        return f"{self.file}: {self.kind.value}: {self.message}"


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One source image and its boxes, as a reader found them (before validation and class mapping).

    Attributes:
        image_path: the image file (may not exist; validation reports that).
        xyxy: (N, 4) float64 absolute-pixel corners, as annotated (may be outside the image or NaN).
        labels: N source class names, e.g. "0-hand", "left".
        ignore: (N,) bool, boxes to keep for evaluation but not train on (VOC `difficult`, COCO crowd).
        resolution_wh: image (w, h) stated by the annotation, or None if the format has none.
        group: the reader's group key (video, subject), or None to use the file stem / `--group`.
        source_split: the split the source put the image in (`train`, `test`...), or None.
        annotation_path: the file the boxes came from, for messages.
    """

    image_path: Path
    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    labels: tuple[str, ...] = ()
    ignore: np.ndarray | None = None
    resolution_wh: tuple[int, int] | None = None
    group: str | None = None
    source_split: str | None = None
    annotation_path: Path | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        ignore = np.zeros(len(xyxy), bool) if self.ignore is None else np.asarray(self.ignore, bool).reshape(-1)
        labels = tuple(str(s) for s in self.labels)
        if not (len(xyxy) == len(labels) == len(ignore)):
            raise ValueError(f"{self.image_path}: {len(xyxy)} boxes, {len(labels)} labels, {len(ignore)} ignore flags")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "ignore", ignore)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "image_path", Path(self.image_path))

    def __len__(self) -> int:
        return len(self.xyxy)


@dataclass(frozen=True, eq=False)
class CleanRecord:
    """A validated image: decoded size known, boxes clipped and mapped to our class ids.

    Attributes:
        image_path: an image file that decodes.
        resolution_wh: its (w, h) in pixels, as decoders see it.
        detections: boxes in pixels with `class_id` and `ignore` (ignore boxes are not written to YOLO).
        group: group key for splitting.
        source_split: the source's own split, or None.
    """

    image_path: Path
    resolution_wh: tuple[int, int]
    detections: Detections
    group: str
    source_split: str | None = None


DROP = None  # a class map value meaning "drop these boxes on purpose" (not a problem)


class ClassMap:
    """Maps source class names to our class names and ids.

    Build it from a dict (`{"0-hand": "hand", "left": "left_hand"}`), with `"*"` as the default for
    names not listed, and a value of None / "" / "-" to drop a source class on purpose; or from a
    callable `name -> our name | None` plus the list of our names.
    """

    def __init__(
        self,
        mapping: Mapping[str, str | None] | Callable[[str], str | None],
        names: list[str] | None = None,
    ) -> None:
        if callable(mapping) and not isinstance(mapping, Mapping):
            if not names:
                raise ConfigError("class map: a callable mapping needs the list of class names")
            self._fn = mapping
            self.names = list(names)
        else:
            table = {str(k): (None if v in (None, "", "-") else str(v)) for k, v in dict(mapping).items()}
            if not table:
                raise ConfigError("class map: empty mapping")
            order = list(names or [])
            for v in table.values():
                if v is not None and v not in order:
                    order.append(v)
            self._fn = lambda s: table[s] if s in table else table.get("*", _UNKNOWN)
            self.names = order
        self._ids = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def single(cls, name: str = "hand") -> ClassMap:
        """Every source class becomes `name` (the default: one class, hand)."""
        return cls({"*": name})

    @classmethod
    def parse(cls, spec: str | os.PathLike | Mapping | ClassMap | None) -> ClassMap:
        """From None (everything → hand), a `ClassMap`, a dict, a YAML file of `source: ours`, or a
        string `"0-hand=hand,1-hand=hand,*=-"`.

        Raises:
            ConfigError: for a malformed string or file.
        """
        if spec is None:
            return cls.single()
        if isinstance(spec, ClassMap):
            return spec
        if isinstance(spec, Mapping):
            return cls(spec)
        text = str(spec)
        if Path(text).suffix.lower() in (".yaml", ".yml") or Path(text).is_file():
            from handdet.core.config import load_yaml

            data = load_yaml(text)
            return cls({str(k): v for k, v in data.items()})
        table: dict[str, str | None] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            if "=" not in item:
                raise ConfigError(f"--classes: expected source=ours pairs, got {item!r}")
            k, v = (s.strip() for s in item.split("=", 1))
            if not k:
                raise ConfigError(f"--classes: empty source name in {item!r}")
            table[k] = v
        return cls(table)

    def __call__(self, source_name: str) -> int | None:
        """Our class id for a source name; `None` for a deliberately dropped class.

        Raises:
            KeyError: for a source name the map does not know.
        """
        ours = self._fn(source_name)
        if ours is _UNKNOWN:
            raise KeyError(source_name)
        if ours is None or ours in ("", "-"):
            return None
        if ours not in self._ids:
            raise KeyError(source_name)
        return self._ids[ours]

    def __repr__(self) -> str:
        return f"ClassMap(names={self.names})"


class _Unknown:
    pass


_UNKNOWN = _Unknown()

def safe_join(root: str | os.PathLike, name: str, source: str | os.PathLike) -> Path:
    """Join a file name taken from an annotation onto `root`, refusing anything that escapes it.

    The check is lexical (`..` and absolute paths), so symlinked files inside `root` stay allowed.

    Raises:
        DataError: for an empty or absolute name or one that climbs out of `root` (`../../x`),
            naming `source`.
    """
    root = Path(os.path.abspath(root))
    joined = Path(os.path.normpath(root / name)) if name else root
    if not name or Path(name).is_absolute() or "\\" in name or not joined.is_relative_to(root) or joined == root:
        raise DataError(f"{source}: file name {name!r} points outside the dataset folder {root}")
    return joined
