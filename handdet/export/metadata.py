"""What an ONNX model says about itself: class names, input size, stride, defaults, provenance.

Ultralytics writes `names`, `imgsz`, `stride` (Python reprs) into `metadata_props`; the exporter adds
`handdet.*` keys (JSON values). The ONNX predictor reads both back so nothing is passed twice.
Reading needs only onnxruntime (or a plain dict); writing imports `onnx` inside the function.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "handdet."
KEY_NAMES = PREFIX + "names"  # JSON {"0": "hand"}
KEY_IMGSZ = PREFIX + "imgsz"  # JSON [h, w]
KEY_STRIDE = PREFIX + "stride"  # JSON int
KEY_CONF = PREFIX + "conf"  # JSON float, default confidence threshold
KEY_CONF_LOW = PREFIX + "conf_low"  # JSON float, the lower cut-off of boxes beside one above conf (two-level)
KEY_IOU = PREFIX + "iou"  # JSON float, default NMS IoU
KEY_SHA256 = PREFIX + "source_sha256"  # sha256 of the .pt the graph was exported from
KEY_SOURCE = PREFIX + "source"  # file name of that .pt
KEY_VERSION = PREFIX + "version"  # handdet version that exported it
KEY_DYNAMIC = PREFIX + "dynamic"  # JSON bool
KEY_PRECISION = PREFIX + "precision"  # "fp32" or "int8"
KEY_TTA = PREFIX + "tta"  # "flip" (photos run with their mirror image, `infer.tta`) or "none": the default
KEY_PERSONS = PREFIX + "persons"  # file name of a person model beside this one that anchors faint hands
KEY_PERSON_CONF = PREFIX + "person_conf"  # JSON float, the cut-off of that model's people (`infer.person_anchor`)


@dataclass(frozen=True)
class ModelMetadata:
    """Metadata of an exported model; `None` where the file does not say.

    Attributes:
        names: class id -> name.
        imgsz: (h, w) the model was exported for.
        stride: largest model stride (letterbox alignment).
        conf, iou: default thresholds recorded at export.
        conf_low: default lower cut-off of a two-level cut-off (`core.detections.keep_confident`); None: one.
        source_sha256, source: the PyTorch weights the graph came from.
        handdet_version: version of handdet that exported it.
        dynamic: whether the input has dynamic height and width.
        precision: "fp32" or "int8".
        tta: test-time augmentation `handdet predict` runs by default: "flip" or "none".
        persons, person_conf: the person model (a file name beside this model) whose people at `person_conf`
            vouch for faint hands on them (`infer.person_anchor`); None: none.
        raw: every metadata key and value as stored.
    """

    names: dict[int, str] | None = None
    imgsz: tuple[int, int] | None = None
    stride: int | None = None
    conf: float | None = None
    conf_low: float | None = None
    iou: float | None = None
    source_sha256: str | None = None
    source: str | None = None
    handdet_version: str | None = None
    dynamic: bool | None = None
    precision: str | None = None
    tta: str | None = None
    persons: str | None = None
    person_conf: float | None = None
    raw: dict[str, str] = field(default_factory=dict)


def _names(value: str | None) -> dict[int, str] | None:
    if not value:
        return None
    try:
        obj = json.loads(value)
    except ValueError:
        try:
            obj = ast.literal_eval(value)  # Ultralytics writes a Python dict repr
        except (ValueError, SyntaxError):
            return None
    if isinstance(obj, list):
        return {i: str(n) for i, n in enumerate(obj)}
    if isinstance(obj, dict):
        try:
            return {int(k): str(v) for k, v in obj.items()}
        except (TypeError, ValueError):
            return None
    return None


def _imgsz(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        obj = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
    if isinstance(obj, int):
        return (obj, obj)
    if isinstance(obj, (list, tuple)) and len(obj) == 2 and all(isinstance(v, int) for v in obj):
        return (int(obj[0]), int(obj[1]))
    return None


def _scalar(value: str | None, tp: type):
    if value is None or value == "":
        return None
    try:
        v = json.loads(value) if tp is not str else value
    except ValueError:
        try:
            v = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if tp is bool:
        return v if isinstance(v, bool) else (str(v).lower() == "true")
    try:
        return tp(v)
    except (TypeError, ValueError):
        return None


def parse_metadata(props: dict[str, str]) -> ModelMetadata:
    """Build `ModelMetadata` from ONNX `metadata_props`; handdet keys win over Ultralytics' keys."""
    g = props.get
    return ModelMetadata(
        names=_names(g(KEY_NAMES)) or _names(g("names")),
        imgsz=_imgsz(g(KEY_IMGSZ)) or _imgsz(g("imgsz")),
        stride=_scalar(g(KEY_STRIDE), int) or _scalar(g("stride"), int),
        conf=_scalar(g(KEY_CONF), float),
        conf_low=_scalar(g(KEY_CONF_LOW), float),
        iou=_scalar(g(KEY_IOU), float),
        source_sha256=g(KEY_SHA256) or None,
        source=g(KEY_SOURCE) or None,
        handdet_version=g(KEY_VERSION) or None,
        dynamic=_scalar(g(KEY_DYNAMIC), bool),
        precision=g(KEY_PRECISION) or None,
        tta=g(KEY_TTA) or None,
        persons=g(KEY_PERSONS) or None,
        person_conf=_scalar(g(KEY_PERSON_CONF), float),
        raw=dict(props),
    )


def session_metadata(session) -> ModelMetadata:
    """Metadata of a loaded `onnxruntime.InferenceSession`."""
    return parse_metadata(dict(session.get_modelmeta().custom_metadata_map))


def metadata_props(
    names: dict[int, str],
    imgsz: tuple[int, int],
    stride: int,
    conf: float,
    iou: float,
    source: str | os.PathLike | None = None,
    dynamic: bool = False,
    precision: str = "fp32",
    tta: str = "none",
    conf_low: float | None = None,
    persons: str | None = None,
    person_conf: float | None = None,
) -> dict[str, str]:
    """The `handdet.*` keys for an exported model (values as strings, JSON where structured); `persons`: a file
    name beside the model."""
    from handdet import __version__

    props = {
        KEY_NAMES: json.dumps({str(k): v for k, v in names.items()}),
        KEY_IMGSZ: json.dumps([int(imgsz[0]), int(imgsz[1])]),
        KEY_STRIDE: json.dumps(int(stride)),
        KEY_CONF: json.dumps(float(conf)),
        KEY_IOU: json.dumps(float(iou)),
        KEY_VERSION: __version__,
        KEY_DYNAMIC: json.dumps(bool(dynamic)),
        KEY_PRECISION: precision,
        KEY_TTA: tta,
    }
    if conf_low is not None:
        props[KEY_CONF_LOW] = json.dumps(float(conf_low))
    if persons is not None:
        props[KEY_PERSONS] = Path(persons).name
        props[KEY_PERSON_CONF] = json.dumps(float(person_conf))
    if source is not None:
        props[KEY_SHA256] = sha256_file(source)
        props[KEY_SOURCE] = Path(source).name
    return props


def set_metadata(model, props: dict[str, str]) -> None:
    """Add or replace `props` in an `onnx.ModelProto`'s metadata_props, in place."""
    existing = {p.key: p for p in model.metadata_props}
    for k, v in props.items():
        if k in existing:
            existing[k].value = str(v)
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = k, str(v)


def read_file_metadata(path: str | os.PathLike) -> ModelMetadata:
    """Metadata of an ONNX file, read with `onnx` (no session, no weights loaded into a runtime)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return parse_metadata({p.key: p.value for p in model.metadata_props})


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
