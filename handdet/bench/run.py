"""`handdet bench`: speed and memory of each stage next to its limit or its alternative, in one run.

    handdet bench                    # everything (< 10 minutes on 2 cores), writes bench/results.md
    handdet bench --only eval,convert

These machines are noisy: every ratio compares two things measured side by side in the same run,
alternating where possible, so that background load hits both alike.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from handdet.core.errors import HanddetError

SECTIONS = ("latency", "webcam", "tile", "mediapipe", "eval", "convert", "train", "memory")


@dataclass
class Row:
    """One measured figure, what it is compared with, and how to re-measure it."""

    section: str
    figure: str
    value: str
    compared_with: str = ""
    ratio: str = ""
    goal: str = ""
    rerun: str = ""


@dataclass
class Context:
    """Inputs shared by the sections, built once: weights, ONNX models, real images, a video, a dataset."""

    work: Path
    pt: Path
    images: list[Path]
    data_yaml: Path | None
    tiny_yaml: Path  # a small real dataset for the training-overhead row
    pretrained: Path  # the COCO YOLOv8n that row trains from
    video: Path
    onnx: dict = field(default_factory=dict)  # (imgsz, "fp32"|"int8") -> Path

    def models(self, imgsz: int) -> tuple[Path, Path | None]:
        """FP32 and INT8 ONNX exports of `pt` at `imgsz` (through `handdet export`, checks included), with the person
        model its own export records copied beside them, so they run as `handdet predict` runs the shipped files."""
        if (imgsz, "fp32") not in self.onnx:
            from handdet.export.onnx_export import export_onnx

            res = export_onnx(self.pt, out=self.work / f"model-{imgsz}.onnx", imgsz=imgsz, data=self.data_yaml,
                              parity_images=8, int8=True, calib_images=32, persons=self._persons())
            self.onnx[(imgsz, "fp32")] = Path(res.onnx_path)
            self.onnx[(imgsz, "int8")] = Path(res.int8.path) if res.int8 else None
            self.onnx[(imgsz, "int8-report")] = res.int8
        return self.onnx[(imgsz, "fp32")], self.onnx[(imgsz, "int8")]

    def _persons(self) -> str:
        """The person model the `.pt`'s own export records (`infer.predictor.person_model`), copied into `work`;
        "none" when it records none."""
        from handdet.infer.predictor import person_model, recorded_metadata

        src = person_model(None, self.pt, recorded_metadata(self.pt))
        if src is None:
            return "none"
        if not (self.work / src.name).is_file():
            shutil.copy2(src, self.work / src.name)
        return src.name


def _rerun(section: str) -> str:
    return f"`handdet bench --only {section}`"


def _default_tag(ctx: Context, imgsz: int) -> str:
    """Which ONNX model `handdet webcam` runs by default: what the .pt's own export beside it recommends (the
    shipped model's decision, made on more photos than the bench's export sees), else the bench's export."""
    from handdet.infer.loop import recommended_onnx
    from handdet.infer.predictor import own_export

    own = own_export(ctx.pt)
    if own is not None and own[1].imgsz == (imgsz, imgsz):
        return "int8" if recommended_onnx(own[0]) != own[0] else "fp32"
    q = ctx.onnx.get((imgsz, "int8-report"))
    return "int8" if q is not None and q.recommended == "int8" else "fp32"


