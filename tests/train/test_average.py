"""`handdet average`: the mean of real checkpoints' weights, a model that loads and finds hands, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handdet.cli import main
from handdet.core.errors import WeightsError
from handdet.core.paths import SHIPPED_PT
from handdet.train.average import average_checkpoints, mix_weights, parse_mix

pytestmark = pytest.mark.skipif(not SHIPPED_PT.is_file(), reason="weights/handdet-n.pt not built yet")


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"].float().state_dict()


@pytest.fixture(scope="module")
def nudged(tmp_path_factory):
    """The shipped checkpoint with every float tensor moved by a seeded random amount: a second model."""
    ckpt = torch.load(SHIPPED_PT, map_location="cpu", weights_only=False)
    model = ckpt["model"].float()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(0.01 * torch.randn(t.shape, generator=g))
    ckpt["model"] = model.half()
    path = tmp_path_factory.mktemp("nudged") / "nudged.pt"
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def hand_photos(shared_dir):
    paths = sorted((shared_dir / "data" / "asl-letters").rglob("*.jpg"))[:4]
    if len(paths) < 4:
        pytest.skip("no ASL photos in ../shared/data/asl-letters")
    return [cv2.imread(str(p)) for p in paths]


def test_mixing_weights_are_normalised_and_checked():
    assert mix_weights(None, 4) == [0.25] * 4
    assert mix_weights([1, 3], 2) == [0.25, 0.75]
    assert parse_mix("3,1") == [3.0, 1.0] and parse_mix(None) is None
    with pytest.raises(WeightsError, match="not comma-separated numbers"):
        parse_mix("3;1")
    with pytest.raises(WeightsError, match="need 2 numbers, one per checkpoint"):
        mix_weights([1.0], 2)
    assert mix_weights([0, 2], 2) == [0.0, 1.0]  # a graft: nothing of the first (with `only`)
    with pytest.raises(WeightsError, match="none negative and not all zero"):
        mix_weights([0.0, 0.0], 2)
    with pytest.raises(WeightsError, match="none negative"):
        mix_weights([2.0, -1.0], 2)
    with pytest.raises(WeightsError, match="at least two"):
        mix_weights(None, 1)


def test_average_is_the_weighted_mean_of_every_tensor(nudged, tmp_path):
    out = average_checkpoints([SHIPPED_PT, nudged], tmp_path / "soup.pt", weights=[1, 3])
    a, b, got = _state(SHIPPED_PT), _state(nudged), _state(out)
    assert got.keys() == a.keys()
    moved = 0
    for k, v in got.items():
        if v.is_floating_point():
            want = (0.25 * a[k] + 0.75 * b[k]).half().float()  # stored in FP16, as Ultralytics stores a finished run
            assert torch.allclose(v, want, atol=1e-3, rtol=1e-3), k
            moved += not torch.equal(v, a[k])
        else:
            assert torch.equal(v, a[k])
    assert moved > 100  # the soup is not either input
    ckpt = torch.load(out, map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is None and ckpt["ema"] is None and ckpt["model"].names == {0: "hand"}
    assert [r["weight"] for r in ckpt["handdet_average"]] == [0.25, 0.75]
    assert ckpt["handdet_average"][1]["path"] == str(nudged)


def test_a_model_averaged_with_itself_finds_the_same_hands(tmp_path, hand_photos):
    from handdet.infer.predictor import PredictorSettings, load_predictor

    out = average_checkpoints([SHIPPED_PT, SHIPPED_PT], tmp_path / "self.pt")
    settings = PredictorSettings(conf=0.5)
    shipped, soup = load_predictor(SHIPPED_PT, settings=settings), load_predictor(out, settings=settings)
    found = 0
    for im in hand_photos:
        want, got = shipped(im), soup(im)
        assert len(got) == len(want)
        assert np.allclose(got.xyxy, want.xyxy, atol=1.0) and np.allclose(got.confidence, want.confidence, atol=0.01)
        found += len(got) >= 1
    assert found == len(hand_photos)  # a hand in each ASL photo


def test_only_averages_the_named_layers_and_keeps_the_rest_of_the_first(nudged, tmp_path):
    out = average_checkpoints([SHIPPED_PT, nudged], tmp_path / "graft.pt", weights=[0, 1], only=["model.22.cv2"])
    a, b, got = _state(SHIPPED_PT), _state(nudged), _state(out)
    branch = [k for k in got if k.startswith("model.22.cv2")]
    assert len(branch) > 10
    for k, v in got.items():
        if not v.is_floating_point():
            assert torch.equal(v, a[k])
            continue
        want = b[k] if k in branch else a[k]
        assert torch.allclose(v, want.half().float(), atol=1e-3, rtol=1e-3), k
    assert torch.load(out, map_location="cpu", weights_only=False)["handdet_average"][1]["only"] == ["model.22.cv2"]
    with pytest.raises(WeightsError, match="--only model.99: no layer of"):
        average_checkpoints([SHIPPED_PT, nudged], tmp_path / "none.pt", only=["model.99"])
    assert not (tmp_path / "none.pt").exists()


def test_a_grafted_box_branch_moves_the_boxes_not_the_scores(nudged, tmp_path, hand_photos):
    """The box branch (cv2) and the scores (cv3) are separate branches of the head: a graft of another box branch
    keeps every photo's best score, so the hand-free photos that fire stay the same, and moves its boxes."""
    from handdet.infer.predictor import PredictorSettings, load_predictor

    out = average_checkpoints([SHIPPED_PT, nudged], tmp_path / "graft.pt", weights=[0, 1], only=["model.22.cv2"])
    settings = PredictorSettings(conf=0.25)
    shipped, graft = load_predictor(SHIPPED_PT, settings=settings), load_predictor(out, settings=settings)
    moved = 0
    for im in hand_photos:
        want, got = shipped(im), graft(im)
        assert len(want) >= 1 and len(got) >= 1
        assert got.confidence.max() == pytest.approx(want.confidence.max(), abs=1e-3)
        moved += not np.allclose(got.xyxy[0], want.xyxy[0], atol=0.5)
    assert moved >= 1


