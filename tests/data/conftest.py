"""Builders for the data tests: tiny real images and Pascal VOC files written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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
    """VOC XML; each object dict has name, box (4 values written verbatim), optional difficult."""
    size = f"<size><width>{wh[0]}</width><height>{wh[1]}</height><depth>3</depth></size>" if wh else ""
    objs = ""
    for o in objects:
        tags = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), o["box"], strict=True)
                       if v is not None)
        objs += (f"<object><name>{o['name']}</name><difficult>{o.get('difficult', 0)}</difficult>"
                 f"<bndbox>{tags}</bndbox></object>")
    return f"<annotation><filename>{filename}</filename>{size}{objs}</annotation>"


def write_voc(folder: Path, stem: str, wh=(64, 48), objects=(), image_fmt=".jpg", seed=0) -> Path:
    """An image `stem.jpg` and its `stem.xml` in `folder`; returns the XML path."""
    make_image(folder / f"{stem}.jpg", wh, image_fmt, seed)
    xml = folder / f"{stem}.xml"
    xml.write_text(voc_text(f"{stem}.jpg", wh, list(objects)))
    return xml


HAND = {"name": "hand", "box": (10, 10, 30, 30)}


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

    return types.SimpleNamespace(make_image=make_image, voc_text=voc_text, write_voc=write_voc, HAND=HAND)
