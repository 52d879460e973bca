"""Builders for the data tests: tiny real images and Pascal VOC files written by the tests, and a small YOLO
dataset of real hand photos (`hand_data`) for the tests that cut hands out."""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest

from handdet.data.manifest import Kind, ManifestRow, write_manifest


def make_image(path: Path, wh: tuple[int, int] = (64, 48), fmt: str = ".jpg", seed: int = 0) -> Path:
    """Write a small noise image of size (w, h) encoded as `fmt` (which may differ from the suffix)."""
    import cv2

    w, h = wh
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(fmt, img)
    assert ok
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
    return path


def voc_text(filename: str, wh: tuple[int, int] | None, objects: list[dict]) -> str:
    """VOC XML; each object dict has name, box (4 values written verbatim), optional difficult and
    `extra` tags (e.g. 100DOH's handside)."""
    size = f"<size><width>{wh[0]}</width><height>{wh[1]}</height><depth>3</depth></size>" if wh else ""
    objs = ""
    for o in objects:
        tags = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), o["box"], strict=True)
                       if v is not None)
        extra = "".join(f"<{t}>{v}</{t}>" for t, v in o.get("extra", {}).items())
        objs += (f"<object><name>{o['name']}</name><difficult>{o.get('difficult', 0)}</difficult>{extra}"
                 f"<bndbox>{tags}</bndbox></object>")
    return f"<annotation><filename>{filename}</filename>{size}{objs}</annotation>"


def write_voc(folder: Path, stem: str, wh=(64, 48), objects=(), image_fmt=".jpg", seed=0) -> Path:
    """An image `stem.jpg` and its `stem.xml` in `folder`; returns the XML path."""
    make_image(folder / f"{stem}.jpg", wh, image_fmt, seed)
    xml = folder / f"{stem}.xml"
    xml.write_text(voc_text(f"{stem}.jpg", wh, list(objects)))
    return xml


HAND = {"name": "hand", "box": (10, 10, 30, 30)}