def bench_latency_rows(ctx: Context) -> list[Row]:
    from handdet.export.bench import bench_latency

    rows = []
    for imgsz in (320, 640):
        fp32, int8 = ctx.models(imgsz)
        default = _default_tag(ctx, imgsz)
        res = bench_latency(ctx.pt, fp32, int8, ctx.images[:20], imgsz=imgsz, repeat=3)
        bare = next(r for r in res if r["runtime"] == "bare session.run fp32")
        for r in res:
            ratio = f"{bare['p50_ms'] / r['p50_ms']:.2f}x bare fp32"
            if r.get("speedup_vs_ultralytics"):
                ratio += f", {r['speedup_vs_ultralytics']:.2f}x Ultralytics"
            name = r["runtime"]
            is_default = name == f"handdet onnx {default}"
            goal = ">= 2.5x Ultralytics" if imgsz == 320 and is_default else ""
            rows.append(Row("latency", f"{name}{' (the default)' if is_default else ''} @ {imgsz} px, per image",
                            f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms",
                            "bare session.run fp32 (the limit); Ultralytics predict", ratio, goal, _rerun("latency")))
        q = ctx.onnx.get((imgsz, "int8-report"))
        if q is not None:
            drop = f", AP50 {q.ap50_fp32:.3f} -> {q.ap50_int8:.3f}" if q.ap50_fp32 is not None else ""
            rows.append(Row("latency", f"INT8 vs FP32 @ {imgsz} px (export's own check)",
                            f"{q.int8_p50_ms:.1f} ms vs {q.fp32_p50_ms:.1f} ms{drop}", "FP32 ONNX",
                            f"{q.speedup:.2f}x", ">= 1.5x, AP50 within 0.02", _rerun("latency")))
    return rows


def bench_webcam_rows(ctx: Context) -> list[Row]:
    from handdet.infer.bench import bench_webcam_loop

    fp32, int8 = ctx.models(320)
    default = _default_tag(ctx, 320)
    rows = []
    for tag, model in [(default, int8 if default == "int8" else fp32)] + ([("fp32", fp32)] if default != "fp32" else []):
        label = f"ONNX {tag}{' (the default)' if tag == default else ''}"
        r = bench_webcam_loop(model, ctx.video, imgsz=320, pt_path=ctx.pt, max_frames=150, rounds=2)
        bare = f"bare session.run {r['bare_fps']:.1f} FPS"
        rows += [
            Row("webcam", f"webcam loop, 640x480 video, 320 px {label}: decode+letterbox+run+NMS+draw",
                f"{r['loop_fps']:.1f} FPS", bare, f"{r['loop_vs_bare']:.2f}",
                (">= 0.8x bare" + ("" if r["tta_default"] else ", >= 30 FPS")) if tag == default else "",
                _rerun("webcam")),
            Row("webcam", f"the same loop with --save out.mp4 (+ mp4 encoding), {label}",
                f"{r['loop_save_fps']:.1f} FPS", bare, f"{r['loop_save_vs_bare']:.2f}", "", _rerun("webcam")),
            Row("webcam", f"the loop with flip TTA (each frame and its mirror image, fused), {label}"
                          f"{'; the model runs so by default' if r['tta_default'] else ''}",
                f"{r['tta_loop_fps']:.1f} FPS", f"one look a frame {r['loop_fps']:.1f} FPS",
                f"{r['tta_loop_fps'] / r['loop_fps']:.2f}" if r["loop_fps"] else "",
                ">= 30 FPS" if tag == default and r["tta_default"] else "", _rerun("webcam")),
        ]
        if r.get("ultralytics_fps"):
            rows.append(Row("webcam", f"{label} predictor vs Ultralytics predict (.pt), same frames",
                            f"{r['predictor_fps']:.1f} FPS", f"Ultralytics {r['ultralytics_fps']:.1f} FPS",
                            f"{r['onnx_vs_ultralytics']:.2f}", ">= 2.5x" if tag == default else "",
                            _rerun("webcam")))
    return rows + bench_person_rows(ctx)


def bench_person_rows(ctx: Context) -> list[Row]:
    """What the person model costs on a frame it runs on, side by side with the hand model alone."""
    from handdet.infer.bench import bench_person_anchor

    fp32, int8 = ctx.models(320)
    model = int8 if _default_tag(ctx, 320) == "int8" else fp32
    r = bench_person_anchor(model)
    if r is None:
        return [Row("webcam", f"people vouching for faint hands, {model.name}", "not measured", "", "", "",
                    f"{_rerun('webcam')} (the model records no person model)")]
    w, h = r["frame_wh"]
    return [Row("webcam", f"a {w}x{h} frame whose best hand lies between the cut-offs ({r['frame']}), so the person "
                          f"model ({r['persons']}) runs too; boxes kept {r['kept']} (alone {r['kept_alone']})",
                f"{r['anchored_ms']:.1f} ms", f"hand model alone {r['alone_ms']:.1f} ms", f"{r['ratio']:.2f}x the time",
                ">= 30 FPS (33 ms)", _rerun("webcam"))]


