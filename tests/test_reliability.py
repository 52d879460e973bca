"""Bad input across every command: one clear line naming the file, a non-zero exit, nothing half-written.

Each row builds one broken input in a fresh folder, runs the CLI in-process and checks:
  - exit code 2 and exactly one stderr line `handdet: error: ...` that names the offending file or source;
  - the command's output path does not exist afterwards (no partial dataset, report, JSON or model).
"""

from __future__ import annotations

import shutil
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handdet.cli import main
from handdet.core.errors import DataError
from handdet.data.yolo_dataset import parse_label_text

VOC_XML = """<annotation><filename>{name}</filename><size><width>64</width><height>48</height><depth>3</depth></size>
<object><name>hand</name><difficult>0</difficult><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
</annotation>"""


def jpeg_bytes(w=64, h=48) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((h, w, 3), 127, np.uint8))
    assert ok
    return buf.tobytes()


def png_bytes(w=64, h=48) -> bytes:
    raw = b"".join(b"\x00" + bytes([120, 130, 140]) * w for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def voc_dataset(root: Path, image: bytes | None = None, xml: str | None = None, name: str = "a.jpg") -> Path:
    src = root / "src"
    src.mkdir()
    (src / "ok.jpg").write_bytes(jpeg_bytes())
    (src / "ok.xml").write_text(VOC_XML.format(name="ok.jpg"))
    if image is not None:
        (src / name).write_bytes(image)
    (src / (Path(name).stem + ".xml")).write_text(xml if xml is not None else VOC_XML.format(name=name))
    return src


def yolo_dataset(root: Path, label: str) -> Path:
    src = root / "src"
    for split in ("train", "val"):
        (src / "images" / split).mkdir(parents=True)
        (src / "labels" / split).mkdir(parents=True)
        (src / "images" / split / "ok.jpg").write_bytes(jpeg_bytes())
        (src / "labels" / split / "ok.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (src / "images" / "train" / "bad.jpg").write_bytes(jpeg_bytes())
    (src / "labels" / "train" / "bad.txt").write_text(label)
    (src / "data.yaml").write_text("train: images/train\nval: images/val\nnames: {0: hand}\n")
    return src


def convert_voc(tmp, **kw):
    src = voc_dataset(tmp, **kw)
    return ["convert", "voc", str(src), str(tmp / "out"), "--strict"], tmp / "out"


def convert_yolo(tmp, label):
    src = yolo_dataset(tmp, label)
    return ["convert", "yolo", str(src), str(tmp / "out"), "--strict"], tmp / "out"


def trained_like_pt(tmp: Path, payload: bytes) -> Path:
    p = tmp / "model.pt"
    p.write_bytes(payload)
    return p


def not_yolo_pt(tmp: Path) -> Path:
    import torch

    p = tmp / "model.pt"
    torch.save({"weights": torch.zeros(3)}, p)
    return p


def predict(tmp, weights: Path, zidane: Path):
    return ["predict", str(weights), str(zidane), "--save-json", str(tmp / "preds.json")], tmp / "preds.json"


CASES = {
    # Images
    "corrupt image": (lambda t, z: convert_voc(t, image=b"\xff\xd8\xff" + bytes(range(256)) * 4), "a.jpg"),
    "truncated image": (lambda t, z: convert_voc(t, image=jpeg_bytes()[:200]), "a.jpg"),
    "zero-byte image": (lambda t, z: convert_voc(t, image=b""), "a.jpg"),
    # Annotations
    "XML that does not parse": (lambda t, z: convert_voc(t, image=jpeg_bytes(), xml="<annotation><object>"), "a.xml"),
    "XML without bndbox": (lambda t, z: convert_voc(
        t, image=jpeg_bytes(), xml="<annotation><filename>a.jpg</filename><object><name>hand</name></object></annotation>"),
        "a.xml"),
    "file name escaping the dataset": (lambda t, z: convert_voc(
        t, image=jpeg_bytes(), xml=VOC_XML.format(name="../../../etc/passwd")), "a.xml"),
    "label line with too few fields": (lambda t, z: convert_yolo(t, "0 0.5 0.5 0.1\n"), "bad.txt"),
    "label line with too many fields": (lambda t, z: convert_yolo(t, "0 0.5 0.5 0.1 0.1 7\n"), "bad.txt"),
    "label line with text": (lambda t, z: convert_yolo(t, "hand 0.5 0.5 0.1 0.1\n"), "bad.txt"),
    "label with NaN": (lambda t, z: convert_yolo(t, "0 nan 0.5 0.1 0.1\n"), "bad.txt"),
    "label with infinity": (lambda t, z: convert_yolo(t, "0 0.5 inf 0.1 0.1\n"), "bad.txt"),
    "label with negative size": (lambda t, z: convert_yolo(t, "0 0.5 0.5 -0.1 0.1\n"), "bad.txt"),
    "label outside [0, 1]": (lambda t, z: convert_yolo(t, "0 1.5 0.5 0.1 0.1\n"), "bad.txt"),
    "unknown class id": (lambda t, z: convert_yolo(t, "3 0.5 0.5 0.1 0.1\n"), "bad.txt"),
    # Datasets and formats
    "empty dataset folder": (lambda t, z: (["convert", "voc", str(t / "empty"), str(t / "out")], t / "out"), "empty"),
    "missing dataset folder": (lambda t, z: (["convert", "voc", str(t / "gone"), str(t / "out")], t / "out"), "gone"),
    "unknown format name": (lambda t, z: (["convert", "pascal", str(t), str(t / "out")], t / "out"), "pascal"),
    "data.yaml pointing nowhere": (lambda t, z: (
        ["eval", "--predictions", str(_write(t / "p.json", "[]")), str(_write(
            t / "data.yaml", "train: nowhere/train\nval: nowhere/val\nnames: {0: hand}\n")), "--out", str(t / "ev")],
        t / "ev"), "nowhere"),
    # Configs
    "config with an unknown key": (lambda t, z: (
        ["train", "--config", str(_write(t / "c.yaml", "epoch: 3\n")), f"project={t / 'runs'}"], t / "runs"), "c.yaml"),
    "config with a wrong type": (lambda t, z: (
        ["train", "--config", str(_write(t / "c.yaml", "imgsz: big\n")), f"project={t / 'runs'}"], t / "runs"), "c.yaml"),
    # Weights
    "missing weights": (lambda t, z: predict(t, t / "nothere.pt", z), "nothere.pt"),
    "truncated weights": (lambda t, z: predict(t, trained_like_pt(t, b"PK\x03\x04" + b"\0" * 100), z), "model.pt"),
    "non-YOLO weights": (lambda t, z: predict(t, not_yolo_pt(t), z), "model.pt"),
    "corrupt ONNX": (lambda t, z: predict(t, _write(t / "model.onnx", "not a protobuf"), z), "model.onnx"),
    "missing ONNX for export's input": (lambda t, z: (["export", str(t / "none.pt"), "--out", str(t / "m.onnx")],
                                                      t / "m.onnx"), "none.pt"),
    # Sources
    "camera index with no camera": (lambda t, z: (["webcam", "--source", "7", "--weights", str(_coco(t)),
                                                   "--no-show", "--save", str(t / "o.mp4")], t / "o.mp4"), "camera 7"),
    "missing video file": (lambda t, z: (["predict", str(_coco(t)), str(t / "clip.mp4"), "--save-json",
                                          str(t / "p.json")], t / "p.json"), "clip.mp4"),
}


def _write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def _coco(t: Path) -> Path:
    from handdet.core.paths import resolve_weights

    return resolve_weights("yolov8n.pt")  # conftest points HANDDET_WEIGHTS at ../shared/weights


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, tmp_path, zidane, capsys):
    (tmp_path / "empty").mkdir()
    build, needle = CASES[case]
    argv, output = build(tmp_path, zidane)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, f"{case}: exit {code}, stderr {err!r}"
    assert "Traceback" not in err, f"{case}: {err!r}"
    # Progress bars may have drawn on stderr before the error; the error itself is one line.
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("handdet: error: ")]
    assert len(lines) == 1, f"{case}: {err!r}"
    assert needle in lines[0], f"{case}: {lines[0]!r} does not name {needle!r}"
    assert not output.exists(), f"{case}: partial output left at {output}"
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}")]
    assert not leftovers, f"{case}: temporary files left: {leftovers}"


