"""Hard-negative mining: run a model over hand-free photos or videos and keep what it fires on.

    handdet mine weights/handdet-n.pt ../shared/data/hand-free/camvid-streets --out build/mined/camvid --crops

A detector that was never shown your scene (a shop floor, a street, a dark room) fires on things in it
that look like hands. Point `handdet mine` at folders of photos of that scene with no hand in them, or
at videos of it (every `--every`-th frame is read): every image where the model fires at `--conf`
(default: the model's own, 0.5 for the shipped model) is a false detection, and is copied into `--out`
(video frames as JPEG files `<video stem>_<frame index>.jpg`). With `--crops`, each false detection
also gives a crop around it with context (`CROP_SCALE` times the box, at least `CROP_MIN_PX` pixels a
side) in `--out/crops/`. `--out/mine_report.json` lists every mined image (its source file, frame,
boxes, highest score and crops) and the totals. The summary line reports images scanned, images where
the model fired and false detections per 100 images.

The output is a folder of plain images, a hand-free source for the next round of training, e.g. in
the `data.sources` of a training config:

    - {source: build/mined/camvid, format: images, group: '^(.+?)(?:_\\d{6})?(?:__crop\\d+)?$', split: {train: 0.85, val: 0.15}}

(the group keeps the crops and frames of one video with their image in one split). After retraining,
`rescore(new_weights, out)` (or `handdet mine OLD SOURCE... --out DIR --after NEW`) scans the same
sources again with the new model, for the rate after. Photos you trained on flatter the new model:
for an honest "after", mine a few photos of the scene and keep others apart to rescore.

`--out` is written atomically: a failure (an unreadable image, Ctrl-C) leaves it as it was. An existing
`--out` is replaced only when it is an earlier mine output (it holds `mine_report.json`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from handdet.core.detections import Detections
from handdet.core.errors import ConfigError, DataError, SourceError

if TYPE_CHECKING:
    from handdet.infer.sources import Frame

REPORT_NAME = "mine_report.json"
LIST_NAME = "images.txt"  # the mined photos' own files, relative to the data directory when under it
CROPS_DIR = "crops"
CROP_SCALE = 2.0  # (float) crop side / box side: the false detection plus as much context around it
CROP_MIN_PX = 96  # (int) smallest crop side: a tiny box still comes with enough scene to learn from
JPEG_QUALITY = 95  # (int) video frames and crops are re-encoded: keep the artefacts the model sees small


@dataclass(frozen=True)
class Crop:
    """One crop around a false detection: its file in the output and its window in the source image."""

    file: str  # path relative to the output folder, e.g. crops/<image stem>__crop0.jpg
    window: tuple[int, int, int, int]  # x1, y1, x2, y2 absolute pixels in the source image


@dataclass(frozen=True)
class Hit:
    """One image the model fired on."""

    source: str  # the source as given (folder, image, glob or video)
    file: str  # the image file, or the video file
    frame: int | None  # frame index in the video; None for an image file
    name: str  # its file in the output folder ("" when nothing was written, as by `rescore`)
    resolution_wh: tuple[int, int]
    detections: Detections  # the false detections, absolute-pixel xyxy
    crops: tuple[Crop, ...] = ()

    @property
    def max_score(self) -> float:
        return float(self.detections.confidence.max()) if len(self.detections) else 0.0


@dataclass
class SourceTally:
    """What one source gave: images scanned, images where the model fired, false detections."""

    source: str
    kind: str
    images: int = 0
    fired: int = 0
    detections: int = 0


@dataclass
class MineReport:
    """The result of `mine_negatives` or `rescore`: per-source tallies and every image the model fired on."""

    weights: str
    conf: float
    every: int
    max_images: int | None
    sources: list[SourceTally]
    hits: list[Hit] = field(default_factory=list)
    out: Path | None = None

    @property
    def images(self) -> int:
        return sum(s.images for s in self.sources)

    @property
    def fired(self) -> int:
        return sum(s.fired for s in self.sources)

    @property
    def detections(self) -> int:
        return sum(s.detections for s in self.sources)

    @property
    def crops(self) -> int:
        return sum(len(h.crops) for h in self.hits)

    @property
    def per_100(self) -> float:
        """False detections per 100 images scanned."""
        return 100.0 * self.detections / self.images if self.images else 0.0

    def rate_text(self) -> str:
        return (f"{Path(self.weights).name} at conf {self.conf:g} fired on {self.fired} of "
                f"{_n(self.images, 'image')}: {_n(self.detections, 'false detection')}, "
                f"{self.per_100:.1f} per 100 images")

    def summary_line(self, prefix: str = "handdet mine") -> str:
        """One line: images scanned, images where the model fired, false detections per 100 images."""
        line = f"{prefix}: {self.rate_text()}"
        if self.out is not None:
            crops = f", {_n(self.crops, 'crop')}" if self.crops else ""
            line += f"; wrote {_n(self.fired, 'image')}{crops} and {REPORT_NAME} to {self.out}"
        return line

    def to_dict(self) -> dict:
        return {
            "weights": self.weights, "conf": self.conf, "every": self.every, "max_images": self.max_images,
            "totals": {"images": self.images, "fired": self.fired, "detections": self.detections,
                       "per_100_images": round(self.per_100, 3), "crops": self.crops},
            "sources": [vars(s) for s in self.sources],
            "images": [_hit_dict(h) for h in self.hits],
        }

    @classmethod
    def from_dict(cls, d: dict, out: Path | None = None) -> MineReport:
        hits = [Hit(h["source"], h["file"], h["frame"], h["name"], tuple(h["resolution_wh"]),
                    Detections(np.array([b[:4] for b in h["boxes"]], np.float32).reshape(-1, 4),
                               np.array([b[4] for b in h["boxes"]], np.float32)),
                    tuple(Crop(c["file"], tuple(c["window"])) for c in h["crops"]))
                for h in d["images"]]
        return cls(d["weights"], d["conf"], d["every"], d["max_images"],
                   [SourceTally(**s) for s in d["sources"]], hits, out)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _hit_dict(h: Hit) -> dict:
    boxes = [[round(float(v), 1) for v in xyxy] + [round(float(c), 4)]
             for xyxy, c in zip(h.detections.xyxy, h.detections.confidence, strict=True)]
    return {"name": h.name, "source": h.source, "file": h.file, "frame": h.frame,
            "resolution_wh": list(h.resolution_wh), "detections": len(h.detections),
            "max_score": round(h.max_score, 4), "boxes": boxes,
            "crops": [{"file": c.file, "window": list(c.window)} for c in h.crops]}


def read_report(folder: str | os.PathLike) -> MineReport:
    """The report of an earlier mine output folder.

    Raises:
        DataError: the folder holds no readable `mine_report.json`.
    """
    path = Path(folder) / REPORT_NAME
    try:
        return MineReport.from_dict(json.loads(path.read_text()), Path(folder))
    except FileNotFoundError:
        raise DataError(f"{path}: not found; pass a `handdet mine` output folder or the sources themselves") from None
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise DataError(f"{path}: not a readable mine report ({type(e).__name__}: {e})") from None


def crop_window(xyxy: np.ndarray, resolution_wh: tuple[int, int], scale: float = CROP_SCALE,
                min_px: int = CROP_MIN_PX) -> tuple[int, int, int, int]:
    """The crop around one box: `scale` times its sides, at least `min_px`, shifted (not cut) to fit.

    Args:
        xyxy: (4,) absolute-pixel corners of the box.
        resolution_wh: (w, h) of the image.

    Returns:
        Integer corners x1, y1, x2, y2 inside the image that contain the box (clipped to the image);
        a side is the whole image side when the image is smaller than the crop.
    """
    w, h = resolution_wh
    x1, y1, x2, y2 = np.clip(np.asarray(xyxy, np.float64).reshape(4), 0, [w, h, w, h])
    cw = min(float(w), max(scale * (x2 - x1), float(min_px)))
    ch = min(float(h), max(scale * (y2 - y1), float(min_px)))
    # Centred on the box, then slid inside the image: a window at least as large as the box keeps it whole.
    left = min(max((x1 + x2 - cw) / 2, 0.0), w - cw)
    top = min(max((y1 + y2 - ch) / 2, 0.0), h - ch)
    return (max(0, math.floor(left)), max(0, math.floor(top)),
            min(w, math.ceil(left + cw)), min(h, math.ceil(top + ch)))


def open_file_source(spec: str | os.PathLike):
    """Open a folder, image, glob or video for mining (cameras and streams have no end to mine).

    Raises:
        SourceError: the path does not exist or cannot be read, naming it.
    """
    from handdet.infer.sources import SourceKind, classify, open_source

    s = str(spec).strip()
    p = Path(s).expanduser()
    if p.exists():
        return open_source(p.resolve())  # resolved: a folder named "0" is not camera 0
    kind = classify(s)
    if kind in (SourceKind.CAMERA, SourceKind.STREAM):
        raise SourceError(f"{s}: mining reads folders, images, globs and videos, not cameras or streams "
                          f"(record a video of the scene first)")
    if kind is SourceKind.GLOB:
        return open_source(s)
    raise SourceError(f"{p}: no such folder, image or video")


def _frame_total(src, every: int) -> int | None:
    """Images `scan` will read from an opened source, if known (for the progress bar)."""
    from handdet.infer.sources import VideoFile, count_frames

    n = count_frames(src)
    if n is None:
        return None
    return -(-n // every) if isinstance(src, VideoFile) else n


def scan(
    predictor: Callable[[np.ndarray], Detections], sources: Sequence[str | os.PathLike], tallies: list[SourceTally], every: int = 1,
    max_images: int | None = None, progress: bool = True, desc: str = "mine",
) -> Iterator[tuple[SourceTally, Frame, Detections]]:
    """Run `predictor` over every image of `sources` (every `every`-th video frame), at most `max_images`.

    Every source is opened (and so checked) before the first image is read. Appends one tally per
    source to `tallies` as its reading starts; yields, per image scanned, its source's tally (already
    counting it), the `Frame` and its detections.

    Raises:
        SourceError: a source is missing, unreadable, or a video yields no frame.
        ConfigError: `every` or `max_images` below 1, or no source.
    """
    from handdet.infer.sources import VideoFile

    _check_options(sources, every, max_images)
    with contextlib.ExitStack() as stack:
        opened = [(_label(s), stack.enter_context(open_file_source(s))) for s in sources]
        counts = [_frame_total(src, every) for _, src in opened]
        total = None if None in counts else sum(counts)
        if max_images is not None:
            total = max_images if total is None else min(total, max_images)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(total=total, unit="image", desc=desc, leave=False, disable=None))
        scanned = 0
        for spec, src in opened:
            if max_images is not None and scanned >= max_images:
                return
            tally = SourceTally(spec, src.kind.value)
            tallies.append(tally)
            is_video = isinstance(src, VideoFile)
            read = 0
            with contextlib.closing(iter(src)) as frames:  # leaving early stops the read-ahead thread
                for frame in frames:
                    read += 1
                    if is_video and frame.index % every:
                        continue
                    dets = predictor(frame.image)
                    tally.images += 1
                    tally.fired += bool(len(dets))
                    tally.detections += len(dets)
                    scanned += 1
                    if bar is not None:
                        bar.update(1)
                    yield tally, frame, dets
                    if max_images is not None and scanned >= max_images:
                        break
            if is_video and not read:
                raise SourceError(f"{src.path}: no frame could be read from this video (empty or corrupt)")


def _check_options(sources: Sequence, every: int, max_images: int | None) -> None:
    if not sources:
        raise ConfigError("give at least one folder, image or video to mine")
    if every < 1:
        raise ConfigError(f"--every must be at least 1, got {every}")
    if max_images is not None and max_images < 1:
        raise ConfigError(f"--max-images must be at least 1, got {max_images}")


def _label(spec: str | os.PathLike) -> str:
    """How the report names a source: its absolute path (so `rescore` finds it from any folder), or the glob."""
    p = Path(str(spec)).expanduser()
    return str(p.resolve()) if p.exists() else str(spec)


def _check_out(out: Path, sources: Sequence[str | os.PathLike]) -> None:
    """Refuse outputs that would destroy a source or a folder that is not an earlier mine output."""
    out = out.expanduser().resolve()
    for s in sources:
        p = Path(str(s)).expanduser()
        if p.exists():
            p = p.resolve()
            if p == out or out in p.parents:
                raise ConfigError(f"{out}: the output folder would replace the source {p}; choose another --out")
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not (out / REPORT_NAME).is_file():
            raise ConfigError(f"{out}: exists and is not a `handdet mine` output (no {REPORT_NAME}); "
                              f"choose a new folder or remove it")


def _unique(name: str, used: set[str]) -> str:
    """`name`, or `<stem>-<k><suffix>` when two sources hold files of the same name."""
    stem, suffix = os.path.splitext(name)
    k, out = 1, name
    while out.lower() in used:
        out, k = f"{stem}-{k}{suffix}", k + 1
    used.add(out.lower())
    return out


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise DataError(f"{path}: cannot write this image")


def _predictor(weights: str | os.PathLike, conf: float | None):
    from handdet.core.paths import resolve_weights
    from handdet.infer.predictor import PredictorSettings, default_conf, load_predictor

    w = resolve_weights(weights)
    conf = default_conf(w) if conf is None else conf
    return w, load_predictor(w, settings=PredictorSettings(conf=conf))


def mine_negatives(
    weights: str | os.PathLike,
    sources: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    conf: float | None = None,
    crops: bool = False,
    every: int = 1,
    max_images: int | None = None,
    progress: bool = True,
) -> MineReport:
    """Collect the hand-free images (and video frames) where `weights` fires, as background images.

    Args:
        weights: `.pt` or `.onnx` model (a path, or a name in the weights folders).
        sources: folders of images, image files, globs or video files, all without hands.
        out: output folder: the mined images (copies; video frames as JPEG), `crops/` with `crops`,
            and `mine_report.json`. Written atomically; an existing folder is replaced only when it
            is an earlier mine output.
        conf: count boxes scoring above this; None: the model's default (`default_conf`).
        crops: also write a crop around each false detection (`crop_window`).
        every: read every `every`-th frame of a video (all images of a folder are read).
        max_images: stop after scanning this many images in all.
        progress: show a progress bar.

    Returns:
        The report, also written to `out/mine_report.json`.

    Raises:
        SourceError: a source is missing or unreadable (named); `out` is then left as it was.
        ConfigError: bad options, or an `out` that is a source or a folder of other files.
        WeightsError: the weights cannot be found or loaded.
    """
    from handdet.core.atomic import atomic_dir
    from handdet.infer.sources import SourceKind

    out = Path(out).expanduser()
    _check_options(sources, every, max_images)
    _check_out(out, sources)
    w, predictor = _predictor(weights, conf)
    report = MineReport(str(w), float(predictor.conf), every, max_images, [], [], out)
    used: set[str] = {REPORT_NAME, LIST_NAME}
    with atomic_dir(out) as tmp:
        for tally, frame, dets in scan(predictor, sources, report.sources, every, max_images, progress):
            if not len(dets):
                continue
            image = frame.image
            is_video = tally.kind == SourceKind.VIDEO.value
            name = _unique(f"{frame.name}.jpg" if is_video else frame.path.name, used)
            if is_video:
                _write_jpeg(tmp / name, image)
            else:
                shutil.copyfile(frame.path, tmp / name)
            wh = (image.shape[1], image.shape[0])
            hit_crops = []
            if crops:
                (tmp / CROPS_DIR).mkdir(exist_ok=True)
                for k, box in enumerate(dets.xyxy):
                    x1, y1, x2, y2 = crop_window(box, wh)
                    rel = f"{CROPS_DIR}/{Path(name).stem}__crop{k}.jpg"
                    _write_jpeg(tmp / rel, image[y1:y2, x1:x2])
                    hit_crops.append(Crop(rel, (x1, y1, x2, y2)))
            report.hits.append(Hit(tally.source, str(frame.path), frame.index if is_video else None, name, wh,
                                   dets, tuple(hit_crops)))
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        (tmp / LIST_NAME).write_text(image_list_text(report))
    return report


def image_list_text(report: MineReport) -> str:
    """`images.txt`: each mined still photo's own file (not video frames), relative to the data directory
    when it lies there, so a config can add them to training by name (`format: images`)."""
    from handdet.core.paths import data_dir

    root = data_dir()
    lines = [f"# photos where {Path(report.weights).name} fired at conf {report.conf:g} (handdet mine)"]
    for h in report.hits:
        if h.frame is None:
            p = Path(h.file).absolute()
            lines.append(str(p.relative_to(root)) if p.is_relative_to(root) else str(p))
    return "\n".join(lines) + "\n"


def rescore(
    weights: str | os.PathLike,
    out_or_sources: str | os.PathLike | Sequence[str | os.PathLike],
    conf: float | None = None,
    every: int | None = None,
    max_images: int | None = None,
    progress: bool = True,
) -> MineReport:
    """False detections of `weights` on the same images as an earlier mining (or on given sources); writes nothing.

    Args:
        weights: the model to score, e.g. the one retrained with the mined images.
        out_or_sources: a `handdet mine` output folder (its report's sources are scanned again, with
            its `every` and `max_images` unless given), or a list of sources (or one source).
        conf: None: the model's default confidence, as `mine_negatives`.
        every: video frame step (default: the report's, else 1).
        max_images: at most this many images (default: the report's, else all).
        progress: show a progress bar.

    Returns:
        A report without an output folder; compare its `per_100` with the mining's (`compare_line`).
    """
    from handdet.infer.sources import SourceKind

    if isinstance(out_or_sources, (str, os.PathLike)):
        if (Path(out_or_sources).expanduser() / REPORT_NAME).is_file():
            before = read_report(Path(out_or_sources).expanduser())
            sources = [s.source for s in before.sources]
            every = before.every if every is None else every
            max_images = before.max_images if max_images is None else max_images
        else:
            sources = [out_or_sources]
    else:
        sources = list(out_or_sources)
    every = 1 if every is None else every
    _check_options(sources, every, max_images)
    w, predictor = _predictor(weights, conf)
    report = MineReport(str(w), float(predictor.conf), every, max_images, [], [])
    for tally, frame, dets in scan(predictor, sources, report.sources, every, max_images, progress, "rescore"):
        if len(dets):
            is_video = tally.kind == SourceKind.VIDEO.value
            report.hits.append(Hit(tally.source, str(frame.path), frame.index if is_video else None, "",
                                   (frame.image.shape[1], frame.image.shape[0]), dets))
    return report


def compare_line(before: MineReport, after: MineReport) -> str:
    """One line: the false-detection rates of two models on the same images."""
    same = "" if before.images == after.images else f" (before on {before.images} images)"
    return (f"after: {after.rate_text()}{same}; before {before.per_100:.1f}, "
            f"after {after.per_100:.1f} per 100 images")
