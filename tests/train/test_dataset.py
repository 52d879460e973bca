"""Training data resolution: a data.yaml as is, a VOC folder converted once, synthetic fallback."""

from __future__ import annotations

import re
from dataclasses import replace
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


def test_several_sources_are_built_once_and_reused(tiny_voc, build, tmp_path):
    """`data.sources` gives one dataset with a manifest, cached by settings; another seed is another dataset."""
    from handdet.data.manifest import read_manifest
    from handdet.train.config import SourceConfig

    free = tmp_path / "free"
    free.mkdir()
    for p in sorted(tiny_voc.glob("*.jpg"))[:4]:
        (free / p.name).symlink_to(p)  # stand-ins for a hand-free folder: the reader only lists images
    sources = [SourceConfig(str(tiny_voc), format="voc", group=r"^(.+)_pic"),
               SourceConfig(str(free), name="free", format="images", split={"test": 1.0})]
    logs: list[str] = []
    first = prepare_data(DataConfig(sources=sources), log=logs.append)
    assert first.is_relative_to(build) and first.parent.name.startswith("multi-")
    assert {r.source for r in read_manifest(first)} == {str(tiny_voc), "free"}
    assert any("sources" in line and "train" in line for line in logs), "the per-source table is printed"
    assert prepare_data(DataConfig(sources=sources), log=logs.append) == first
    assert "using multi-source dataset" in logs[-1]
    assert prepare_data(DataConfig(sources=sources, seed=1), log=logs.append) != first
    first_photo = sorted(tiny_voc.glob("*.jpg"))[0].stem
    some = [replace(sources[0], select=f"^(?!{re.escape(first_photo)}$)"), sources[1]]
    fewer = prepare_data(DataConfig(sources=some), log=logs.append)
    assert fewer != first, "a selection is another dataset"
    assert len(read_manifest(fewer)) == len(read_manifest(first)) - 1


def test_a_list_beside_the_config_is_found_from_anywhere_and_an_edit_rebuilds(tiny_voc, build, tmp_path,
                                                                              monkeypatch):
    """A config names a committed list of photos by a path relative to itself (as configs/handdet-n-r2.yaml
    names its mined photos); the dataset is rebuilt when the list changes, not only when the config does."""
    from handdet.data.manifest import read_manifest
    from handdet.train.config import load_train_config

    conf_dir = tmp_path / "project" / "configs"
    conf_dir.mkdir(parents=True)
    photos = sorted(tiny_voc.glob("*.jpg"))
    (tmp_path / "project" / "neg.txt").write_text(f"{photos[0]}\n")
    cfg = conf_dir / "c.yaml"
    cfg.write_text(f"data:\n  sources:\n    - {{source: {tiny_voc}, format: voc, group: '^(.+)_pic'}}\n"
                   "    - {source: ../neg.txt, name: neg, format: images, split: {train: 1.0}}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    first = prepare_data(load_train_config(cfg).data, log=lambda *a: None)
    assert sum(r.source == "neg" for r in read_manifest(first)) == 1
    (tmp_path / "project" / "neg.txt").write_text(f"{photos[0]}\n{photos[1]}\n")
    second = prepare_data(load_train_config(cfg).data, log=lambda *a: None)
    assert second != first and sum(r.source == "neg" for r in read_manifest(second)) == 2


def test_a_generated_set_remade_under_the_same_path_rebuilds(tiny_voc, tiny_yolo, build, tmp_path):
    """A source made by `handdet compose` or `handdet glove` is remade in place (`--overwrite`); its recipe
    says what it holds, so a new recipe rebuilds the dataset and the same recipe reuses it."""
    import shutil

    from handdet.train.config import SourceConfig

    gen = tmp_path / "gloved"
    shutil.copytree(tiny_yolo.parent, gen)
    (gen / "glove_recipe.json").write_text('{"version": 1, "params": {"seed": 0}}\n')
    sources = [SourceConfig(str(tiny_voc), format="voc", group=r"^(.+)_pic"),
               SourceConfig(str(gen), name="gloved", split={"train": 1.0})]
    first = prepare_data(DataConfig(sources=sources), log=lambda *a: None)
    assert prepare_data(DataConfig(sources=sources), log=lambda *a: None) == first
    (gen / "glove_recipe.json").write_text('{"version": 1, "params": {"seed": 1}}\n')
    assert prepare_data(DataConfig(sources=sources), log=lambda *a: None) != first


def test_prepare_command_prints_only_the_path_for_several_sources(tiny_voc, build, tmp_path, capsys):
    from handdet.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  sources:\n    - {{source: {tiny_voc}, format: voc, group: '^(.+)_pic'}}\n")
    assert main(["prepare", "--config", str(cfg), "--print-path"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].endswith("data.yaml") and Path(out[0]).is_file()
