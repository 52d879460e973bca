"""Training config: YAML -> typed dataclass, with errors that name the file and the key."""

from __future__ import annotations

import pytest

from handdet.core.errors import ConfigError
from handdet.train.config import TrainConfig, load_train_config


def write(tmp_path, text: str):
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_defaults_and_shipped_configs_load():
    from handdet.core.paths import PROJECT_ROOT

    assert load_train_config() == TrainConfig()
    paths = sorted((PROJECT_ROOT / "configs").rglob("*.yaml"))
    assert any(p.parent.name == "experiments" for p in paths), "the measured experiments' recipes load too"
    for path in paths:
        cfg = load_train_config(path)
        assert cfg.imgsz % 32 == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("epoch: 3\n", "unknown key 'epoch'"),  # typo of epochs
        ("epochs: three\n", "key 'epochs' expects int, got str"),
        ("epochs: true\n", "key 'epochs' expects int, got bool"),
        ("epochs: 0\n", "epochs must be >= 1"),
        ("imgsz: 300\n", "imgsz must be a multiple of 32"),
        ("augment: {scal: 0.5}\n", "unknown key 'augment.scal'"),
        ("augment: {scale: big}\n", "key 'augment.scale' expects float"),
        ("data: {sourc: x}\n", "unknown key 'data.sourc'"),
        ("data: [1, 2]\n", "'data' must be a mapping"),
        ("albumentations: [{p: 0.1}]\n", "albumentations[0] must be a mapping with a 'name'"),
        ("albumentations: [{name: NoSuchBlur}]\n", "unknown transform 'NoSuchBlur'"),
        ("extra: {epochs: 3}\n", "extra: 'epochs' has its own config key"),
        ("epochs: [3\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_train_config(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_train_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "overrides, check",
    [
        (["epochs=7"], lambda c: c.epochs == 7),
        (["augment.scale=0.9", "imgsz=64"], lambda c: c.augment.scale == 0.9 and c.imgsz == 64),
        (["data.source=synth", "data.negatives=0"], lambda c: c.data.source == "synth" and c.data.negatives == 0.0),
        (["extra.warmup_epochs=0"], lambda c: c.extra == {"warmup_epochs": 0}),
        (["batch=null"], lambda c: c.batch is None),
    ],
)
def test_overrides(tmp_path, overrides, check):
    cfg = load_train_config(write(tmp_path, "epochs: 2\n"), overrides)
    assert check(cfg)


@pytest.mark.parametrize("item, message", [("epochs", "expected key=value"), ("nokey=1", "unknown key 'nokey'")])
def test_bad_override(item, message):
    with pytest.raises(ConfigError, match=message):
        load_train_config(None, [item])


def test_extends_merges_mappings_and_replaces_lists(tmp_path):
    """A config extends another beside it: scalars and lists replace, mappings merge key by key, and a source
    given as a path relative to the base config is found from the base's folder."""
    (tmp_path / "mined.txt").write_text("")
    (tmp_path / "base.yaml").write_text(
        "epochs: 5\nimgsz: 320\naugment: {scale: 0.8, mixup: 0.1}\n"
        "albumentations: [{name: Blur, p: 0.1}, {name: ToGray, p: 0.05}]\n"
        "data: {sources: [{source: asl-letters}, {source: mined.txt, format: images}]}\n"
    )
    (tmp_path / "exp").mkdir()
    child = tmp_path / "exp" / "child.yaml"
    child.write_text("extends: ../base.yaml\nepochs: 2\naugment: {mixup: 0.0}\nalbumentations: [{name: CLAHE, p: 0.05}]\n")
    cfg = load_train_config(child)
    assert (cfg.epochs, cfg.imgsz) == (2, 320)
    assert (cfg.augment.scale, cfg.augment.mixup) == (0.8, 0.0)
    assert [a["name"] for a in cfg.albumentations] == ["CLAHE"]
    assert [s.source for s in cfg.data.sources] == ["asl-letters", str((tmp_path / "mined.txt").resolve())]
    assert cfg.data.sources[1].label == "mined.txt"
    assert load_train_config(child, ["epochs=4"]).epochs == 4


@pytest.mark.parametrize(
    "files, message",
    [
        ({"cfg.yaml": "extends: nope.yaml\n"}, "'extends: nope.yaml' must name a config file beside this one"),
        ({"cfg.yaml": "extends: [a.yaml]\n"}, "must name a config file"),
        ({"cfg.yaml": "extends: b.yaml\n", "b.yaml": "extends: cfg.yaml\n"}, "'extends' leads back to this file"),
        ({"cfg.yaml": "extends: b.yaml\n", "b.yaml": "epoch: 3\n"}, "unknown key 'epoch'"),
    ],
)
def test_bad_extends_is_one_clear_error(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as e:
        load_train_config(tmp_path / "cfg.yaml")
    assert message in str(e.value)
    assert "cfg.yaml" in str(e.value) and "\n" not in str(e.value)