def bench_tile_rows(ctx: Context) -> list[Row]:
    from handdet.infer.bench import bench_tiling

    fp32, int8 = ctx.models(320)
    model = int8 if _default_tag(ctx, 320) == "int8" else fp32
    r = bench_tiling(model)
    rows = [Row("tile", f"--tile on a {r['frame_wh'][0]}x{r['frame_wh'][1]} frame ({r['tiles']} of its "
                        f"{r['grid_tiles']} tiles, those on people, + the full frame, overlap {r['overlap']:g}), "
                        f"{model.name}", f"{r['tiled_ms']:.0f} ms a frame",
                f"untiled {r['untiled_ms']:.1f} ms", f"{r['tiled_vs_untiled']:.1f}x the time", "",
                _rerun("tile"))]
    if r.get("handfree_photos"):
        rows.append(Row("tile", f"--tile on {r['handfree_photos']} hand-free photos no training uses (streets, "
                                f"night scenes): photos with a box", f"{r['tiled_handfree_firing']}",
                        f"untiled {r['untiled_handfree_firing']}", "", "", _rerun("tile")))
    if r.get("hands"):
        rows.append(Row("tile", f"--tile recall at the default confidence, {r['photos']} gloves-ppe photos upscaled "
                                f"to {r['photo_size']} px ({r['hands']} hands)",
                        f"{r['tiled_recall']:.3f} (precision {r['tiled_precision']:.2f})",
                        f"untiled {r['untiled_recall']:.3f} (precision {r['untiled_precision']:.2f})",
                        f"{r['tiled_ms_per_photo'] / r['untiled_ms_per_photo']:.1f}x the time", "", _rerun("tile")))
    return rows


