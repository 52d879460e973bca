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
