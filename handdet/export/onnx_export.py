"""`handdet export`: ONNX through Ultralytics, then our checks, then an atomic move into place.

    handdet export weights/handdet-n.pt --imgsz 320 --data build/datasets/subhi/data.yaml --int8

Steps, all in a temporary folder beside the output: copy the weights there, `YOLO(w).export(format=
"onnx")`, add handdet metadata, `onnx.checker`, load in ONNX Runtime, parity against the PyTorch
model on real images (same boxes within 1 px, scores within 1e-3, AP50 within 0.005), optionally
INT8 quantisation with its own accuracy and speed report. Only when every check passed are the
model, the INT8 model and `<name>.parity.json` moved into place; a failed check leaves the
previous files untouched and names the check.

For a multi-source dataset (a manifest.csv beside the data.yaml) INT8 is calibrated on the same number of
train images from every source, hand-free folders included (`calibration`), and judged on every source of
the val split alone (`int8_check`): one source that loses is enough to keep FP32 the default.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from handdet.core.errors import ConfigError, DataError, HanddetError, WeightsError, one_line
from handdet.export.calibration import DEFAULT_CALIB_PER_SOURCE, DEFAULT_CALIB_SEED, CalibrationSet
from handdet.export.parity import EVAL_CONF, ImageSet, ParityReport, default_images, load_images

if TYPE_CHECKING:
    from handdet.export.int8_check import SourceDelta

DEFAULT_IMGSZ = 320  # (int) export size: real time on a CPU, and what `handdet webcam` runs at
DEFAULT_PARITY_IMAGES = 32  # (int) real images for the parity check: enough to catch a broken graph, fast
DEFAULT_CALIB_IMAGES = 64  # (int) INT8 calibration images without a manifest; MinMax ranges settle by a few dozen
INT8_MAX_AP_DROP = 0.02  # (AP50) without a manifest: a bigger pooled drop and FP32 stays the recommended model


class ExportCheckError(HanddetError):
    """An exported graph failed one of the checks; nothing was written."""


@dataclass(frozen=True)
class Int8Report:
    """INT8 against FP32 on the same images: speed and accuracy.

    With a manifest, `ap50_*` are pooled over the whole val split, `by_source` holds every source's figures
    and `decided_by` is "per-source"; without one, `ap50_*` are over the parity images ("pooled AP50") or
    absent ("agreement"). `note` is the reason for `recommended`.
    """

    path: str
    n_calib: int
    calib_from: str
    excluded_nodes: int
    fp32_p50_ms: float
    int8_p50_ms: float
    speedup: float
    agreement_ap50: float | None  # INT8 scored against FP32's boxes (>= conf) as ground truth
    ap50_fp32: float | None  # against the dataset's ground truth, when there is some
    ap50_int8: float | None
    ap50_drop: float | None
    recommended: str  # "int8" or "fp32"
    note: str
    calib_per_source: dict[str, int] | None = None  # source -> calibration images, when stratified
    decided_by: str = "pooled AP50"  # "per-source", "pooled AP50" or "agreement"
    judged_on: str = ""  # the images the recommendation was judged on
    by_source: list[SourceDelta] | None = None
    rule: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """For parity.json: every field, per-source rows with their derived figures."""
        d = asdict(self)
        d["by_source"] = [r.to_dict() for r in self.by_source] if self.by_source is not None else None
        return d


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    parity: ParityReport
    int8: Int8Report | None = None
    report_path: Path | None = None
    seconds: float = 0.0
    checks: list[str] = field(default_factory=list)
    conf_low: float | None = None  # the two-level cut-off recorded (`infer.two_level`); None: one cut-off

    def line(self) -> str:
        s = f"handdet export: wrote {self.onnx_path} ({', '.join(self.checks)} passed) in {self.seconds:.1f}s"
        if self.int8 is not None:
            i = self.int8
            ap = f", AP50 drop {i.ap50_drop:+.4f}" if i.ap50_drop is not None else (
                f", agreement AP50 {i.agreement_ap50:.3f}" if i.agreement_ap50 is not None else "")
            if i.by_source is not None:
                ap = _per_source_summary(i.by_source)
            s += f"; INT8 {i.path}: {i.speedup:.2f}x faster{ap}, recommended: {i.recommended}"
        return s


def _per_source_summary(rows: list[SourceDelta]) -> str:
    """`, worst hand source NAME AP50 -0.0040, hand-free FP/100 1.84 -> 1.84` for the summary line."""
    from handdet.eval.by_source import RowKind

    hands = [r for r in rows if r.kind == RowKind.HANDS and r.ap50_drop is not None]
    s = ""
    if hands:
        worst = max(hands, key=lambda r: r.ap50_drop)
        s += f", worst hand source {worst.name} AP50 {-worst.ap50_drop:+.4f}"
    total = next((r for r in rows if r.kind == RowKind.TOTAL), None)
    if total is not None and total.n_handfree:
        s += f", hand-free FP/100 {total.handfree_fp32:.2f} -> {total.handfree_int8:.2f}"
    return s


def _one_line(e: BaseException, limit: int = 200) -> str:
    return one_line(f"{type(e).__name__}: {e}", limit)


def _load_yolo(pt: Path, shown: Path):
    """Load `pt` (a copy) with Ultralytics; errors name `shown`, the user's file, in one line."""
    from handdet.core.runtime import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(pt), task="detect")
    except Exception as e:
        reason = type(e).__name__ if str(pt) in str(e) else _one_line(e, 120)  # their text names our temp copy
        raise WeightsError(f"{shown}: not loadable as YOLO weights, the file may be truncated or not a "
                           f"checkpoint ({reason})") from None
    if getattr(model, "task", "detect") != "detect":
        raise WeightsError(f"{shown}: a '{model.task}' model, not a detection model")
    return model


