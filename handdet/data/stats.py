"""What is in a YOLO dataset: images and boxes per split and class, hands per image, box sizes,
aspect ratios; and plots to eyeball the labels.

    handdet stats build/subhi --out runs/stats/subhi

`dataset_stats()` reads every label file and each image's size from its header (no decoding), so
it runs in seconds on thousands of images; `format_stats()` is the printed table; `plot_stats()`
writes the figures and a grid of images with their boxes. Box sizes use COCO's buckets by pixel
area (small < 32², medium < 96², large otherwise).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handdet.core.atomic import atomic_dir
from handdet.core.boxes import xywhn_to_xyxy
from handdet.core.detections import Detections
from handdet.core.errors import DataError
from handdet.data.yolo_dataset import label_path_for, parse_label_text, read_data_yaml

SMALL_AREA_PX = 32**2  # (int) COCO: boxes below this pixel area are "small"
LARGE_AREA_PX = 96**2  # (int) COCO: boxes from this pixel area up are "large"; between: "medium"
SIZE_BINS = ("small", "medium", "large")
HANDS_BINS = ("0", "1", "2", "3+")  # hands-per-image histogram bins
ASPECT_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)  # quantiles of box width / height reported
GRID_IMAGES = 16  # (int) images in the sample grid (4 x 4)
GRID_TILE_PX = 256  # (int) side of one grid tile
MAX_PROBLEMS = 20  # (int) unreadable files listed by name (all are counted)
STATS_JSON = "stats.json"  # marks a folder written by `plot_stats` (only such a folder is replaced)
SPLIT_ORDER = ("train", "val", "test")


@dataclass(frozen=True)
class SplitStats:
    """Counts of one split.

    Attributes:
        name: split name.
        images: images whose size could be read.
        boxes: label boxes in them.
        per_class: class name -> boxes.
        hands_per_image: "0", "1", "2", "3+" -> images with that many boxes.
        sizes: "small", "medium", "large" -> boxes (COCO pixel-area buckets).
    """

    name: str
    images: int
    boxes: int
    per_class: dict[str, int]
    hands_per_image: dict[str, int]
    sizes: dict[str, int]


@dataclass(frozen=True, eq=False)
class DatasetStats:
    """Statistics of a YOLO dataset; per-box arrays cover each image once (first split listing it).

    Attributes:
        data_yaml: the dataset's `data.yaml`.
        names: class id -> name.
        splits: split name -> counts (an image listed by two splits, e.g. `val` and `test` pointing
            at one folder, counts in both).
        images: distinct readable images.
        box_class: (M,) int64 class ids.
        box_wh: (M, 2) float64 box width, height in pixels.
        box_centre: (M, 2) float64 box centre x, y normalised to the image.
        box_split: (M,) split name of each box's image.
        samples: up to `GRID_IMAGES` (image, boxes in pixels xyxy) spread evenly over the images.
        problems: the first `MAX_PROBLEMS` unreadable images or label files, as "file: reason".
        bad_files: how many images or label files could not be read (left out of the counts).
    """

    data_yaml: Path
    names: dict[int, str]
    splits: dict[str, SplitStats]
    images: int
    box_class: np.ndarray
    box_wh: np.ndarray
    box_centre: np.ndarray
    box_split: np.ndarray
    samples: tuple[tuple[Path, Detections], ...] = ()
    problems: tuple[str, ...] = ()
    bad_files: int = 0

    @property
    def boxes(self) -> int:
        return len(self.box_class)

    def size_counts(self) -> dict[str, int]:
        """Boxes per COCO size bucket, over distinct images."""
        return size_buckets(self.box_wh)

    def aspect_quantiles(self) -> dict[float, float]:
        """Quantile -> box width / height (empty without boxes)."""
        if not self.boxes:
            return {}
        ratio = self.box_wh[:, 0] / np.maximum(self.box_wh[:, 1], 1e-9)
        return {q: float(v) for q, v in zip(ASPECT_QUANTILES, np.quantile(ratio, ASPECT_QUANTILES), strict=True)}

    def to_json(self) -> dict:
        return {
            "data_yaml": str(self.data_yaml), "names": {int(k): v for k, v in self.names.items()},
            "images": self.images, "boxes": self.boxes,
            "splits": {k: vars(v) for k, v in self.splits.items()},
            "sizes": self.size_counts(), "size_thresholds_px": {"small_below": SMALL_AREA_PX, "large_from": LARGE_AREA_PX},
            "aspect_ratio_quantiles": {f"{q:g}": round(v, 4) for q, v in self.aspect_quantiles().items()},
            "bad_files": self.bad_files, "problems": list(self.problems),
        }

    def summary_line(self) -> str:
        splits = " / ".join(f"{k} {v.images}" for k, v in self.splits.items())
        bad = f"; {self.bad_files} unreadable files" if self.bad_files else ""
        return (f"stats: {self.images} images, {self.boxes} boxes, {len(self.names)} "
                f"class{'es' if len(self.names) != 1 else ''} ({splits}){bad}")


def size_buckets(box_wh: np.ndarray) -> dict[str, int]:
    """(M, 2) pixel widths, heights -> boxes per COCO area bucket ("small", "medium", "large")."""
    wh = np.asarray(box_wh, dtype=np.float64).reshape(-1, 2)
    area = wh[:, 0] * wh[:, 1]
    small = int((area < SMALL_AREA_PX).sum())
    large = int((area >= LARGE_AREA_PX).sum())
    return {"small": small, "medium": len(area) - small - large, "large": large}


def hands_histogram(counts: list[int] | np.ndarray) -> dict[str, int]:
    """Boxes per image -> images with 0, 1, 2 and 3+ boxes."""
    c = np.asarray(counts, dtype=np.int64)
    return {"0": int((c == 0).sum()), "1": int((c == 1).sum()), "2": int((c == 2).sum()), "3+": int((c >= 3).sum())}


def dataset_stats(data_yaml: str | os.PathLike, grid: int = GRID_IMAGES, progress: bool = False) -> DatasetStats:
    """Read a YOLO dataset's labels and image headers and count what is there.

    Args:
        data_yaml: a `data.yaml`, or the folder holding it.
        grid: how many sample images to keep for the grid plot.
        progress: show a tqdm progress bar.

    Raises:
        DataError: if the `data.yaml` is missing or malformed. Unreadable images and label files
            are counted in `bad_files`, not raised.
    """
    from tqdm import tqdm

    from handdet.data.validate import check_image

    info = read_data_yaml(data_yaml)
    names = dict(info.names)
    order = [s for s in SPLIT_ORDER if s in info.splits] + [s for s in info.splits if s not in SPLIT_ORDER]
    seen: dict[str, tuple[tuple[int, int], np.ndarray, np.ndarray] | None] = {}
    problems: list[str] = []
    bad = 0
    splits: dict[str, SplitStats] = {}
    box_class, box_wh, box_centre, box_split = [], [], [], []
    first: list[tuple[Path, tuple[int, int], np.ndarray, np.ndarray]] = []
    total = sum(len(info.splits[s]) for s in order)
    bar = tqdm(total=total, desc="reading", unit="img", disable=not progress, leave=False)
    for split in order:
        per_class: dict[str, int] = {}
        counts, wh_split = [], []
        for image in info.splits[split]:
            bar.update()
            key = os.path.normpath(image)
            fresh = key not in seen
            if fresh:
                size, _ = check_image(image, decode=False)
                entry = None
                if size is None:
                    bad += 1
                    _note(problems, f"{image}: image cannot be read")
                else:
                    label = label_path_for(image)
                    try:
                        cls, xywhn = parse_label_text(label.read_text(), label) if label.is_file() else (
                            np.zeros(0, np.int64), np.zeros((0, 4)))
                    except (DataError, OSError, UnicodeDecodeError) as e:
                        bad += 1
                        _note(problems, str(e) if isinstance(e, DataError) else f"{label}: cannot read")
                        cls, xywhn = np.zeros(0, np.int64), np.zeros((0, 4))
                    entry = (size, cls, xywhn)
                seen[key] = entry
            entry = seen[key]
            if entry is None:
                continue
            size, cls, xywhn = entry
            wh = xywhn[:, 2:] * np.asarray(size, np.float64)
            counts.append(len(cls))
            wh_split.append(wh)
            for c in cls.tolist():
                name = names.get(c)
                if name is None:
                    name = f"#{c}"
                    _note(problems, f"{label_path_for(image)}: class id {c} is not in the names of {info.yaml_path}")
                per_class[name] = per_class.get(name, 0) + 1
            if fresh:
                box_class.append(cls)
                box_wh.append(wh)
                box_centre.append(xywhn[:, :2])
                box_split += [split] * len(cls)
                first.append((Path(image), size, cls, xywhn))
        ordered = {n: per_class.get(n, 0) for n in names.values()}
        ordered.update({k: v for k, v in per_class.items() if k not in ordered})
        all_wh = np.concatenate(wh_split) if wh_split else np.zeros((0, 2))
        splits[split] = SplitStats(split, len(counts), int(sum(counts)), ordered, hands_histogram(counts),
                                   size_buckets(all_wh))
    bar.close()
    samples = []
    if first and grid > 0:
        for i in sorted(set(np.linspace(0, len(first) - 1, min(grid, len(first))).round().astype(int).tolist())):
            image, size, cls, xywhn = first[i]
            samples.append((image, Detections(xywhn_to_xyxy(xywhn, size), class_id=cls)))
    return DatasetStats(
        data_yaml=info.yaml_path, names=names, splits=splits, images=len(first),
        box_class=np.concatenate(box_class) if box_class else np.zeros(0, np.int64),
        box_wh=np.concatenate(box_wh) if box_wh else np.zeros((0, 2)),
        box_centre=np.concatenate(box_centre) if box_centre else np.zeros((0, 2)),
        box_split=np.asarray(box_split, dtype=object), samples=tuple(samples),
        problems=tuple(problems[:MAX_PROBLEMS]), bad_files=bad,
    )


def _note(problems: list[str], text: str) -> None:
    if len(problems) < MAX_PROBLEMS and text not in problems:
        problems.append(text)


def format_stats(stats: DatasetStats) -> str:
    """The printed report: a table per split (images, boxes, per class, hands per image, sizes),
    then the size buckets and aspect-ratio quantiles over all distinct images."""
    classes = list(dict.fromkeys([*stats.names.values(), *(k for s in stats.splits.values() for k in s.per_class)]))
    head = ["split", "images", "boxes", *classes, "0 hands", "1 hand", "2 hands", "3+ hands", *SIZE_BINS]
    rows = [head]
    for s in stats.splits.values():
        rows.append([s.name, s.images, s.boxes, *(s.per_class.get(c, 0) for c in classes),
                     *(s.hands_per_image[b] for b in HANDS_BINS), *(s.sizes[b] for b in SIZE_BINS)])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    n = max(stats.boxes, 1)
    sizes = stats.size_counts()
    lines.append("box size (COCO pixel area: small < 32², large ≥ 96²): "
                 + ", ".join(f"{b} {sizes[b]} ({100 * sizes[b] / n:.1f}%)" for b in SIZE_BINS))
    q = stats.aspect_quantiles()
    if q:
        label = {0.0: "min", 0.5: "median", 1.0: "max"}
        lines.append("box aspect ratio (width / height): "
                     + ", ".join(f"{label.get(k, f'{100 * k:g}%')} {v:.2f}" for k, v in q.items()))
    if stats.bad_files:
        lines.append(f"{stats.bad_files} unreadable files left out, e.g.:")
        lines += [f"  {p}" for p in stats.problems[:5]]
    return "\n".join(lines)


def plot_stats(stats: DatasetStats, out: str | os.PathLike) -> list[Path]:
    """Write `box_sizes.png`, `box_centres.png`, `aspect_ratios.png`, `samples.jpg` (images with
    their boxes) and `stats.json` into the folder `out`, atomically.

    `out` is replaced as a whole, so it must be new or a folder this function wrote before.

    Raises:
        DataError: if `out` exists and is not a stats folder (it would be deleted).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / STATS_JSON).is_file())):
        raise DataError(f"{out}: exists and is not a stats folder (it would be replaced); choose a new --out")
    files = ["box_sizes.png", "box_centres.png", "aspect_ratios.png", "samples.jpg", STATS_JSON]
    with atomic_dir(out) as tmp:
        _plot_sizes(stats, tmp / files[0])
        _plot_centres(stats, tmp / files[1])
        _plot_aspect(stats, tmp / files[2])
        _sample_grid(stats, tmp / files[3])
        (tmp / STATS_JSON).write_text(json.dumps(stats.to_json(), indent=1, ensure_ascii=False) + "\n")
    return [out / f for f in files]


