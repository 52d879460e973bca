"""Run a model over a dataset split (or read a detector's predictions JSON) and evaluate it.

    handdet eval runs/train/weights/best.pt data/hands/data.yaml --split val --out build/eval/best

The library calls behind the command (the training wrapper calls `evaluate_weights`):
`evaluate_weights`, `evaluate_many`, `evaluate_predictions`. Each returns a `SplitResult` (an `EvalResult`
that, for a multi-source dataset with a manifest.csv, also holds each source scored alone, and for weights,
whose input size is known, AP and recall by hand width at that size) and, given `out`, writes metrics.json,
report.md, the plots and the error galleries into a temporary folder that is renamed to `out` only when
everything succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from handdet.core.atomic import atomic_dir
from handdet.core.detections import Detections, predictor_cutoff
from handdet.core.errors import DataError, WeightsError
from handdet.data.manifest import read_manifest, sources_of
from handdet.eval.by_source import SourceScores, score_sources
from handdet.eval.evaluator import EvalResult, Evaluator
from handdet.eval.gallery import worst_false_alarms, worst_images, write_error_gallery
from handdet.eval.hand_width import HandWidthScores, score_hand_widths
from handdet.eval.plots import PLOT_FILES, save_plots
from handdet.eval.report import comparison_table, markdown_report, write_metrics_json

EVAL_CONF = 0.001  # (float) prediction confidence for AP: keep nearly every box, as Ultralytics' validator does
EVAL_IOU = 0.7  # (float) NMS IoU of the predictions, Ultralytics' default
EVAL_MAX_DET = 300  # (int) boxes kept per image by the predictor, as Ultralytics' validator
GALLERY_TOP_K = 16  # (int) images in each error gallery


@dataclass(frozen=True)
class SplitTruth:
    """Ground truth of one split: per image its path, file stem, (w, h) and boxes in pixels."""

    yaml_path: Path
    split: str
    names: dict[int, str]
    images: list[Path]
    stems: list[str]
    sizes: list[tuple[int, int]]
    gts: list[Detections]


@dataclass(frozen=True, eq=False)
class SplitResult(EvalResult):
    """An `EvalResult` of a split plus, when the dataset has a manifest.csv, each source scored alone, and when
    the network input size is known, AP and recall by hand width at that size (`hand_width`)."""

    by_source: SourceScores | None = None
    by_width: HandWidthScores | None = None

    @classmethod
    def of(cls, result: EvalResult, by_source: SourceScores | None,
           by_width: HandWidthScores | None = None) -> SplitResult:
        return cls(**{f.name: getattr(result, f.name) for f in fields(EvalResult)}, by_source=by_source,
                   by_width=by_width)


def load_split(data_yaml: str | os.PathLike, split: str = "val") -> SplitTruth:
    """Read the ground truth of a split; an image without a label file is a negative image.

    Raises:
        DataError: missing or malformed data.yaml or labels, an unreadable image, an empty split or two
            images with the same file stem (predictions are keyed by stem).
    """
    from handdet.data.yolo_dataset import image_size, label_path_for, read_data_yaml, read_labels

    info = read_data_yaml(data_yaml)
    images = info.images(split)
    if not images:
        raise DataError(f"{info.yaml_path}: split '{split}' has no images")
    stems, sizes, gts, seen = [], [], [], {}
    for p in images:
        if p.stem in seen:
            raise DataError(f"{info.yaml_path}: split '{split}' has two images with stem '{p.stem}' "
                            f"({seen[p.stem]} and {p}); predictions are matched by file stem")
        seen[p.stem] = p
        wh = image_size(p)
        stems.append(p.stem)
        sizes.append(wh)
        gts.append(read_labels(label_path_for(p), wh))
    return SplitTruth(info.yaml_path, split, dict(info.names), list(images), stems, sizes, gts)


def read_predictions_json(path: str | os.PathLike, truth: SplitTruth) -> list[Detections]:
    """Read `handdet predict --save-json` output, aligned with the split's images.

    Format: a JSON list of `{"image": file stem, "bbox": [x1, y1, x2, y2] pixels, "score": s, "class_id": c}`;
    images of the split with no entry have no detections.

    Raises:
        DataError: naming the file (and entry) for a missing file, invalid JSON, a malformed entry, an
            image stem not in the split or a class id not in data.yaml.
    """
    from handdet.infer.predictions_json import read_predictions

    path = Path(path)
    by_stem = read_predictions(path)
    index = set(truth.stems)
    for stem, dets in by_stem.items():
        if stem not in index:
            raise DataError(f"{path}: image '{stem}' is not in split '{truth.split}' of "
                            f"{truth.yaml_path} ({len(index)} images)")
        unknown = sorted(set(dets.class_id.tolist()) - set(truth.names))
        if unknown:
            raise DataError(f"{path}: image '{stem}': class_id {unknown[0]} is not a class of {truth.yaml_path}")
    return [by_stem.get(stem, Detections.empty()) for stem in truth.stems]


def predict_split(predictor, truth: SplitTruth, progress: bool = True) -> list[Detections]:
    """Run `predictor(image_bgr) -> Detections` over every image of the split (decoded a few ahead on a
    second thread, so decoding overlaps the model)."""
    import cv2
    from tqdm import tqdm

    from handdet.infer.sources import read_ahead

    def images():
        for p in truth.images:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(f"{p}: cannot read image")
            yield img

    bar = tqdm(read_ahead(images), total=len(truth.images), desc=f"predict {truth.split}", unit="img",
               disable=not progress, leave=False)
    return [predictor(img) for img in bar]


def evaluate_split(
    preds: Sequence[Detections], truth: SplitTruth, conf_threshold: float | None = None
) -> tuple[Evaluator, EvalResult]:
    """Evaluate predictions aligned with `truth.images`; returns the evaluator (for the gallery) and result."""
    ev = Evaluator(truth.names, conf_threshold=conf_threshold)
    for pred, gt, stem in zip(preds, truth.gts, truth.stems, strict=True):
        ev.update(pred, gt, image_id=stem)
    return ev, ev.compute()


def score_split_sources(
    preds: Sequence[Detections], truth: SplitTruth, default_conf: float, imgsz: int | None = None,
    conf_low: float | None = None,
) -> SourceScores | None:
    """Each source of the split scored alone (`by_source.score_sources`), the rows in the order of the sources'
    first lines in manifest.csv, with their tables by hand width at input size `imgsz` when it is given; None
    when the dataset has no manifest. `conf_low`: the model's two-level cut-off, if any.

    Raises:
        DataError: the manifest is malformed or does not list an image of the split.
    """
    sources = sources_of(truth.yaml_path, truth.split, truth.stems)
    if sources is None:
        return None
    order = list(dict.fromkeys(row.source for row in read_manifest(truth.yaml_path) or []))
    return score_sources(preds, truth, sources, default_conf, order, imgsz, conf_low)


def score_split_widths(
    preds: Sequence[Detections], truth: SplitTruth, default_conf: float, imgsz: int, by_source: SourceScores | None,
    conf_low: float | None = None,
) -> HandWidthScores:
    """AP and recall at `default_conf` (and a two-level `conf_low`) by hand width at input size `imgsz` over the
    whole split (the pooled per-source row's table when `by_source` has it)."""
    if by_source is not None and by_source.total.by_width is not None:
        return by_source.total.by_width
    return score_hand_widths(preds, truth.gts, truth.sizes, imgsz, default_conf, conf_low=conf_low)


def write_outputs(
    out_dir: str | os.PathLike, ev: Evaluator, result: EvalResult, truth: SplitTruth, meta: dict, title: str,
    by_source: SourceScores | None = None, by_width: HandWidthScores | None = None,
) -> dict[str, Path]:
    """Write metrics.json, report.md, the plots and gallery.jpg into `out_dir` (not atomic by itself); with
    `by_source`, the per-source table and, when the split has hand-free photos with a false detection at the
    default confidence, gallery_handfree.jpg; with `by_width`, the tables by hand width."""
    import cv2

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"metrics.json": write_metrics_json(result, out_dir / "metrics.json", meta, by_source, by_width)}
    files.update(save_plots(result, out_dir))
    path_of = dict(zip(truth.stems, truth.images, strict=True))

    def load(e):
        return cv2.imread(str(path_of[e.image_id]), cv2.IMREAD_COLOR)

    worst = worst_images(result.image_errors, GALLERY_TOP_K)
    gallery = write_error_gallery(ev.errors(result.conf_threshold, worst), load, out_dir / "gallery.jpg", truth.names)
    if gallery:
        files["gallery.jpg"] = gallery
    handfree = None
    if by_source is not None and by_source.handfree_images:
        alarms = worst_false_alarms(ev.errors(predictor_cutoff(by_source.default_conf), by_source.handfree_images),
                                    GALLERY_TOP_K)
        handfree = write_error_gallery(alarms, load, out_dir / "gallery_handfree.jpg", truth.names)
        if handfree:
            files["gallery_handfree.jpg"] = handfree
    report = markdown_report(result, title, meta, {cap: name for name, cap in PLOT_FILES.items()},
                             "gallery.jpg" if gallery else None, by_source,
                             "gallery_handfree.jpg" if handfree else None, by_width)
    (out_dir / "report.md").write_text(report)
    files["report.md"] = out_dir / "report.md"
    return files


