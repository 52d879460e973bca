"""Validation: every problem kind from a real defective file, with strict mode leaving no output."""

from __future__ import annotations

import numpy as np
import pytest

from handdet.core.errors import DataError
from handdet.data.convert import convert
from handdet.data.records import ProblemKind
from handdet.data.validate import check_boxes, check_image, duplicates


def _truncated(build, src):
    p = build.make_image(src / "bad.jpg", (96, 96))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    (src / "bad.xml").write_text(build.voc_text("bad.jpg", (96, 96), [build.HAND]))


def _zero_bytes(build, src):
    (src / "bad.jpg").write_bytes(b"")
    (src / "bad.xml").write_text(build.voc_text("bad.jpg", (64, 48), [build.HAND]))


def _not_an_image(build, src):
    (src / "bad.jpg").write_text("hello")
    (src / "bad.xml").write_text(build.voc_text("bad.jpg", (64, 48), [build.HAND]))


def _png_named_jpg(build, src):
    build.write_voc(src, "bad", objects=[build.HAND], image_fmt=".png")


def _xml_does_not_parse(build, src):
    build.make_image(src / "bad.jpg")
    (src / "bad.xml").write_text("<annotation><object>")


def _missing_bndbox_field(build, src):
    build.write_voc(src, "bad", objects=[{"name": "hand", "box": (1, 2, None, 9)}])


def _unknown_class(build, src):
    build.write_voc(src, "bad", objects=[{"name": "foot", "box": (1, 2, 20, 20)}])


def _size_mismatch(build, src):
    build.make_image(src / "bad.jpg", (64, 48))
    (src / "bad.xml").write_text(build.voc_text("bad.jpg", (640, 480), [build.HAND]))


def _box_outside(build, src):
    build.write_voc(src, "bad", objects=[{"name": "hand", "box": (50, 40, 90, 60)}])


def _zero_area(build, src):
    build.write_voc(src, "bad", objects=[{"name": "hand", "box": (10, 10, 10, 30)}])


def _nan(build, src):
    build.write_voc(src, "bad", objects=[{"name": "hand", "box": ("nan", 1, 5, 5)}])


def _duplicate(build, src):
    build.write_voc(src, "bad", objects=[build.HAND, build.HAND])


def _image_without_xml(build, src):
    build.make_image(src / "bad.jpg")


def _xml_without_image(build, src):
    (src / "bad.xml").write_text(build.voc_text("bad.jpg", (64, 48), [build.HAND]))


CASES = [
    # (builder, kind, message fragment, does --strict fail?)
    (_truncated, ProblemKind.UNREADABLE_IMAGE, "truncated", True),
    (_zero_bytes, ProblemKind.UNREADABLE_IMAGE, "empty file", True),
    (_not_an_image, ProblemKind.UNREADABLE_IMAGE, "not an image", True),
    (_png_named_jpg, ProblemKind.SUFFIX_MISMATCH, "PNG data in a .jpg file", False),
    (_xml_does_not_parse, ProblemKind.BAD_ANNOTATION, "does not parse", True),
    (_missing_bndbox_field, ProblemKind.BAD_ANNOTATION, "lacks <xmax>", True),
    (_unknown_class, ProblemKind.UNKNOWN_CLASS, "unknown class 'foot'", True),
    (_size_mismatch, ProblemKind.SIZE_MISMATCH, "annotation says 640x480, image is 64x48", True),
    (_box_outside, ProblemKind.BOX_CLIPPED, "outside the 64x48 image; clipped", True),
    (_zero_area, ProblemKind.EMPTY_BOX, "no area", True),
    (_nan, ProblemKind.NON_FINITE, "non-finite", True),
    (_duplicate, ProblemKind.DUPLICATE_BOX, "repeats an earlier box", True),
    (_image_without_xml, ProblemKind.MISSING_LABEL, "no VOC annotation", True),
    (_xml_without_image, ProblemKind.MISSING_IMAGE, "no image found", True),
]


