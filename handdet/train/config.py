"""Training config: YAML -> typed dataclasses. The dataclasses hold the defaults, with reasons."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handdet.core.config import deep_update, from_dict, load_yaml, parse_overrides
from handdet.core.errors import ConfigError


@dataclass
class SourceConfig:
    """One source of a multi-source dataset: a hand dataset, or a folder of hand-free photos."""

    source: str  # folder name in the data dir (e.g. asl-letters, hand-free/camvid-streets) or a path
    format: str = "yolo"  # reader of the source: voc, yolo, coco, ..., or images (hand-free photos, no labels)
    name: str | None = None  # name in the manifest and the per-source tables; None: `source`
    group: str | None = None  # regex on file stems: one group (video, sequence, photo) never spans two splits
    split: dict = field(default_factory=lambda: {"train": 0.8, "val": 0.2})  # fractions; {test: 1}: testing only
    weight: float = 1.0  # training copies of each image: 0.5 keeps half of them, 2 shows each twice
    negatives: float = 0.0  # share of hand photos that also give a hand-free crop of their own scene
    select: str | None = None  # regex searched in file stems: only matching photos are read ('^(?!x)': all but x)

    def __post_init__(self) -> None:
        if self.select is not None:
            try:
                re.compile(self.select)
            except re.error as e:
                raise ValueError(f"source {self.source}: select is not a regular expression ({e}): {self.select!r}") from None
        if not self.weight > 0:
            raise ValueError(f"source {self.source}: weight must be > 0, got {self.weight}")
        if not 0 <= self.negatives <= 1:
            raise ValueError(f"source {self.source}: negatives must be a fraction in [0, 1], got {self.negatives}")
        bad = sorted(set(self.split) - {"train", "val", "test"})
        if bad:
            raise ValueError(f"source {self.source}: unknown split '{bad[0]}' (use train, val, test)")
        if any(not isinstance(v, (int, float)) or v < 0 for v in self.split.values()) or not any(
                v > 0 for v in self.split.values()):
            raise ValueError(f"source {self.source}: split fractions must be >= 0 with one > 0, got {self.split}")

    @property
    def label(self) -> str:
        """The source's name in manifests and tables."""
        return self.name or self.source.rstrip("/")


@dataclass
class DataConfig:
    """Which dataset to train on and how to split it."""

    source: str = "subhi-hands-voc"  # data.yaml path, a dataset folder (path or name in the data dir), or 'synth'
    format: str = "voc"  # format of `source` when it is not already YOLO
    group: str | None = r"^(.*?)_?pic\d+$"  # regex on the file stem: frames of one sequence stay in one split
    split: dict = field(default_factory=lambda: {"train": 0.8, "val": 0.2})  # split name -> fraction
    seed: int = 0  # split and negative-crop seed
    negatives: float = 0.3  # fraction of training images that also give a hand-free crop (fewer false alarms)
    download: bool = True  # download the default dataset from its public source when it is not local
    fallback: str | None = "synth"  # dataset used when `source` can be neither found nor downloaded
    synth_images: int = 300  # size of the synthetic dataset when it is used
    sources: list[SourceConfig] = field(default_factory=list)  # several sources in one dataset (then `source`,
    # `format`, `group`, `split` and `negatives` above are unused): every image remembers its source


@dataclass
class AugmentConfig:
    """Ultralytics' own augmentation settings (see its cfg/default.yaml), with hand-friendly defaults."""

    hsv_h: float = 0.015  # hue jitter: skin tones vary little in hue
    hsv_s: float = 0.7  # saturation jitter: cameras and lighting differ
    hsv_v: float = 0.4  # brightness jitter
    degrees: float = 10.0  # rotation: hands appear tilted
    translate: float = 0.1  # shift
    scale: float = 0.5  # zoom in/out: close-ups and far hands
    shear: float = 0.0  # shear
    perspective: float = 0.0  # perspective warp
    flipud: float = 0.0  # vertical flip: rarely realistic for photos
    fliplr: float = 0.5  # left/right flip: a left hand mirrored is a right hand
    mosaic: float = 1.0  # 4-image mosaic: more context and scales per batch
    mixup: float = 0.0  # image blending
    close_mosaic: int = 2  # last epochs without mosaic, to finish on natural images