def weights_predictor(weights: Path, truth: SplitTruth, imgsz: int | None, device: str, tta: bool | None = None,
                      persons: str | None = None, tile: float | None = None, tile_conf: float = EVAL_CONF):
    """A predictor of `weights` at the evaluation settings (conf 0.001; test-time augmentation and the person model
    that anchors faint hands as `handdet predict` runs the model unless `tta` and `persons` say, people looked
    for in every image so that any cut-off can be scored), checked against the split's classes.

    With `tile` (an overlap), each photo is tiled as `handdet predict --tile` tiles it, the tiles' boxes made at
    `tile_conf`, the lowest cut-off scored: the merge joins a hand's pieces to the whole boxes around them, and
    boxes far below any cut-off would change which whole box a piece joins."""
    from handdet.infer.predictor import PredictorSettings, load_predictor
    from handdet.infer.tile import tiled

    predictor = load_predictor(weights, settings=PredictorSettings(
        imgsz=imgsz, conf=EVAL_CONF if tile is None else tile_conf, iou=EVAL_IOU, max_det=EVAL_MAX_DET,
        device=device, tta=tta, persons=persons, mark_persons=True))
    if tile is not None:
        predictor = tiled(predictor, tile)
    extra = sorted(set(predictor.names) - set(truth.names))
    if extra:
        raise WeightsError(f"{weights}: the model has {len(predictor.names)} classes but {truth.yaml_path} lists "
                           f"{len(truth.names)} (class {extra[0]} '{predictor.names[extra[0]]}' unknown to it)")
    return predictor