def test_png_named_jpg_is_converted_with_a_note(tmp_path, capsys):
    argv, out = convert_voc(tmp_path, image=png_bytes())
    assert main(argv) == 0
    assert (out / "data.yaml").is_file()
    assert "a.jpg" in capsys.readouterr().out


def test_network_is_blocked_in_tests():
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.create_connection(("example.com", 80), timeout=5)


# Fuzz: any bytes in a label file give valid boxes or a clear DataError, never anything else.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.lists(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str),
                                             st.integers(-3, 5).map(str), st.text(max_size=4)),
                                   max_size=7).map(" ".join), max_size=5).map("\n".join)))
def test_label_parser_fuzz(text):
    try:
        cls, xywhn = parse_label_text(text, "fuzz.txt")
    except DataError as e:
        assert str(e).startswith("fuzz.txt") and "\n" not in str(e)
        return
    assert cls.shape[0] == xywhn.shape[0] and xywhn.shape[1:] == (4,)
    assert np.isfinite(xywhn).all() and (xywhn >= 0).all() and (xywhn <= 1 + 1e-6).all()
    assert (xywhn[:, 2:] > 0).all() and (cls >= 0).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(st.tuples(*[st.floats(-100, 200, allow_nan=False)] * 4), min_size=1, max_size=4))
def test_random_voc_boxes_give_a_valid_dataset_or_a_clear_error(tmp_path_factory, boxes):
    from handdet.data.convert import convert
    from handdet.data.yolo_dataset import label_path_for, read_data_yaml, read_labels

    tmp = tmp_path_factory.mktemp("fuzz")
    objs = "".join(f"<object><name>hand</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
                   f"<ymax>{d}</ymax></bndbox></object>" for a, b, c, d in boxes)
    src = tmp / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg_bytes())
    (src / "a.xml").write_text(f"<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height>"
                               f"</size>{objs}</annotation>")
    try:
        report = convert("voc", src, tmp / "out", ratios={"train": 1.0}, progress=False)
    except DataError as e:
        assert "\n" not in str(e)
        assert not (tmp / "out").exists()
        return
    info = read_data_yaml(report.data_yaml)
    for img in info.images("train"):
        d = read_labels(label_path_for(img), (64, 48))  # re-reading validates every line
        assert (d.xyxy[:, 2:] > d.xyxy[:, :2]).all()
        assert (d.xyxy >= -1e-3).all() and (d.xyxy[:, [0, 2]] <= 64 + 1e-3).all()
    shutil.rmtree(tmp)