@pytest.mark.parametrize("builder, kind, fragment, strict_fails", CASES, ids=[c[0].__name__[1:] for c in CASES])
def test_problem_table(build, voc_dir, tmp_path, builder, kind, fragment, strict_fails):
    builder(build, voc_dir)
    out = tmp_path / "out"
    rep = convert("voc", voc_dir, out, class_map={"hand": "hand"}, ratios={"train": 1.0}, progress=False)
    found = [p for p in rep.problems if p.kind == kind]
    assert len(found) == 1 and fragment in found[0].message, rep.problems
    assert found[0].file.stem == "bad"
    assert rep.split_sizes["train"] >= 2  # the good images still convert

    strict_out = tmp_path / "strict"
    if strict_fails:
        with pytest.raises(DataError) as e:
            convert("voc", voc_dir, strict_out, class_map={"hand": "hand"}, ratios={"train": 1.0}, strict=True,
                    progress=False)
        msg = str(e.value)
        assert "bad." in msg and kind.value in msg and "\n" not in msg
        assert not strict_out.exists()
        assert not list(tmp_path.glob(".strict*"))  # no temp folder left either
    else:
        convert("voc", voc_dir, strict_out, ratios={"train": 1.0}, strict=True, progress=False)
        assert (strict_out / "data.yaml").is_file()


def test_escaping_path_fails_even_without_strict(build, voc_dir, tmp_path):
    (voc_dir / "evil.xml").write_text(build.voc_text("../../outside.jpg", (64, 48), [build.HAND]))
    with pytest.raises(DataError, match="evil.xml.*outside the dataset folder"):
        convert("voc", voc_dir, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_failure_leaves_existing_output_untouched(build, voc_dir, tmp_path):
    out = tmp_path / "out"
    convert("voc", voc_dir, out, ratios={"train": 1.0}, progress=False)
    before = sorted(p.name for p in out.rglob("*"))
    _unknown_class(build, voc_dir)
    with pytest.raises(DataError):
        convert("voc", voc_dir, out, class_map={"hand": "hand"}, strict=True, progress=False)
    assert sorted(p.name for p in out.rglob("*")) == before


@pytest.mark.parametrize(
    "xyxy, wh, keep, kinds, clipped",
    [
        (np.zeros((0, 4)), (10, 10), [], [], np.zeros((0, 4))),  # empty
        ([[1, 1, 5, 5]], (10, 10), [True], [], [[1, 1, 5, 5]]),  # inside
        ([[-0.5, 0, 10.8, 10]], (10, 10), [True], [], [[0, 0, 10, 10]]),  # within 1 px tolerance: silent clip
        ([[-5, 2, 4, 8]], (10, 10), [True], ["box_clipped"], [[0, 2, 4, 8]]),
        ([[12, 2, 20, 8]], (10, 10), [False], ["empty_box"], [[10, 2, 10, 8]]),  # entirely outside
        ([[5, 5, 3, 8]], (10, 10), [False], ["empty_box"], [[5, 5, 3, 8]]),  # inverted
        ([[np.inf, 0, 1, 1]], (10, 10), [False], ["non_finite"], [[0, 0, 0, 0]]),
    ],
)
def test_check_boxes(xyxy, wh, keep, kinds, clipped, tmp_path):
    out, k, probs = check_boxes(np.asarray(xyxy, float), wh, tmp_path / "a.xml")
    assert k.tolist() == keep
    assert [p.kind.value for p in probs] == kinds
    np.testing.assert_allclose(out, np.asarray(clipped, float).reshape(-1, 4))


@pytest.mark.parametrize(
    "xyxy, cls, dup",
    [
        ([], [], []),
        ([[0, 0, 5, 5]], [0], [False]),
        ([[0, 0, 5, 5], [0, 0, 5, 5], [0, 0, 5, 5]], [0, 0, 0], [False, True, True]),
        ([[0, 0, 5, 5], [0, 0, 5, 5]], [0, 1], [False, False]),  # same box, other class: both kept
        ([[0, 0, 5, 5], [0.3, 0, 5, 5.2]], [0, 0], [False, True]),  # within 0.5 px
        ([[0, 0, 5, 5], [1, 0, 5, 5]], [0, 0], [False, False]),
    ],
)
def test_duplicates(xyxy, cls, dup):
    assert duplicates(np.asarray(xyxy, float).reshape(-1, 4), np.asarray(cls, np.int64)).tolist() == dup


def test_check_image_reports_exif_rotated_size(tmp_path):
    from PIL import Image

    im = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    im.save(tmp_path / "r.jpg", exif=exif)
    size, probs = check_image(tmp_path / "r.jpg")
    assert size == (20, 40) and probs == []