def _train_data(model) -> Path | None:
    """The data.yaml the model was trained on, if that file is here."""
    args = getattr(model, "ckpt", None) or {}
    data = (args.get("train_args") or {}).get("data") if isinstance(args, dict) else None
    if data and Path(data).is_file():
        return Path(data)
    return None


def _images(data: str | os.PathLike | None, fallback: Path | None, n: int, splits) -> ImageSet:
    if data:
        return load_images(data, n, splits)
    if fallback is not None:
        try:
            return load_images(fallback, n, splits)
        except DataError:
            pass
    return default_images(n)


def _p50_ms_side_by_side(predictors: list, blobs: list, repeat: int = 5) -> list[float]:
    """Median `session.run` time of each predictor, interleaved blob by blob so that load from other
    processes slows them alike."""
    import numpy as np

    for p in predictors:
        for b in blobs[:2]:
            p.infer(b)
    ts: list[list[float]] = [[] for _ in predictors]
    for _ in range(repeat):
        for b in blobs:
            for k, p in enumerate(predictors):
                t = time.perf_counter()
                p.infer(b)
                ts[k].append(time.perf_counter() - t)
    return [float(np.median(t) * 1e3) for t in ts]


def export_onnx(
    weights: str | os.PathLike,
    out: str | os.PathLike | None = None,
    imgsz: int = DEFAULT_IMGSZ,
    opset: int | None = None,
    dynamic: bool = True,
    simplify: bool = True,
    data: str | os.PathLike | None = None,
    parity_images: int = DEFAULT_PARITY_IMAGES,
    conf: float | None = None,
    iou: float = 0.7,
    int8: bool = False,
    calib_images: int = DEFAULT_CALIB_IMAGES,
    calib_data: str | os.PathLike | None = None,
    int8_exclude_head: bool = True,
    calib_per_source: int = DEFAULT_CALIB_PER_SOURCE,
    calib_seed: int = DEFAULT_CALIB_SEED,
    tta: bool | None = None,
    conf_low: float | None = None,
    classes: Sequence[str] | None = None,
    persons: str | None = None,
    person_conf: float | None = None,
) -> ExportResult:
    """Export `weights` to ONNX, check it, and move it into place (see module docstring).

    Args:
        weights: a `.pt` detection checkpoint (or a name found in the weights folders).
        out: the `.onnx` to write; default beside the weights. INT8 goes to `<stem>-int8.onnx`.
        imgsz: square input size (multiple of 32).
        opset: ONNX opset (default: Ultralytics' choice).
        dynamic: dynamic batch, height and width: frames run at the smallest stride-aligned rectangle
            (a 4:3 frame at 320x256), as Ultralytics' own predict does; False for a fixed square input.
        simplify: simplify the graph with onnxslim.
        data: a data.yaml (val split, with ground truth for AP50) or a folder of images for the
            parity check; default the data the model was trained on if present, else Ultralytics'
            sample photos (no AP50 then).
        parity_images: how many images the parity check uses.
        conf, iou: defaults recorded in the model's metadata; `conf` is also the parity cut-off.
        int8: also write a static INT8 model; with a manifest.csv beside `data`, recommended only when every
            source of its val split passes `int8_check.decide_int8`, else when the pooled AP50 drops by at
            most `INT8_MAX_AP_DROP`.
        calib_images: calibration images for INT8 when the calibration data has no manifest (spread evenly).
        calib_data: data.yaml (train split) or folder for calibration; default as `data`.
        int8_exclude_head: keep the head's decoding in FP32 (see `quantize`).
        calib_per_source: with a manifest, calibration images drawn from each source of the train split.
        calib_seed: seed of that draw.
        tta: record flip test-time augmentation as the default of `handdet predict` (`infer.tta`); None: what
            the last export of this `.pt` recorded, else off. Parity with PyTorch compares one look; the INT8
            per-source check runs both models as recorded, since that is how INT8 will be used.
        conf_low: record a two-level cut-off (`infer.two_level`): in a photo with a box above `conf`, keep its
            other boxes above this; None: the one the last export of this `.pt` recorded when `conf` is not given
            either, else none. At or above `conf` records none.
        classes: keep only these classes (names or ids) in the head (`export.prune`), renumbered from 0: e.g.
            `person` for the person model of `infer.person_anchor`.
        persons, person_conf: record a person model (an ONNX file beside `out`) whose people at `person_conf`
            vouch for faint hands on them (`infer.person_anchor`); None: what the last export of this `.pt`
            recorded; "none": none.

    Raises:
        WeightsError: the weights are missing, truncated or not a detection model.
        ExportCheckError: a check failed, naming it; nothing was written.
    """
    from handdet.core.paths import resolve_weights
    from handdet.export.metadata import metadata_props, set_metadata
    from handdet.export.parity import parity_report, run_predictors
    from handdet.infer.predictor import default_tta, model_cutoffs

    t_start = time.perf_counter()
    if imgsz < 32 or imgsz % 32:
        raise ConfigError(f"--imgsz must be a multiple of 32, got {imgsz}")
    src = resolve_weights(weights)
    if src.suffix.lower() != ".pt":
        raise WeightsError(f"{src}: export takes PyTorch .pt weights")
    conf, conf_low = model_cutoffs(src, conf, conf_low)  # a re-export keeps the cut-offs chosen for this .pt
    tta_mode = "flip" if (default_tta(src) if tta is None else tta) else "none"  # and its test-time augmentation
    out = Path(out) if out else src.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"{out}: the output must end in .onnx")
    persons, person_conf = _person_record(src, out, persons, person_conf)  # and its person model
    out.parent.mkdir(parents=True, exist_ok=True)
    int8_out = out.with_name(f"{out.stem}-int8.onnx")
    report_out = out.with_name(f"{out.stem}.parity.json")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.stem}.export-", dir=out.parent))
    checks: list[str] = []
    try:
        pt = tmp / src.name
        shutil.copy2(src, pt)
        model = _load_yolo(pt, src)
        if classes:
            from handdet.export.prune import class_ids, keep_classes

            keep_classes(model, class_ids({int(k): str(v) for k, v in model.names.items()}, classes))
            model.save(pt)  # the parity reference runs the cut model too
            model = _load_yolo(pt, src)
        names = {int(k): str(v) for k, v in model.names.items()}
        stride = int(max(getattr(model.model, "stride", [32]))) if hasattr(model.model, "stride") else 32
        train_data = _train_data(model)
        try:
            exported = Path(model.export(format="onnx", imgsz=imgsz, opset=opset, dynamic=dynamic,
                                         simplify=simplify, half=False, batch=1, device="cpu", verbose=False))
        except Exception as e:
            raise ExportCheckError(f"{src}: ONNX export failed ({_one_line(e)})") from None
        del model

        import onnx

        m = onnx.load(str(exported))
        set_metadata(m, metadata_props(names, (imgsz, imgsz), stride, conf, iou, src, dynamic, "fp32",
                                          tta_mode, conf_low, persons, person_conf))
        onnx.save(m, str(exported))
        try:
            onnx.checker.check_model(str(exported))
        except Exception as e:
            raise ExportCheckError(f"{out}: check 'onnx.checker' failed ({_one_line(e)})") from None
        checks.append("onnx.checker")

        from handdet.infer.onnx_predictor import OnnxPredictor
        from handdet.infer.predictor import PredictorSettings, TorchPredictor

        eval_settings = PredictorSettings(imgsz=imgsz, conf=EVAL_CONF, iou=iou)
        try:
            onnx_pred = OnnxPredictor(exported, eval_settings)
        except HanddetError as e:
            raise ExportCheckError(f"{out}: check 'onnxruntime load' failed ({e})") from None
        checks.append("onnxruntime load")

        images = _images(data, train_data, parity_images, ("val", "test", "train"))
        # The reference letterboxes as the candidate does: a rectangle for a dynamic graph, else the square.
        torch_pred = TorchPredictor(pt, replace(eval_settings, rect=dynamic))
        ref, test = run_predictors([torch_pred, onnx_pred], images.paths)
        parity = parity_report([p.stem for p in images.paths], ref, test, names, images.gts, conf=conf,
                               reference="pytorch", candidate="onnx-fp32", images_from=images.source)
        print(parity.line())
        if not parity.passed:
            raise ExportCheckError(f"{out}: check 'parity with PyTorch' failed: {'; '.join(parity.failures)}")
        checks.append("parity")

        int8_report = None
        if int8:
            calib = _calibration(calib_data or data, train_data, calib_images, calib_per_source, calib_seed)
            int8_report = _int8(exported, tmp / int8_out.name, imgsz, iou, conf, names, calib,
                                data or train_data, images, test, int8_exclude_head, dynamic, tta_mode == "flip",
                                conf_low)
            int8_report = replace(int8_report, path=_shown(int8_out))

        report = {"source": _shown(src), "onnx": _shown(out), "imgsz": imgsz, "dynamic": dynamic, "opset": opset,
                  "conf": conf, "conf_low": conf_low, "checks": checks, "parity": parity.to_dict(),
                  "int8": int8_report.to_dict() if int8_report else None}
        (tmp / report_out.name).write_text(json.dumps(report, indent=2) + "\n")
        # Every check passed: move into place (each rename is atomic).
        os.replace(exported, out)
        if int8_report is not None:
            os.replace(tmp / int8_out.name, int8_out)
        os.replace(tmp / report_out.name, report_out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out, parity, int8_report, report_out, time.perf_counter() - t_start, checks, conf_low)


