"""Training data resolution: a data.yaml as is, a VOC folder converted once, synthetic fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from handdet.core.errors import DataError
from handdet.data.yolo_dataset import read_data_yaml
from handdet.train.config import DataConfig
from handdet.train.dataset import prepare_data


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDDET_BUILD", str(tmp_path / "build"))
    return tmp_path / "build"


def test_data_yaml_is_used_as_is(tiny_yolo, build):
    assert prepare_data(DataConfig(source=str(tiny_yolo))) == tiny_yolo
    assert prepare_data(DataConfig(source=str(tiny_yolo.parent))) == tiny_yolo


def test_voc_folder_is_converted_once_and_reused(tiny_voc, build):
    logs: list[str] = []
    cfg = DataConfig(source=str(tiny_voc), negatives=0.0)
    first = prepare_data(cfg, log=logs.append)
    assert first.is_relative_to(build) and len(read_data_yaml(first).images("train")) > 0
    assert prepare_data(cfg, log=logs.append) == first
    assert any("using converted dataset" in line for line in logs)
    # Another split seed is another dataset.
    assert prepare_data(DataConfig(source=str(tiny_voc), negatives=0.0, seed=1)) != first


def test_dataset_name_found_in_data_dir(subhi_voc, build):
    data = prepare_data(DataConfig(source="subhi-hands-voc", negatives=0.0), data_root=subhi_voc.parent)
    info = read_data_yaml(data)
    assert len(info.images("train")) + len(info.images("val")) == 1557


def test_missing_dataset_falls_back_to_synthetic_with_one_line(tmp_path, build):
    logs: list[str] = []
    cfg = DataConfig(source="subhi-hands-voc", synth_images=12, negatives=0.0, download=False)
    data = prepare_data(cfg, data_root=tmp_path / "empty", log=logs.append)
    assert data.is_relative_to(build) and "synth" in str(read_data_yaml(data).images("train")[0])
    assert len(logs) == 1 and "falling back to the built-in 'synth' dataset" in logs[0] and "\n" not in logs[0]


def test_missing_dataset_without_fallback_is_an_error(tmp_path, build):
    with pytest.raises(DataError, match="nothere: dataset not found"):
        prepare_data(DataConfig(source="nothere", fallback=None), data_root=tmp_path)


def test_prepare_command_prints_path(tiny_yolo, capsys):
    from handdet.cli import main

    assert main(["prepare", f"data.source={tiny_yolo}", "--print-path"]) == 0
    assert Path(capsys.readouterr().out.strip()) == tiny_yolo