def person_weights(predictor) -> str | None:
    """The person model file a predictor anchors faint hands with (`infer.person_anchor`), or None."""
    finder = getattr(predictor, "persons", None)
    return None if finder is None else str(finder.weights)


def _weights_result(weights: Path, truth: SplitTruth, imgsz: int | None, conf_threshold: float | None,
                    default_conf: float | None, device: str, progress: bool,
                    tta: bool | None = None, conf_low: float | None = None,
                    persons: str | None = None, tile: float | None = None) -> tuple[Evaluator, SplitResult, dict]:
    from handdet.core.detections import lowest_kept
    from handdet.infer.predictor import model_cutoffs

    conf, low = model_cutoffs(weights, default_conf, conf_low)  # as `handdet predict` keeps boxes
    lowest = min(lowest_kept(conf, low), 1.0 if conf_threshold is None else conf_threshold)  # tiles' boxes made there
    predictor = weights_predictor(weights, truth, imgsz, device, tta, persons, tile, lowest)
    preds = predict_split(predictor, truth, progress)
    ev, result = evaluate_split(preds, truth, conf_threshold)
    size = getattr(predictor, "imgsz", imgsz)  # the letterbox size the predictor scaled every image to
    by_source = score_split_sources(preds, truth, conf, size, low)
    by_width = None if size is None else score_split_widths(preds, truth, conf, size, by_source, low)
    meta = {"weights": str(weights), "data": str(truth.yaml_path), "split": truth.split,
            "imgsz": size, "predict_conf": EVAL_CONF, "predict_iou": EVAL_IOU,
            "predict_max_det": EVAL_MAX_DET, "device": device, "tta": getattr(predictor, "tta", "none"),
            "persons": person_weights(predictor), "tile_overlap": tile}
    if tile is not None:
        meta["predict_conf"] = lowest
    return ev, SplitResult.of(result, by_source, by_width), meta


def evaluate_weights(
    weights: str | os.PathLike,
    data_yaml: str | os.PathLike,
    split: str = "val",
    out: str | os.PathLike | None = None,
    imgsz: int | None = None,
    conf_threshold: float | None = None,
    device: str = "cpu",
    progress: bool = True,
    default_conf: float | None = None,
    tta: bool | None = None,
    conf_low: float | None = None,
    persons: str | None = None,
    tile: float | None = None,
) -> SplitResult:
    """Predict a split with `weights` (through `load_predictor`, conf 0.001, max 300 boxes) and evaluate it.

    Args:
        weights: `.pt` or `.onnx` detection weights whose classes are those of `data_yaml`.
        data_yaml: YOLO data.yaml (or its folder).
        split: train, val or test.
        out: folder to write metrics.json, report.md, plots and gallery.jpg into (atomically); None: none.
        imgsz: network input size; None: the model's.
        conf_threshold: cut-off for P/R/F1 and the confusion matrix; None: the one that maximises F1.
        device: "cpu", "cuda", "0", ...
        progress: show a progress bar.
        default_conf: cut-off of the per-source P/R/F1 and false detections (multi-source datasets) and of
            the recall by hand width; None: the model's own (`infer.predictor.default_conf`) with its two-level
            cut-off, if it records one (`model_cutoffs`), as `handdet predict` keeps boxes.
        tta: flip test-time augmentation on or off; None: as `handdet predict` runs the model.
        conf_low: a two-level cut-off below `default_conf` (`core.detections.keep_confident`); None: the model's
            record when `default_conf` is None too, else none.
        persons: the person model whose people vouch for faint hands (`infer.person_anchor`): a path, "none", or
            None for the model's record.
        tile: tile each photo at this overlap as `handdet predict --tile` does (`infer.tile.tiled`), its boxes made
            at the lowest cut-off scored, so that AP counts those only; None: not tiled.

    Raises:
        HanddetError: unusable weights or data, with one line naming the file.
    """
    truth = load_split(data_yaml, split)
    ev, result, meta = _weights_result(Path(weights), truth, imgsz, conf_threshold, default_conf, device, progress,
                                       tta, conf_low, persons, tile)
    if out is not None:
        with atomic_dir(out) as tmp:
            write_outputs(tmp, ev, result, truth, meta, f"Evaluation of {Path(weights).name} on {split}",
                          result.by_source, result.by_width)
    return result