def _person_record(src: Path, out: Path, persons: str | None, person_conf: float | None):
    """(file name, cut-off) of the person model to record (`infer.person_anchor`), or (None, None): the option,
    else what the last export of `src` recorded; the file must lie beside `out`, where predictors look for it (a
    given one that does not is an error, an inherited one is dropped with a note)."""
    from handdet.infer.person_anchor import DEFAULT_PERSON_CONF
    from handdet.infer.predictor import recorded_metadata

    meta = recorded_metadata(src) if persons is None or person_conf is None else None
    inherited = persons is None
    if inherited:
        persons = None if meta is None else meta.persons
    if persons is None or persons.lower() == "none":
        return None, None
    name = Path(persons).name
    if inherited and not (out.parent / name).is_file():
        print(f"handdet export: the last export recorded the person model {name}, which is not beside {out}: not "
              f"recorded (place it there and give --persons {name} to keep it)")
        return None, None
    if not (out.parent / name).is_file():
        raise ConfigError(f"--persons: {name} is not beside {out}: the model records a file name, and predictors "
                          f"look for it in the model's folder; export the person model there first "
                          f"(handdet export yolov8n.pt --classes person --out {out.parent / name})")
    recorded = None if meta is None else meta.person_conf
    conf = person_conf if person_conf is not None else (recorded if recorded is not None else DEFAULT_PERSON_CONF)
    return name, float(conf)