def write_json(path: Path, obj) -> Path:
    """`obj` as a JSON file (folders created)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


EGOHANDS_FIELDS = ("myleft", "myright", "yourleft", "yourright")


def egohands_mat(path: Path, frames: list[dict]) -> Path:
    """A real EgoHands `polygons.mat`: a 1xN MATLAB struct array `polygons` with fields myleft, myright,
    yourleft, yourright, each a (K, 2) array of x, y points or an empty 0x0 array (hand absent)."""
    from scipy.io import savemat

    polys = np.zeros((1, len(frames)), dtype=[(f, "O") for f in EGOHANDS_FIELDS])
    for i, frame in enumerate(frames):
        for f in EGOHANDS_FIELDS:
            polys[0, i][f] = np.asarray(frame[f], np.float64) if f in frame else np.zeros((0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"polygons": polys})
    return path


def oxford_mat(path: Path, boxes: list[dict], extra: dict | None = None) -> Path:
    """A real Oxford hand `.mat`: `boxes`, a 1xN cell array of 1x1 structs with fields a, b, c, d
    ([y, x] corners) plus any `extra` fields (e.g. a hand-type string), as the dataset has."""
    from scipy.io import savemat

    fields = ["a", "b", "c", "d", *(extra or {})]
    cell = np.empty((1, len(boxes)), dtype=object)
    for k, box in enumerate(boxes):
        s = np.zeros((1, 1), dtype=[(f, "O") for f in fields])
        for f in "abcd":
            s[0, 0][f] = np.asarray([box[f]], np.float64)
        for f, v in (extra or {}).items():
            s[0, 0][f] = v
        cell[0, k] = s
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"boxes": cell})
    return path


def yolo_lines(out: Path, split: str, stem: str) -> list[str]:
    """The label lines written for one image of a converted dataset."""
    return (out / "labels" / split / f"{stem}.txt").read_text().splitlines()


@pytest.fixture
def voc_dir(tmp_path) -> Path:
    """A clean two-image VOC folder to add one defect to."""
    src = tmp_path / "src"
    write_voc(src, "good_a", objects=[HAND], seed=1)
    write_voc(src, "good_b", objects=[HAND], seed=2)
    return src


@pytest.fixture(scope="session")
def build():
    """The builders above, for test modules (conftest modules cannot be imported under importlib mode)."""
    import types

    return types.SimpleNamespace(make_image=make_image, voc_text=voc_text, write_voc=write_voc, HAND=HAND,
                                 write_json=write_json, egohands_mat=egohands_mat, oxford_mat=oxford_mat,
                                 yolo_lines=yolo_lines)


def _link(src_images: Path, names: list[str], ds: Path, split: str, rows: list, source: str, kind=Kind.HANDS):
    """Link real photos (and their labels, if any) into `ds` as `split`; add their manifest rows."""
    for n in names:
        img = ds / "images" / split / f"{source}__{n}"
        img.parent.mkdir(parents=True, exist_ok=True)
        img.symlink_to(src_images / n)
        label = ds / "labels" / split / f"{source}__{Path(n).stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        src_label = src_images.parent / "labels" / f"{Path(n).stem}.txt"
        label.write_text(src_label.read_text() if src_label.is_file() else "")
        rows.append(ManifestRow(f"images/{split}/{img.name}", split, source, kind, Path(n).stem))


@pytest.fixture(scope="module")
def hand_data(shared_dir, tmp_path_factory):
    """A two-split YOLO dataset of real photos with a manifest: train holds 5 asl-letters photos, 1 hands-v2
    photo and 1 gloves-ppe scene; val holds 3 other asl-letters photos and one room photo as a background.
    Beside it, a folder of 5 hand-free room photos, the last of which is that val background."""
    data = shared_dir / "data"
    root = tmp_path_factory.mktemp("compose_data")
    ds, rows = root / "ds", []
    asl = sorted(p.name for p in (data / "asl-letters" / "images").glob("*.jpg"))
    hv2 = sorted(p.name for p in (data / "hands-v2" / "images").glob("*.jpg"))
    gloves = sorted(p.name for p in (data / "gloves-ppe" / "images").glob("00004_jpg*"))
    rooms = sorted((data / "hand-free" / "places365-rooms").glob("*.jpg"))[:5]
    _link(data / "asl-letters" / "images", asl[1:6], ds, "train", rows, "asl-letters")
    _link(data / "hands-v2" / "images", hv2[:1], ds, "train", rows, "hands-v2")
    _link(data / "gloves-ppe" / "images", gloves[:1], ds, "train", rows, "gloves-ppe")
    _link(data / "asl-letters" / "images", asl[6:9], ds, "val", rows, "asl-letters")
    _link(rooms[0].parent, [rooms[-1].name], ds, "val", rows, "hand-free/rooms", Kind.BACKGROUND)
    (ds / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: hand\n")
    write_manifest(ds / "manifest.csv", rows)
    bg = root / "backgrounds"
    bg.mkdir()
    for p in rooms:
        (bg / p.name).symlink_to(p)
    return types.SimpleNamespace(data=ds / "data.yaml", bg=bg, root=root, held_bg=os.path.realpath(rooms[-1]),
                                 train={os.path.realpath(p) for p in (ds / "images" / "train").iterdir()},
                                 val={os.path.realpath(p) for p in (ds / "images" / "val").iterdir()})


@pytest.fixture(scope="module")
def scene_data(shared_dir, tmp_path_factory):
    """A train-only YOLO dataset of four real gloves-ppe wide scenes: small hands with room beside them."""
    data = shared_dir / "data" / "gloves-ppe" / "images"
    ds, rows = tmp_path_factory.mktemp("scene_data") / "ds", []
    names = [next(data.glob(f"{stem}_jpg.rf.*.jpg")).name for stem in ("00041", "00085", "00107", "00422")]
    _link(data, names, ds, "train", rows, "gloves-ppe")
    (ds / "data.yaml").write_text("train: images/train\nnames:\n  0: hand\n")
    write_manifest(ds / "manifest.csv", rows)
    return ds / "data.yaml"
