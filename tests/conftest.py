"""Shared fixtures: real data and weights from ../shared, the Ultralytics sample photos, no network.

Every test runs with outbound sockets blocked (connections to other hosts fail at once), so a
hidden download is a test failure rather than a hang.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HANDDET_SHARED", ROOT.parent / "shared")).resolve()


def pytest_configure(config):
    # Keep Ultralytics' settings and our build outputs out of the home folder and the repo.
    base = Path(os.environ.get("HANDDET_TEST_TMP", "/tmp/handdet-tests"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HANDDET_BUILD", str(base / "build"))
    os.environ.setdefault("YOLO_CONFIG_DIR", str(base / "ultralytics"))
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("HANDDET_WEIGHTS", str(SHARED / "weights"))
    os.environ.setdefault("HANDDET_DATA", str(SHARED / "data"))
    # Python subprocesses started by tests (training runs, CLI calls) get the same socket block.
    site = base / "netblock"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SUBPROCESS_BLOCK)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


_SUBPROCESS_BLOCK = """
import socket

_real_connect = socket.socket.connect


def _guarded(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family == socket.AF_UNIX or str(host).startswith(("127.", "::1", "localhost", "0.0.0.0")):
        return _real_connect(self, address)
    raise RuntimeError(f"network access attempted in a test subprocess: connect({address!r})")


socket.socket.connect = _guarded
"""


class NetworkBlocked(RuntimeError):
    pass


_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail loudly on any connection to a non-local address (and on DNS look-ups of other hosts)."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family == socket.AF_UNIX or str(host).startswith(_LOCAL):
            return real_connect(self, address)
        raise NetworkBlocked(f"network access attempted in a test: connect({address!r})")

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host is None or str(host).startswith(_LOCAL):
            return real_getaddrinfo(host, *args, **kwargs)
        raise NetworkBlocked(f"network access attempted in a test: getaddrinfo({host!r})")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: guarded_connect(
        socket.socket(), address))
    yield


def _present(p: Path, what: str = "") -> Path:
    """`p`, or skip the test that needs it when it is not there."""
    if not p.exists():
        pytest.skip(f"{p} not present{what}")
    return p


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _present(SHARED, " (the project's shared data folder)")


@pytest.fixture(scope="session")
def subhi_voc(shared_dir) -> Path:
    """The real SubhiH hands dataset in Pascal VOC (train/ and test/ folders of jpg + xml)."""
    return _present(shared_dir / "data" / "subhi-hands-voc")


@pytest.fixture(scope="session")
def coco_weights(shared_dir) -> Path:
    """The COCO-pretrained YOLOv8n checkpoint (80 classes; class 0 is person)."""
    return _present(shared_dir / "weights" / "yolov8n-coco.pt")


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    """Real photos that ship inside ultralytics: zidane.jpg (two people, hands visible), bus.jpg."""
    spec = importlib.util.find_spec("ultralytics")
    assert spec and spec.origin, "ultralytics is not installed"
    return Path(spec.origin).parent / "assets"


@pytest.fixture(scope="session")
def zidane(assets_dir) -> Path:
    return assets_dir / "zidane.jpg"


@pytest.fixture(scope="session")
def tiny_voc(subhi_voc, tmp_path_factory) -> Path:
    """32 real SubhiH photos (jpg + VOC xml, linked) from several webcam sequences."""
    out = tmp_path_factory.mktemp("tiny_voc")
    xmls = sorted((subhi_voc / "train").glob("*.xml"))
    picked = xmls[::max(1, len(xmls) // 32)][:32]
    for x in picked:
        for f in (x, x.with_suffix(".jpg")):
            (out / f.name).symlink_to(f)
    return out


@pytest.fixture(scope="session")
def tiny_yolo(tiny_voc, tmp_path_factory) -> Path:
    """`tiny_voc` converted to a YOLO dataset (train/val grouped by sequence); returns its data.yaml."""
    from handdet.data.convert import convert

    out = tmp_path_factory.mktemp("tiny_yolo") / "ds"
    report = convert("voc", tiny_voc, out, group=r"^(.+)_pic", ratios={"train": 0.75, "val": 0.25}, seed=0)
    return Path(report.data_yaml)


@pytest.fixture
def fake_mediapipe(monkeypatch):
    """Replaces the MediaPipe run with a fixed answer per file stem (`fake.hands`, default no hand) and records
    each run's photo list in `fake.runs`. MediaPipe itself runs in its own environment made by `make bench`
    (pip), so tests never run it."""
    from types import SimpleNamespace

    from handdet.bench import vs_mediapipe as vs

    fake = SimpleNamespace(runs=[], hands={}, wh=(100, 100))

    def run(listing, out_json, video, work, log):
        from handdet.data.yolo_dataset import image_size

        paths = listing.read_text().splitlines()
        fake.runs.append(paths)
        rows = [{"path": p, **dict(zip("wh", image_size(p) if p.endswith(".jpg") else fake.wh, strict=True)),
                 "latency_ms": 20.0, "hands": fake.hands.get(Path(p).stem, [])} for p in paths]
        out_json.write_text(json.dumps({"mediapipe": "0.0-fake", "min_detection_confidence": 0.5, "images": rows}))

    monkeypatch.setattr(vs, "_run_script", run)
    return fake