def _shown(p: Path) -> str:
    """A path for the report: relative to the working directory when inside it (reports travel with
    the repository), else absolute."""
    try:
        return str(Path(p).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _calibration(calib_data, train_data, n_images: int, per_source: int, seed: int) -> CalibrationSet:
    """`per_source` train images of every source when the calibration data has a manifest, else `n_images`
    spread evenly over its first split (train, val, test), as before manifests."""
    from handdet.export.calibration import stratified_calibration

    calib = stratified_calibration(calib_data or train_data, per_source, seed)
    if calib is None:
        images = _images(calib_data, train_data, n_images, ("train", "val", "test"))
        calib = CalibrationSet(images.paths, images.source)
    return calib


def _int8(fp32: Path, int8_path: Path, imgsz: int, iou: float, conf: float, names: dict[int, str],
          calib: CalibrationSet, eval_data, images: ImageSet, fp32_dets: list,
          exclude_head: bool, dynamic: bool, tta: bool = False, conf_low: float | None = None) -> Int8Report:
    """Quantise on `calib`, then compare INT8 with FP32: speed and agreement AP50 on the parity images, and
    accuracy per source on `eval_data`'s val split when it has a manifest (run as the model records: with flip
    test-time augmentation when `tta`), else AP50 on the parity images."""
    from handdet.export.int8_check import compare_on_split, decide_int8
    from handdet.export.parity import ap50, run_predictors
    from handdet.export.quantize import quantize_int8
    from handdet.infer.onnx_predictor import OnnxPredictor
    from handdet.infer.predictor import PredictorSettings

    try:
        info = quantize_int8(fp32, int8_path, calib.paths, imgsz, exclude_head=exclude_head, dynamic=dynamic)
    except HanddetError:
        raise
    except Exception as e:
        raise ExportCheckError(f"{int8_path.name}: INT8 quantisation failed ({_one_line(e)})") from None
    s = PredictorSettings(conf=EVAL_CONF, iou=iou)
    try:
        q = OnnxPredictor(int8_path, s)
    except HanddetError as e:
        raise ExportCheckError(f"{int8_path.name}: check 'onnxruntime load' of the INT8 model failed ({e})") from None
    f = OnnxPredictor(fp32, s)
    int8_dets = run_predictors([q], images.paths)[0]
    reference = [d[d.confidence >= conf] for d in fp32_dets]
    agreement, why = ap50(int8_dets, reference, names)
    import cv2

    blobs = [f.preprocess(cv2.imread(str(p)))[0].copy() for p in images.paths[:8]]
    t_f, t_q = _p50_ms_side_by_side([f, q], blobs)
    common = dict(path=str(int8_path), n_calib=len(calib.paths), calib_from=calib.source,
                 excluded_nodes=len(info.excluded_nodes), fp32_p50_ms=t_f, int8_p50_ms=t_q,
                 speedup=t_f / t_q if t_q > 0 else 0.0, agreement_ap50=agreement,
                 calib_per_source=calib.per_source)

    judged = compare_on_split(fp32, int8_path, eval_data, conf, tta=tta, conf_low=conf_low)
    if judged is not None:
        rows, judged_on = judged
        decision = decide_int8(rows)
        total = rows[-1]
        return Int8Report(**common, ap50_fp32=total.ap50_fp32, ap50_int8=total.ap50_int8, ap50_drop=total.ap50_drop,
                          recommended=decision.recommended.value, note=decision.reason, decided_by="per-source",
                          judged_on=judged_on, by_source=rows, rule=decision.rule)

    ap_f = ap_q = drop = None
    if images.gts is not None:
        ap_f, _ = ap50(fp32_dets, images.gts, names)
        ap_q, _ = ap50(int8_dets, images.gts, names)
        drop = (ap_f - ap_q) if ap_f is not None and ap_q is not None else None
    if drop is not None:
        ok = drop <= INT8_MAX_AP_DROP
        note = (f"AP50 {ap_f:.4f} -> {ap_q:.4f} on {images.source}" +
                ("" if ok else f": drop above {INT8_MAX_AP_DROP}, keep the FP32 model as the default"))
    else:
        ok = agreement is not None and (1 - agreement) <= INT8_MAX_AP_DROP
        note = (f"no ground truth: INT8 scored against FP32's own boxes, agreement AP50 {agreement:.4f}"
                if agreement is not None else f"accuracy unknown ({why})")
        note += "" if ok else f"; below {1 - INT8_MAX_AP_DROP:.2f}, keep the FP32 model as the default"
    return Int8Report(**common, ap50_fp32=ap_f, ap50_int8=ap_q, ap50_drop=drop, recommended="int8" if ok else "fp32",
                      note=note, decided_by="pooled AP50" if drop is not None else "agreement",
                      judged_on=images.source, rule={"max_pooled_ap50_drop": INT8_MAX_AP_DROP})