def bench_mediapipe_rows(ctx: Context) -> list[Row]:
    from handdet.bench.vs_mediapipe import compare_with_mediapipe
    from handdet.core.paths import PROJECT_ROOT, data_dir
    from handdet.train.config import load_train_config
    from handdet.train.dataset import prepare_data

    rerun = _rerun("mediapipe")
    if not (data_dir() / "subhi-hands-voc").is_dir():
        return [Row("mediapipe", "handdet vs MediaPipe Hands", "not measured", "", "", "",
                    f"{rerun} (needs subhi-hands-voc in the data folder)")]
    from handdet.core.paths import SHIPPED_PT
    from handdet.infer.loop import default_weights

    if ctx.pt.resolve() == SHIPPED_PT.resolve():
        model = default_weights()  # exactly what `handdet webcam` runs
    else:
        fp32, int8 = ctx.models(320)
        model = int8 if _default_tag(ctx, 320) == "int8" else fp32
    tag = "int8" if model.stem.endswith("-int8") else "fp32"
    # The shipped model's own split: these photos were held apart from its training.
    data = prepare_data(load_train_config(PROJECT_ROOT / "configs" / "handdet-n.yaml").data, log=lambda *a: None)
    try:
        r = compare_with_mediapipe(model, data, ctx.work, video=ctx.video)
    except HanddetError as e:
        return [Row("mediapipe", "handdet vs MediaPipe Hands", "not measured", "", "", "", f"{rerun} ({e})")]
    h, m = r["handdet"], r["mediapipe"]
    where = f"{r['images']} val photos held apart from training ({r['negatives']} hand-free)"
    them = f"MediaPipe Hands {m['version']} (box: landmarks + {m['margin']:.0%})"
    timed = " (timed in an earlier run: cached)" if m["cached"] else ""
    return [
        Row("mediapipe", f"AP50 / AP50-95, {model.name} ({tag}), {where}", f"{h['ap50']:.3f} / {h['ap50_95']:.3f}",
            f"{them}: {m['ap50']:.3f} / {m['ap50_95']:.3f}", f"{h['ap50'] - m['ap50']:+.3f} AP50",
            "beat MediaPipe", rerun),
        Row("mediapipe", "precision / recall / false detections per 100 hand-free photos, each at its defaults",
            f"{h['precision']:.3f} / {h['recall']:.3f} / {h['fp_per_100_negatives']:.1f}",
            f"MediaPipe: {m['precision']:.3f} / {m['recall']:.3f} / {m['fp_per_100_negatives']:.1f}", "",
            "<= 1 false detection per 100", rerun),
        Row("mediapipe", "latency per photo (p50), each on its own photos pipeline, at its defaults"
                         + (" (handdet: flip TTA, two looks)" if h.get("tta", "none") != "none" else ""),
            f"{h['latency_p50_ms']:.1f} ms", f"MediaPipe static-image mode {m['latency_p50_ms']:.1f} ms{timed}",
            f"{m['latency_p50_ms'] / h['latency_p50_ms']:.2f}x faster", "faster than MediaPipe", rerun),
    ] + [Row("mediapipe", f"latency per photo (p50), handdet {label}, same photos",
             f"{h[key]:.1f} ms", f"MediaPipe static-image mode {m['latency_p50_ms']:.1f} ms",
             f"{m['latency_p50_ms'] / h[key]:.2f}x faster", "", rerun)
         for key, label in (("flip_latency_p50_ms", "with flip TTA (--tta, two looks)"),
                            ("one_look_latency_p50_ms", "one look (--no-tta)")) if h.get(key)
    ] + ([Row("mediapipe", "640x480 video, 150 frames: handdet predictor vs MediaPipe in tracking mode",
              f"{r['video_fps']['handdet']:.1f} FPS",
              f"MediaPipe {r['video_fps']['mediapipe_tracking']:.1f} FPS{timed}",
              f"{r['video_fps']['handdet'] / r['video_fps']['mediapipe_tracking']:.2f}x", "", rerun)]
         if r.get("video_fps") else []) + mediapipe_source_rows(model, data, ctx.work)