def test_inputs_of_different_seeds_are_averaged_with_a_warning(tmp_path, capsys):
    """Their random new layers started apart: the mean can be a broken model (measured on a fold), so say so."""
    ckpt = torch.load(SHIPPED_PT, map_location="cpu", weights_only=False)
    assert ckpt["train_args"]["seed"] == 0
    ckpt["train_args"] = {**ckpt["train_args"], "seed": 1}
    other = tmp_path / "seed1.pt"
    torch.save(ckpt, other)
    assert main(["average", str(SHIPPED_PT), str(other), "-o", str(tmp_path / "soup.pt")]) == 0
    out = capsys.readouterr().out
    assert "warning: the checkpoints were trained with different seeds (0, 1)" in out
    assert main(["average", str(SHIPPED_PT), str(SHIPPED_PT), "-o", str(tmp_path / "same.pt")]) == 0
    assert "warning" not in capsys.readouterr().out


def test_another_architecture_is_refused_with_the_files_name(coco_weights, tmp_path):
    out = tmp_path / "soup.pt"
    with pytest.raises(WeightsError, match=r"yolov8n-coco\.pt: (classes|another architecture)"):
        average_checkpoints([SHIPPED_PT, coco_weights], out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_truncated_checkpoint_is_one_line_and_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(SHIPPED_PT.read_bytes()[:1000])
    out = tmp_path / "soup.pt"
    assert main(["average", str(SHIPPED_PT), str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("handdet: error:") and "bad.pt" in err and "\n" not in err
    assert not out.exists()


def test_cli_bad_weights_are_one_line(tmp_path, capsys):
    out = tmp_path / "soup.pt"
    assert main(["average", str(SHIPPED_PT), str(SHIPPED_PT), "-o", str(out), "--weights", "1,x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("handdet: error: mixing weights '1,x'") and "\n" not in err and not out.exists()


def test_cli_writes_the_soup_and_says_what_went_in(nudged, tmp_path, capsys):
    out = tmp_path / "soup.pt"
    assert main(["average", str(SHIPPED_PT), str(nudged), "-o", str(out), "--weights", "1,1"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("handdet average: 2 checkpoints") and str(out) in line and "0.50" in line
    assert torch.load(out, map_location="cpu", weights_only=False)["handdet_average"][0]["weight"] == 0.5
    assert main(["average", str(SHIPPED_PT), str(nudged), "-o", str(out), "--weights", "0,1",
                 "--only", "model.22.cv2"]) == 0
    assert "checkpoints of model.22.cv2 (" in capsys.readouterr().out.strip().splitlines()[-1]
