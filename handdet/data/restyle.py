"""Restyle a YOLO dataset's hand boxes to end at the wrist, as photos boxed "to the wrist" draw them.

    report = restyle_to_wrist("build/datasets/multi-xxxx/data.yaml", "build/wrist")

The hand sources box the hand and some forearm past the wrist (a fifth to half a palm: `box_style.wrist_style`),
and a detector learns that style. On photos boxed to the wrist its boxes run long, which costs at strict IoU
(`handdet bench`'s "cut at MediaPipe's wrist" rows). This copy of a dataset has each hand box cut through the
wrist MediaPipe Hands finds for it (`box_style.gts_to_wrist`, in MediaPipe's own environment as for `handdet
bench`); a box MediaPipe finds no hand for stays as drawn. Images are linked, labels rewritten, the manifest
kept: an ordinary YOLO dataset for `handdet train` (`data.source: OUT/data.yaml`) and `handdet eval`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from handdet.core.errors import DataError

KEPT_FILES = ("manifest.csv", "sources.json")  # (tuple) a multi-source dataset's files, copied as they are
REPORT_NAME = "restyle_report.json"


@dataclass
class RestyleReport:
    """What `restyle_to_wrist` did, per image folder (a split, or splits sharing one): boxes read and cut."""

    out: str
    data_yaml: str
    reach: float
    images: int = 0
    boxes: dict[str, int] = field(default_factory=dict)
    cut: dict[str, int] = field(default_factory=dict)

    def summary_line(self) -> str:
        per = ", ".join(f"{s} {self.cut[s]:,} of {self.boxes[s]:,}" for s in self.boxes)
        return (f"handdet restyle: {self.images:,} images, hand boxes cut at MediaPipe's wrist "
                f"(+{self.reach:g} palm): {per or 'none'} -> {self.data_yaml}")


def restyle_to_wrist(data_yaml: str | os.PathLike, out: str | os.PathLike, reach: float = 0.0,
                     work: str | os.PathLike | None = None, overwrite: bool = False, log=print) -> RestyleReport:
    """Write a copy of the dataset of `data_yaml` to `out` with its hand boxes cut at the wrist (atomically).

    Args:
        data_yaml: a YOLO data.yaml whose splits are folders (`handdet prepare`'s layout: images/{split}).
        out: the output folder; it must not exist unless `overwrite`.
        reach: where the cut lies, in palm lengths past the wrist (0: through it).
        work: folder of MediaPipe's environment and cached runs (default `<build>/bench`, the bench's).
        overwrite: replace `out` if it exists.

    Raises:
        DataError: unusable data.yaml, a split that is not a folder of `images/`, `out` exists.
        HanddetError: MediaPipe cannot be installed or run.
    """
    import numpy as np
    import yaml

    from handdet.bench.vs_mediapipe import hand_landmarks, run_mediapipe
    from handdet.core.atomic import atomic_dir
    from handdet.core.paths import build_dir
    from handdet.data.writer import LinkMode, label_lines, make_split_dirs, place_image
    from handdet.data.yolo_dataset import image_size, label_path_for, read_data_yaml, read_labels
    from handdet.eval.box_style import gts_to_wrist

    info = read_data_yaml(data_yaml)
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(f"{out}: already exists (use --overwrite to replace it)")
    if out.resolve() == info.root:
        raise DataError(f"{out}: is the dataset itself; write the restyled copy elsewhere")
    raw = yaml.safe_load(info.yaml_path.read_text())
    folders: dict[str, list[Path]] = {}  # images/NAME -> its images (two splits may share one folder)
    for split in info.splits:
        entry = raw.get(split)
        if not (isinstance(entry, str) and re.fullmatch(r"images/[\w.-]+", entry)):
            raise DataError(f"{info.yaml_path}: split '{split}' is not a folder images/NAME (restyle copies a "
                            "dataset in handdet prepare's layout)")
        folders[entry.split("/", 1)[1]] = info.images(split)
    work = Path(work) if work is not None else build_dir() / "bench"
    report = RestyleReport(out=str(out), data_yaml=str(out / "data.yaml"), reach=reach)
    with atomic_dir(out) as tmp:
        make_split_dirs(tmp, list(folders))
        # no `path:` key, so the copy's splits are its own folders, wherever the source's root was
        (tmp / "data.yaml").write_text(yaml.safe_dump({k: v for k, v in raw.items() if k != "path"}, sort_keys=False))
        for name in KEPT_FILES:
            if (info.root / name).is_file():
                shutil.copyfile(info.root / name, tmp / name)
        for split, images in folders.items():
            truth = []  # per image: (ground truth, (w, h))
            for im in images:
                place_image(im, tmp / "images" / split / im.name, LinkMode.SYMLINK)
                wh = image_size(im)
                truth.append((read_labels(label_path_for(im), wh), wh))
            # MediaPipe runs once per file with hands: weighted sources link one photo under several names
            real = [os.path.realpath(im) for im in images]
            asked = sorted({r for r, (gt, _) in zip(real, truth, strict=True) if len(gt)})
            rows = run_mediapipe(asked, work, log=log)["images"] if asked else []
            landmarks = dict(zip(asked, hand_landmarks(rows), strict=True))
            none = np.zeros((0, 0, 2))
            cut, n_cut = gts_to_wrist([gt for gt, _ in truth], [landmarks.get(r, none) for r in real], reach)
            for im, gt, (_, wh) in zip(images, cut, truth, strict=True):
                lines = label_lines(gt, wh)
                (tmp / "labels" / split / f"{im.stem}.txt").write_text("".join(f"{line}\n" for line in lines))
            report.images += len(images)
            report.boxes[split] = int(sum(len(gt) for gt, _ in truth))
            report.cut[split] = n_cut
            log(f"restyle: {split}: {n_cut:,} of {report.boxes[split]:,} hand boxes cut at the wrist")
        (tmp / REPORT_NAME).write_text(json.dumps({**asdict(report), "source": str(info.yaml_path),
                                                    "mediapipe_work": str(work)}, indent=1) + "\n")
    return report