def _f3(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def mediapipe_source_rows(model: Path, data: Path, work: Path) -> list[Row]:
    """One row per source of the multi-source dataset `data` (val and test): AP and recall for a hand
    source, false detections per 100 photos for a hand-free folder; handdet vs MediaPipe on the same photos."""
    from handdet.bench.vs_mediapipe import compare_by_source
    from handdet.data.manifest import Kind, manifest_path

    rerun = _rerun("mediapipe")
    if not manifest_path(data).is_file():
        return [Row("mediapipe", "per source: handdet vs MediaPipe Hands", "not measured", "", "", "",
                    f"{rerun} (the dataset of configs/handdet-n.yaml has no {manifest_path(data).name}: one source)")]
    try:
        r = compare_by_source(model, data, work, log=lambda *a: None)
    except HanddetError as e:
        return [Row("mediapipe", "per source: handdet vs MediaPipe Hands", "not measured", "", "", "", f"{rerun} ({e})")]
    rows = []
    for s in r["sources"]:
        h, m = s["handdet"], s["mediapipe"]
        where = f"{s['images']} {'+'.join(s['splits'])} photos"
        if s["kind"] == Kind.HANDS.value:
            gap = f"{h['ap50'] - m['ap50']:+.3f} AP50" if h["ap50"] is not None and m["ap50"] is not None else ""
            rows.append(Row("mediapipe", f"{s['source']} ({where}): AP50 / AP50-95, recall @default",
                            f"{_f3(h['ap50'])} / {_f3(h['ap50_95'])}, {h['recall']:.3f}",
                            f"MediaPipe (+{m['margin']:.0%}): {_f3(m['ap50'])} / {_f3(m['ap50_95'])}, {m['recall']:.3f}",
                            gap, "", rerun))
            rows += _wrist_rows(s, rerun)
        else:
            rows.append(Row("mediapipe", f"{s['source']} ({where}, hand-free): false detections / 100 photos",
                            f"{h['fp_per_100_negatives']:.1f}", f"MediaPipe: {m['fp_per_100_negatives']:.1f}", "",
                            "<= 1", rerun))
    return rows


def _wrist_rows(source: dict, rerun: str) -> list[Row]:
    """Where the source's boxes and the model's end at MediaPipe's wrist (`box_style.wrist_style`), and what
    each detector scores against the source's boxes cut at that wrist (`box_style.gts_to_wrist`)."""
    w = source.get("wrist")
    if not w or not w["hands"]:
        return []
    rows = []
    c = source.get("to_wrist")
    if c and c["cut"]:
        h, m, hc, mc = source["handdet"], source["mediapipe"], c["handdet"], c["mediapipe"]
        rows.append(Row("mediapipe", f"{source['source']}: AP50-95 against its boxes cut at MediaPipe's wrist "
                        f"({c['cut']} cut), handdet every box / kept @default",
                        f"{_f3(hc['ap50_95'])} / {_f3(hc['kept_ap50_95'])} (as drawn {_f3(h['ap50_95'])})",
                        f"MediaPipe (+{mc['margin']:.0%}): {_f3(mc['ap50_95'])} (as drawn {_f3(m['ap50_95'])})",
                        f"{hc['ap50_95'] - h['ap50_95']:+.3f} AP50-95"
                        if hc["ap50_95"] is not None and h["ap50_95"] is not None else "", "", rerun))
    model = (f"{w['model_reach']:+.2f}, wrist inside {w['model_inside']:.0%} ({w['matched']} hands found)"
             if w["matched"] else "no hand found")
    return [Row("mediapipe", f"{source['source']}: boxes past MediaPipe's wrist, in palm lengths (median), handdet @default",
                model, f"source boxes {w['source_reach_matched']:+.2f} on the same hands "
                f"({w['source_reach']:+.2f}, wrist inside {w['source_inside']:.0%}, over {w['hands']})",
                f"{w['model_reach'] - w['source_reach_matched']:+.2f}" if w["matched"] else "", "", rerun)] + rows


def bench_eval_rows(ctx: Context) -> list[Row]:
    from handdet.eval.bench import bench_vs_pycocotools

    r = bench_vs_pycocotools(n_images=5000, n_pred=20, seed=0, num_classes=1)
    return [Row("eval", "evaluator, 5,000 images x 20 boxes (AP50-95, AP50, AP75, S/M/L)",
                f"{r['time_ours']:.2f} s, AP diff {r['ap_diff']:.1e}", f"pycocotools {r['time_coco']:.2f} s",
                f"{r['ratio']:.1f}x faster", ">= 5x, same AP", _rerun("eval"))]


def bench_convert_rows(ctx: Context) -> list[Row]:
    from handdet.data.bench import bench_convert

    rows = []
    for fmt in ("voc", "coco"):
        with tempfile.TemporaryDirectory(dir=ctx.work) as tmp:
            r = bench_convert(fmt, n=5000, tmpdir=tmp)
        rows.append(Row("convert", f"convert {fmt.upper()}, 5,000 annotations, links, no decode",
                        f"{r['annotations_per_s']:,.0f} annotations/s ({r['seconds']:.2f} s)", "", "",
                        "< a few seconds", _rerun("convert")))
    return rows


def bench_train_rows(ctx: Context) -> list[Row]:
    from handdet.bench.train_overhead import bench_train_overhead

    r = bench_train_overhead(ctx.tiny_yaml, ctx.pretrained, ctx.work / "train-runs", imgsz=160, epochs=1, rounds=2)
    return [Row("train", f"handdet train, 1 epoch at 160 px on {r['images']} real photos",
                f"{r['ours_ips']:.1f} images/s", f"bare Ultralytics train {r['bare_ips']:.1f} images/s",
                f"{r['ratio']:.2f}", "~1.0 (the wrapper costs nothing)", _rerun("train"))]


# Peak RSS of a fresh process: Linux' VmHWM belongs to the process's own memory map (ru_maxrss would carry
# the parent's peak across fork and exec); ru_maxrss elsewhere.
_RSS = ("import resource, sys; {body}; from pathlib import Path; p = Path('/proc/self/status'); "
        "hwm = [l.split()[1] for l in p.read_text().splitlines() if l.startswith('VmHWM')] if p.exists() else []; "
        "print('RSS_KB', hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def _peak_rss_mb(body: str) -> float:
    out = subprocess.run([sys.executable, "-c", _RSS.format(body=body)], capture_output=True, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("RSS_KB")][-1]
    return int(line.split()[1]) / 1024


def bench_memory_rows(ctx: Context) -> list[Row]:
    fp32, int8 = ctx.models(320)
    model = int8 if _default_tag(ctx, 320) == "int8" else fp32
    loop = _peak_rss_mb(f"from handdet.cli import main; main(['predict', {str(model)!r}, {str(ctx.video)!r}, "
                        "'--no-show', '--max-frames', '150'])")
    ev = _peak_rss_mb("from handdet.eval.bench import synthetic_pairs; from handdet.eval.evaluator import Evaluator; "
                      "ev = Evaluator(1); [ev.update(p, g) for p, g in synthetic_pairs(5000, 20, num_classes=1, seed=0)]; "
                      "ev.compute()")
    base = _peak_rss_mb("import numpy, cv2, onnxruntime")
    return [
        Row("memory", f"peak RSS, webcam loop (ONNX {_default_tag(ctx, 320)} 320 px, 150 video frames)", f"{loop:.0f} MB",
            f"python + numpy + cv2 + onnxruntime imported: {base:.0f} MB", f"+{loop - base:.0f} MB", "", _rerun("memory")),
        Row("memory", "peak RSS, evaluation of 5,000 images x 20 boxes", f"{ev:.0f} MB", "", "", "", _rerun("memory")),
    ]


RUNNERS: dict[str, Callable[[Context], list[Row]]] = {
    "latency": bench_latency_rows,
    "webcam": bench_webcam_rows,
    "tile": bench_tile_rows,
    "mediapipe": bench_mediapipe_rows,
    "eval": bench_eval_rows,
    "convert": bench_convert_rows,
    "train": bench_train_rows,
    "memory": bench_memory_rows,
}


def build_context(work: Path, weights: Path | None = None, log=print) -> Context:
    """Weights (shipped, else COCO YOLOv8n), real photos, a video and a tiny dataset, made once."""
    import cv2

    from handdet.core.paths import SHIPPED_PT, data_dir, resolve_weights

    work.mkdir(parents=True, exist_ok=True)
    pretrained = resolve_weights("yolov8n.pt")
    pt = Path(weights) if weights else (SHIPPED_PT if SHIPPED_PT.is_file() else pretrained)
    subhi = data_dir() / "subhi-hands-voc"
    if subhi.is_dir():
        images = sorted((subhi / "test").glob("*.jpg"))[::5][:40]
    else:
        from handdet.data.synth import make_synthetic

        make_synthetic(work / "synth", n=40, seed=0, size=480, progress=False)
        images = sorted((work / "synth").glob("*.jpg"))
    # A 640x480 video of real frames for the webcam loop.
    video = work / "frames.mp4"
    if not video.is_file():
        w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
        for i in range(150):
            img = cv2.imread(str(images[i % len(images)]))
            w.write(cv2.resize(img, (640, 480)))
        w.release()
    # A tiny real dataset for the training-overhead row.
    from handdet.data.convert import convert

    tiny_src = work / "tiny-voc"
    if not tiny_src.is_dir():
        tiny_src.mkdir()
        train_photos = sorted((subhi / "train").glob("*.jpg"))[::8][:160] if subhi.is_dir() else images
        for img in train_photos:
            for f in (img, img.with_suffix(".xml")):
                if f.is_file():
                    (tiny_src / f.name).symlink_to(f)
    tiny = convert("voc", tiny_src, work / "tiny-yolo", ratios={"train": 0.8, "val": 0.2}, seed=0, progress=False)
    ctx = Context(work=work, pt=pt, images=images, data_yaml=Path(tiny.data_yaml), tiny_yaml=Path(tiny.data_yaml),
                  pretrained=pretrained, video=video)
    log(f"bench: model {pt}; {len(images)} real photos; video {video}; machine {cpu_name()}")
    return ctx


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("handdet", "ultralytics", "torch", "onnxruntime", "onnx", "opencv-python", "numpy", "pycocotools"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def markdown(rows: list[Row], meta: dict) -> str:
    lines = [
        "# handdet benchmark",
        "",
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores), by `make bench` "
        f"({meta['seconds']:.0f} s). Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "."
        + "".join(f" Re-run since: `handdet bench --only {','.join(r['sections'])}` {r['date']} ({r['seconds']:.0f} s)"
                  " (its rows are side by side with each other, not with the rest)." for r in meta.get("reruns", [])),
        "",
        "Ratios compare two things measured side by side in this run; absolute times depend on the load of the machine. "
        "\"Ultralytics predict\" is `YOLO(pt).predict(image, imgsz=...)` as users call it: Ultralytics sets PyTorch to "
        "cores - 1 threads on a CPU (1 here), so the latency section also shows it with PyTorch on every core; "
        "ONNX Runtime uses every core (at most 4).",
        "",
        "| section | figure | value | compared with | ratio | goal | re-run |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.section} | {r.figure} | {r.value} | {r.compared_with} | {r.ratio} | {r.goal} | {r.rerun} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def run_bench(only: list[str] | None = None, out: Path = Path("bench/results.md"), weights: Path | None = None,
              log=print) -> list[Row]:
    """Run the chosen sections, print the table and write `out` (markdown) and `out.json` atomically."""
    import os
    import time

    from handdet.core.atomic import write_text_atomic
    from handdet.core.errors import ConfigError
    from handdet.core.paths import build_dir

    sections = only or list(SECTIONS)
    unknown = [s for s in sections if s not in RUNNERS]
    if unknown:
        raise ConfigError(f"bench: unknown section '{unknown[0]}' (known: {', '.join(SECTIONS)})")
    t0 = time.perf_counter()
    ctx = build_context(build_dir() / "bench", weights, log=log)
    rows: list[Row] = []
    for s in sections:
        log(f"bench: {s} ...")
        new = RUNNERS[s](ctx)
        for r in new:
            vs = f" | vs {r.compared_with}" if r.compared_with else ""
            log(f"  {r.figure}: {r.value}{vs}" + (f": {r.ratio}" if r.ratio else ""))
        rows += new
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": cpu_name(), "cores": os.cpu_count(),
            "versions": versions(), "seconds": time.perf_counter() - t0, "model": str(ctx.pt)}
    if only and out.is_file():  # a partial run updates its own rows and keeps the others, and says so
        rows, meta = _merge_rows(out.with_suffix(".json"), rows, meta, sections)
    write_text_atomic(out, markdown(rows, meta))
    write_text_atomic(out.with_suffix(".json"), json.dumps({"meta": meta, "rows": [r.__dict__ for r in rows]}, indent=1))
    return rows


def _merge_rows(path: Path, new: list[Row], meta: dict, sections: list[str]) -> tuple[list[Row], dict]:
    """The earlier run's rows with `sections` replaced; its header kept, with this run listed as a re-run."""
    try:
        data = json.loads(path.read_text())
        old, old_meta = [Row(**r) for r in data["rows"]], dict(data["meta"])
    except (OSError, ValueError, KeyError, TypeError):
        return new, meta
    kept = [r for r in old if r.section not in sections]
    if not kept:
        return new, meta  # every row is new: this run is the whole table
    reruns = [r for r in old_meta.get("reruns", []) if set(r["sections"]) - set(sections)]
    old_meta["reruns"] = reruns + [{"sections": sections, "date": meta["date"], "seconds": meta["seconds"]}]
    return sorted(kept + new, key=lambda r: SECTIONS.index(r.section) if r.section in SECTIONS else 99), old_meta