def evaluate_many(
    weights: Sequence[str | os.PathLike],
    data_yaml: str | os.PathLike,
    split: str = "val",
    out: str | os.PathLike | None = None,
    imgsz: int | None = None,
    conf_threshold: float | None = None,
    device: str = "cpu",
    progress: bool = True,
    default_conf: float | None = None,
    tta: bool | None = None,
    conf_low: float | None = None,
    persons: str | None = None,
    tile: float | None = None,
) -> dict[str, SplitResult]:
    """Evaluate several weights on the same split; with `out`, one sub-folder each plus comparison.md.

    `default_conf` None scores each model's per-source columns at its own default confidence.

    Returns:
        label -> result, labels being the weights' file names made unique with their parent folders.
    """
    truth = load_split(data_yaml, split)
    labels = unique_labels([Path(w) for w in weights])
    results: dict[str, SplitResult] = {}
    runs = {}
    for label, w in zip(labels, weights, strict=True):
        runs[label] = _weights_result(Path(w), truth, imgsz, conf_threshold, default_conf, device, progress, tta,
                                      conf_low, persons, tile)
        results[label] = runs[label][1]
    if out is not None:
        with atomic_dir(out) as tmp:
            for label, (ev, result, meta) in runs.items():
                write_outputs(tmp / _folder_name(label), ev, result, truth, meta, f"Evaluation of {label} on {split}",
                              result.by_source, result.by_width)
            (tmp / "comparison.md").write_text(f"# {split} of {truth.yaml_path}\n\n" + comparison_table(results))
    return results


def evaluate_predictions(
    preds_json: str | os.PathLike,
    data_yaml: str | os.PathLike,
    split: str = "val",
    out: str | os.PathLike | None = None,
    conf_threshold: float | None = None,
    default_conf: float | None = None,
    conf_low: float | None = None,
) -> SplitResult:
    """Evaluate a predictions JSON (any detector's, in `handdet predict --save-json` format) on a split.

    `default_conf` is the cut-off of the per-source P/R/F1 and false detections (multi-source datasets);
    None: `infer.predictor.DEFAULT_CONF`, the JSON saying nothing of the model that made it. Nor does it say
    the input size, so there is no table by hand width.

    Raises:
        DataError: missing or malformed file, unknown image stem or class, naming the file and entry.
    """
    from handdet.infer.predictor import DEFAULT_CONF

    truth = load_split(data_yaml, split)
    preds = read_predictions_json(preds_json, truth)
    ev, result = evaluate_split(preds, truth, conf_threshold)
    by_source = score_split_sources(preds, truth, DEFAULT_CONF if default_conf is None else default_conf,
                                    conf_low=conf_low)
    if out is not None:
        meta = {"predictions": str(preds_json), "data": str(truth.yaml_path), "split": split}
        with atomic_dir(out) as tmp:
            write_outputs(tmp, ev, result, truth, meta, f"Evaluation of {Path(preds_json).name} on {split}",
                          by_source)
    return SplitResult.of(result, by_source)


def unique_labels(paths: Sequence[Path]) -> list[str]:
    """Short distinct names for files: the name, with as many parent folders as it takes to tell them apart."""
    depth = 1
    while True:
        labels = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(labels)) == len(labels):
            return labels
        if depth >= max(len(p.parts) for p in paths):  # the same file twice: number the repeats
            return [lb if labels.index(lb) == i else f"{lb}#{i}" for i, lb in enumerate(labels)]
        depth += 1


def _folder_name(label: str) -> str:
    return label.replace("/", "__")
