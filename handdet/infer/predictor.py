"""Predictors: one interface, `predictor(image_bgr) -> Detections`, over PyTorch or ONNX Runtime.

The backend follows the weights' extension unless given. Thresholds are explicit: a setting left
`None` comes from the model's metadata where it has one, else from the defaults below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from handdet.core.detections import Detections, lowest_kept, two_level_active
from handdet.core.errors import ConfigError, HanddetWarning, WeightsError, check_fractions, one_line

DEFAULT_CONF = 0.5  # (float) confidence of a model that records none; `handdet export --conf` records the one
# `handdet choose-conf` measured (the shipped model's: weights/README.md)
DEFAULT_IOU = 0.7  # (float) NMS IoU, Ultralytics' default
DEFAULT_MAX_DET = 300  # (int) at most this many boxes an image
DEFAULT_IMGSZ = 640  # (int) input size when neither the option nor the model says
BACKENDS = ("torch", "onnx")
WEIGHTS_SUFFIXES = (".pt", ".onnx")  # (tuple) model files handdet runs: PyTorch, ONNX Runtime


class Predictor(Protocol):
    """Anything that turns a BGR uint8 (H, W, 3) image into `Detections` in its pixels."""

    names: dict[int, str]
    imgsz: int

    def __call__(self, image_bgr: np.ndarray) -> Detections: ...


@dataclass
class PredictorSettings:
    """Options of a predictor; `None` means "from the model's metadata, else the default".

    Attributes:
        imgsz: square network input size in pixels.
        conf: keep boxes scoring above this.
        conf_low: in an image where a box scores above `conf`, keep its other boxes scoring above this too
            (`infer.two_level`); None: the model's recorded one when `conf` is the model's too, else none. At
            or above `conf`: one cut-off.
        iou: NMS IoU threshold.
        max_det: at most this many boxes an image.
        device: "cpu", "cuda", "cuda:0" or "0".
        rect: PyTorch only: letterbox to the smallest stride-aligned rectangle, as a dynamic ONNX model
            is fed (None: on, Ultralytics' predict default); off to match a static, square ONNX model.
        tta: run each image with its mirror image and fuse the boxes (`infer.tta`): True, False, or None for
            the model's own default (`default_tta`).
        persons: a person model whose people vouch for the faint hands on them (`infer.person_anchor`): its
            path, "none" for none, or None for the one the model records (a file beside it).
        person_conf: the cut-off of those people (default: the model's record, else `DEFAULT_PERSON_CONF`).
        mark_persons: look for people in every image with a box, to score at any cut-off (`handdet eval`);
            else only where the two-level cut-off can use them.
    """

    imgsz: int | None = None
    conf: float | None = None
    conf_low: float | None = None
    iou: float | None = None
    max_det: int | None = None
    device: str = "cpu"
    rect: bool | None = None
    tta: bool | None = None
    persons: str | None = None
    person_conf: float | None = None
    mark_persons: bool = False

    def __post_init__(self) -> None:
        check_fractions({"--conf": self.conf, "--conf-low": self.conf_low, "--iou": self.iou,
                         "--person-conf": self.person_conf})
        if self.imgsz is not None and (self.imgsz < 32 or self.imgsz % 32):
            raise ConfigError(f"--imgsz must be a multiple of 32 and at least 32, got {self.imgsz}")
        if self.max_det is not None and self.max_det < 1:
            raise ConfigError(f"--max-det must be at least 1, got {self.max_det}")


def pick(option, from_model, default):
    """The first of (explicit option, model metadata, built-in default) that is not None."""
    return option if option is not None else (from_model if from_model is not None else default)


def recorded_metadata(weights: str | os.PathLike):
    """What a model records about itself (`export.metadata.ModelMetadata`): an ONNX file's metadata, for a `.pt`
    that of its own export (`own_export`); None for a `.pt` without one."""
    p = Path(weights)
    if p.suffix.lower() == ".onnx":
        from handdet.export.metadata import read_file_metadata

        return read_file_metadata(p)
    own = own_export(p)
    return None if own is None else own[1]


def _conf_of(meta) -> float:
    """The confidence a model's recorded metadata (or None) sets, else DEFAULT_CONF."""
    return float(pick(None, None if meta is None else meta.conf, DEFAULT_CONF))


def _conf_low_of(meta) -> float | None:
    """The lower cut-off of a two-level cut-off a model's recorded metadata (or None) sets; None: one cut-off."""
    return None if meta is None or meta.conf_low is None else float(meta.conf_low)


def _tta_of(meta) -> bool:
    """Whether a model's recorded metadata (or None) says to run it with flip test-time augmentation."""
    return meta is not None and meta.tta == "flip"


def default_conf(weights: str | os.PathLike) -> float:
    """The confidence a predictor keeps boxes at when none is given: what the model records
    (`recorded_metadata`), else DEFAULT_CONF."""
    return _conf_of(recorded_metadata(weights))


def pick_conf_low(conf_low: float | None, conf: float | None, recorded: float | None) -> float | None:
    """The lower cut-off of a two-level cut-off: `conf_low` when given, else the model's `recorded` one when no
    `conf` is given either (an explicit confidence alone means one cut-off), else None."""
    if conf_low is not None:
        return conf_low
    return recorded if conf is None else None


def model_cutoffs(weights: str | os.PathLike, conf: float | None = None,
                  conf_low: float | None = None) -> tuple[float, float | None]:
    """(conf, conf_low): the cut-offs a predictor of `weights` keeps boxes at for these options, as
    `load_predictor` sets them: `conf` else the model's record (`default_conf`), and `conf_low` as
    `pick_conf_low` picks it, None unless it lies below the confidence (one cut-off). Reads the record once."""
    meta = recorded_metadata(weights)
    c = _conf_of(meta) if conf is None else float(conf)
    low = pick_conf_low(conf_low, conf, _conf_low_of(meta))
    return c, (low if two_level_active(c, low) else None)


def own_export(pt: str | os.PathLike):
    """(path, metadata) of the ONNX export of exactly this `.pt`: `<stem>.onnx` beside it whose metadata names
    the `.pt`'s sha256; None when there is no such file."""
    from handdet.export.metadata import read_file_metadata, sha256_file

    pt = Path(pt)
    onnx = pt.with_suffix(".onnx")
    if not (pt.is_file() and onnx.is_file()):
        return None
    try:
        meta = read_file_metadata(onnx)
    except Exception:  # an unreadable sibling says nothing about this .pt
        return None
    return (onnx, meta) if meta.source_sha256 == sha256_file(pt) else None


def exported_conf(pt: str | os.PathLike) -> float | None:
    """The confidence recorded by the ONNX export of exactly this `.pt`, so `handdet predict model.pt` keeps what
    `handdet predict model.onnx` keeps; None when there is no such export."""
    own = own_export(pt)
    return None if own is None or own[1].conf is None else float(own[1].conf)


def person_model(option: str | None, weights: str | os.PathLike, meta) -> Path | None:
    """The person model that anchors faint hands (`infer.person_anchor`): `option` (a path, or "none"), else the
    file the model's metadata names beside `weights`; None for none. A recorded file that is not there is
    warned about in one line and the model runs without people (a copy of the model alone still works).

    Raises:
        WeightsError: `option` names a file that does not exist.
    """
    if option is not None:
        if option.lower() == "none":
            return None
        if not Path(option).is_file():
            raise WeightsError(f"{option}: person model not found (--persons takes an .onnx or .pt, or none)")
        return Path(option)
    if meta is None or meta.persons is None:
        return None
    path = Path(weights).parent / meta.persons
    if not path.is_file():
        import warnings

        warnings.warn(f"{weights}: runs without people vouching for faint hands: its person model {meta.persons} is "
                      f"not beside it at {path} (place it there, or pass --persons PATH or --persons none)",
                      PersonModelMissing, stacklevel=3)
        return None
    return path


class PersonModelMissing(HanddetWarning):
    """A model records a person model that is not beside it, so it runs without one."""


def default_tta(weights: str | os.PathLike) -> bool:
    """Whether `handdet predict` runs `weights` with flip test-time augmentation when not told: what the model
    records (`recorded_metadata`); off for a model that records nothing."""
    return _tta_of(recorded_metadata(weights))


def from_ultralytics(result) -> Detections:
    """Adapter: one Ultralytics `Results` -> `Detections`."""
    b = result.boxes
    if b is None or len(b) == 0:
        return Detections.empty()
    return Detections(
        b.xyxy.cpu().numpy(), b.conf.cpu().numpy(), b.cls.cpu().numpy().astype(np.int64)
    )


class TorchPredictor:
    """PyTorch through Ultralytics, for `.pt` weights. Weights are pickles: load only ones you trust."""

    backend = "torch"

    def __init__(self, weights: str | os.PathLike, settings: PredictorSettings | None = None):
        from handdet.core.runtime import prepare_ultralytics

        prepare_ultralytics()
        from ultralytics import YOLO

        self.weights = Path(weights)
        s = settings or PredictorSettings()
        try:
            self.model = YOLO(str(self.weights), task="detect")
        except Exception as e:
            msg = one_line(e)
            raise WeightsError(
                f"{self.weights}: not loadable as YOLO weights, the file may be truncated or not a "
                f"checkpoint ({type(e).__name__}: {msg})"
            ) from None
        if getattr(self.model, "task", "detect") != "detect":
            raise WeightsError(f"{self.weights}: a '{self.model.task}' model, not a detection model")
        self.names = {int(k): str(v) for k, v in self.model.names.items()}
        args = getattr(self.model.model, "args", {}) or {}
        trained = args.get("imgsz") if isinstance(args.get("imgsz"), int) else None
        self.imgsz = int(pick(s.imgsz, trained, DEFAULT_IMGSZ))
        self.conf = float(s.conf if s.conf is not None else _conf_of(self.metadata))  # hashes the .pt only then
        self.iou = float(pick(s.iou, None, DEFAULT_IOU))
        self.max_det = int(pick(s.max_det, None, DEFAULT_MAX_DET))
        self.device, self.rect = s.device, True if s.rect is None else s.rect

    @cached_property
    def metadata(self):
        """What this `.pt` records through its own export (`recorded_metadata`), read once, when first needed."""
        return recorded_metadata(self.weights)

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        r = self.model.predict(
            image_bgr, imgsz=self.imgsz, conf=self.conf, iou=self.iou, max_det=self.max_det,
            device=self.device, rect=self.rect, verbose=False,
        )[0]
        return from_ultralytics(r)

    def predict_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """`Detections` of each BGR image, the same as calling the predictor on each: images of one
        size go to Ultralytics' `predict` as one list, which it runs as one batch (a list of mixed
        sizes would be letterboxed to squares, unlike single images)."""
        out: list[Detections | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(tuple(im.shape), []).append(i)
        for idx in groups.values():
            results = self.model.predict(
                [images[i] for i in idx], imgsz=self.imgsz, conf=self.conf, iou=self.iou,
                max_det=self.max_det, device=self.device, rect=self.rect, verbose=False,
            )
            for i, r in zip(idx, results, strict=True):
                out[i] = from_ultralytics(r)
        return out  # type: ignore[return-value]


def load_predictor(
    weights: str | os.PathLike, backend: str | None = None, settings: PredictorSettings | None = None
) -> Predictor:
    """Build the predictor for `weights` (`.pt` -> PyTorch, `.onnx` -> ONNX Runtime, or `backend`), wrapped in
    flip test-time augmentation (`infer.tta.FlipPredictor`) when `settings.tta` says so or, left None, when
    the model records it as its default, then in a person anchor (`infer.person_anchor`) where a person model
    is set or recorded and a two-level cut-off can use it (or `settings.mark_persons`), and then in a two-level
    cut-off (`infer.two_level`) when `settings.conf_low` or, with neither it nor `settings.conf` given, the
    model's record sets one below the confidence.

    Raises:
        WeightsError: the file (or the person model given) is missing, unreadable or not a detection model.
        ConfigError: an unknown backend.
    """
    p = Path(weights)
    if not p.is_file():
        raise WeightsError(f"{p}: weights file not found")
    if backend is None and p.suffix.lower() not in WEIGHTS_SUFFIXES:
        raise WeightsError(f"{p}: not model weights (handdet runs .pt files on PyTorch and .onnx on ONNX Runtime)")
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}' (choose {' or '.join(BACKENDS)})")
    backend = backend or ("onnx" if p.suffix.lower() == ".onnx" else "torch")
    if backend == "torch":
        if p.suffix.lower() == ".onnx":
            raise ConfigError(f"{p}: an ONNX file cannot run on the torch backend (use --backend onnx)")
        predictor = TorchPredictor(p, settings)
    else:
        from handdet.infer.onnx_predictor import OnnxPredictor

        predictor = OnnxPredictor(p, settings)
    # an ONNX session already holds its metadata (the ONNX path stays free of the `onnx` package); a .pt reads
    # its own export's once, shared with its default confidence
    s = settings or PredictorSettings()
    meta = predictor.metadata
    tta = s.tta if s.tta is not None else _tta_of(meta)
    low = pick_conf_low(s.conf_low, s.conf, _conf_low_of(meta))
    conf = predictor.conf
    two_level = two_level_active(conf, low)
    people = person_model(s.persons, p, meta) if two_level or s.mark_persons else None
    if two_level:  # the boxes of every level (with people, `FAR_LEVEL` too); the wrappers below pick them per image
        predictor.conf = low if people is None else lowest_kept(conf, low)
    if tta:
        from handdet.infer.tta import FlipPredictor

        predictor = FlipPredictor(predictor)
    if people is not None:
        from handdet.infer.person_anchor import DEFAULT_PERSON_CONF, PersonAnchor

        people_conf = pick(s.person_conf, None if meta is None else meta.person_conf, DEFAULT_PERSON_CONF)
        finder = load_predictor(people, settings=PredictorSettings(conf=people_conf, device=s.device, persons="none"))
        predictor = PersonAnchor(predictor, finder, None if s.mark_persons else (conf, low))
    if not two_level:
        return predictor
    from handdet.infer.two_level import TwoLevelPredictor

    return TwoLevelPredictor(predictor, conf, low)


def open_predictor(weights: str | os.PathLike, backend: str | None = None, settings: PredictorSettings | None = None,
                   tile: bool = False, tile_overlap: float | None = None) -> Predictor:
    """The predictor `handdet predict` runs: `weights` found where `core.paths.resolve_weights` looks, loaded by
    `load_predictor`, and with `tile` also run on overlapping tiles (`infer.tile.tiled`), beneath its two-level
    cut-off so that the cut-off judges the merged frame.

    Raises:
        WeightsError, ConfigError: as `load_predictor`; ConfigError for a tile overlap out of range too.
    """
    from handdet.core.paths import resolve_weights
    from handdet.infer.tile import tile_option, tiled

    overlap = tile_option(tile, tile_overlap)  # checked before the slow load
    predictor = load_predictor(resolve_weights(weights), backend, settings)
    return predictor if overlap is None else tiled(predictor, overlap)
