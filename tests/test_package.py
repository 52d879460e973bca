"""The package itself: importing it is cheap, and the CLI answers without heavy imports."""

from __future__ import annotations

import subprocess
import sys


def run_py(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_import_handdet_does_not_import_torch_or_ultralytics():
    out = run_py("import sys, handdet, handdet.core.detections, handdet.core.boxes, handdet.data.yolo_dataset; "
                 "print(sorted(m for m in ('torch', 'ultralytics', 'onnxruntime', 'cv2') if m in sys.modules))")
    assert out.strip() == "[]"


def test_cli_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "handdet", "--help"], capture_output=True, text=True).stdout
    for cmd in ("synth", "convert", "train", "eval", "predict", "export", "webcam", "prepare", "compose", "glove",
                "mine", "loso", "average"):
        assert cmd in out, cmd


def test_version():
    from handdet import __version__
    from handdet.cli import main

    assert main(["--version"]) == 0
    assert __version__.count(".") == 2


def test_usage_error_is_a_message_not_a_traceback(capsys):
    from handdet.cli import main

    assert main(["convert", "voc"]) == 2
    err = capsys.readouterr().err
    assert "Missing argument" in err and "Traceback" not in err


def test_subprocesses_cannot_reach_the_network():
    out = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('93.184.216.34', 80), 3)"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "network access attempted in a test subprocess" in out.stderr