@dataclass
class TrainConfig:
    """Everything `handdet train` needs. YAML files list only what differs from these defaults."""

    model: str = "auto"  # .pt to fine-tune, .yaml to start from scratch, a name found in the weights folder; auto: shipped weights, else yolov8n.pt, else yolov8n.yaml
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 3  # short fine-tune by default; configs/handdet-n.yaml has the full schedule
    imgsz: int = 320  # training and evaluation image size: real-time on CPU
    batch: int | None = None  # images per batch; None: 16 on CPU, 32 per GPU
    workers: int | None = None  # data-loader processes; None: 2 on CPU, 8 on GPU
    device: str = "auto"  # auto (CUDA, then MPS, then CPU), cpu, mps, 0, or a list 0,1 for multi-GPU DDP
    seed: int = 0  # seed for weights init, data order and augmentation
    deterministic: bool = True  # deterministic algorithms, for repeatable runs
    patience: int = 50  # stop after this many epochs without improvement
    lr0: float | None = None  # initial learning rate; None: Ultralytics' default for the optimiser
    optimizer: str = "auto"  # Ultralytics optimiser name (auto, SGD, AdamW, ...)
    cos_lr: bool = False  # cosine learning-rate schedule
    time: float | None = None  # hours to train for; overrides epochs when set (Ultralytics schedules the LR)
    cache: bool = False  # cache decoded images in RAM
    project: str = "runs/train"  # output folder of runs
    name: str = "exp"  # run name; a new run gets exp, exp2, ...
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    albumentations: list = field(default_factory=list)  # [{name: Blur, p: 0.1, blur_limit: [3, 7]}, ...]
    evaluate: bool = True  # run handdet's own evaluation on the val split at the end
    extra: dict = field(default_factory=dict)  # any other Ultralytics train argument, passed through

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a multiple of 32 and >= 32, got {self.imgsz}")
        if self.batch is not None and self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        reserved = set(TrainConfig.__dataclass_fields__) | set(AugmentConfig.__dataclass_fields__)
        clash = sorted(set(self.extra) & (reserved | {"data", "model", "resume", "augmentations"}))
        if clash:
            raise ValueError(f"extra: '{clash[0]}' has its own config key; set it there")


def load_train_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML config (or the defaults) and apply `key=value` overrides.

    A config may start from another with `extends: other.yaml` (a path beside it): its keys then replace the
    other's, mappings merging key by key and lists (sources, albumentations) replacing whole.

    Raises:
        ConfigError: unknown key, wrong type or bad value, naming the file and key.
    """
    data: dict[str, Any] = read_config(path) if path else {}
    source = str(path) if path else "defaults"
    if overrides:
        data = deep_update(data, parse_overrides(overrides))
        source = f"{source} + overrides"
    cfg = from_dict(TrainConfig, data, source)
    from handdet.train.augment import validate_albumentations

    validate_albumentations(cfg.albumentations, source)
    return cfg


def read_config(path: str | os.PathLike, _chain: tuple[Path, ...] = ()) -> dict:
    """The mapping of config `path` with its `extends:` chain merged in, and each source given as a path
    relative to a config file made absolute (see `beside_config`), so a config and the one it extends may sit
    in different folders."""
    path = Path(path)
    if path.resolve() in _chain:
        raise ConfigError(f"{path}: 'extends' leads back to this file")
    data = load_yaml(path)
    block = data.get("data")
    if isinstance(block, dict) and isinstance(block.get("sources"), list):
        data["data"] = {**block, "sources": [beside_config(s, path.parent) for s in block["sources"]]}
    if "extends" not in data:
        return data
    base = data.pop("extends")
    if not isinstance(base, str) or not (path.parent / base).is_file():
        raise ConfigError(f"{path}: 'extends: {base}' must name a config file beside this one")
    return deep_update(read_config(path.parent / base, (*_chain, path.resolve())), data)


def beside_config(source: Any, folder: Path) -> Any:
    """A `data.sources` entry with its source made absolute when it is a relative path to something beside the
    config file (a committed list of mined photos, say), so it is found from any working directory; other
    sources are names in the data directory and stay as they are. The label stays the one the config gave."""
    if not isinstance(source, dict) or not isinstance(source.get("source"), str):
        return source  # left for from_dict to report
    p = Path(source["source"]).expanduser()
    if p.is_absolute() or not (folder / p).exists():
        return source
    label = source.get("name") or source["source"].rstrip("/")
    return {**source, "source": str((folder / p).resolve()), "name": label}