def _figure(size: tuple[float, float] = (6.0, 4.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _plot_sizes(stats: DatasetStats, path: Path) -> None:
    fig, ax = _figure()
    side = np.sqrt(stats.box_wh.prod(axis=1)) if stats.boxes else np.zeros(0)
    lo = min(float(side.min()) if len(side) else 16.0, SMALL_AREA_PX**0.5 / 2)
    top = max(float(side.max()) if len(side) else 1.0, LARGE_AREA_PX**0.5 * 2)
    bins = np.geomspace(max(lo / 1.1, 0.5), top * 1.1, 40)
    for split in dict.fromkeys(stats.box_split.tolist()):
        ax.hist(side[stats.box_split == split], bins=bins, histtype="step", linewidth=1.5, label=f"{split}")
    for edge, name in ((SMALL_AREA_PX**0.5, "32"), (LARGE_AREA_PX**0.5, "96")):
        ax.axvline(edge, color="gray", linestyle="--", linewidth=1)
        ax.text(edge, 1, f" {name}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="gray")
    ax.set(xscale="log", xlabel="box size √(w·h) in pixels (COCO small < 32 ≤ medium < 96 ≤ large)",
           ylabel="boxes", title=f"Box sizes ({stats.boxes} boxes)")
    if stats.boxes:
        ax.legend(fontsize=8)
    _save(fig, path)


def _plot_centres(stats: DatasetStats, path: Path) -> None:
    fig, ax = _figure((5.0, 4.5))
    heat, _, _ = np.histogram2d(stats.box_centre[:, 1], stats.box_centre[:, 0], bins=32, range=[[0, 1], [0, 1]])
    im = ax.imshow(heat, extent=(0, 1, 1, 0), cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="boxes")
    ax.set(xlabel="centre x / image width", ylabel="centre y / image height", title="Box centres")
    _save(fig, path)


def _plot_aspect(stats: DatasetStats, path: Path) -> None:
    fig, ax = _figure()
    ratio = stats.box_wh[:, 0] / np.maximum(stats.box_wh[:, 1], 1e-9) if stats.boxes else np.ones(0)
    ax.hist(np.log2(np.clip(ratio, 1 / 16, 16)), bins=np.linspace(-4, 4, 49), color="tab:blue")
    ticks = [-3, -2, -1, 0, 1, 2, 3]
    ax.set_xticks(ticks, [f"{2.0**t:g}" for t in ticks])
    ax.set(xlabel="box width / height (log scale)", ylabel="boxes", title="Box aspect ratios")
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)


_COLOURS = [(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72)]


def _sample_grid(stats: DatasetStats, path: Path, tile: int = GRID_TILE_PX) -> None:
    """A grid of the sample images (letterboxed tiles) with their boxes and class names drawn."""
    import cv2

    n = max(len(stats.samples), 1)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.full((rows * tile, cols * tile, 3), 40, np.uint8)
    for k, (image, det) in enumerate(stats.samples):
        y0, x0 = (k // cols) * tile, (k % cols) * tile
        img = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if img is None:
            cv2.putText(canvas, "unreadable", (x0 + 8, y0 + tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
            continue
        h, w = img.shape[:2]
        s = min(tile / w, tile / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        ox, oy = x0 + (tile - nw) // 2, y0 + (tile - nh) // 2
        canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        for box, c in zip(det.xyxy, det.class_id.tolist(), strict=True):
            x1, y1, x2, y2 = (box * s + np.array([ox, oy, ox, oy])).round().astype(int).tolist()
            colour = _COLOURS[c % len(_COLOURS)]
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
            cv2.putText(canvas, stats.names.get(c, f"#{c}"), (x1 + 2, max(y1 - 3, y0 + 10)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
        cv2.putText(canvas, image.stem[:32], (x0 + 3, y0 + tile - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), canvas):
        raise DataError(f"{path}: cannot write the sample grid")
