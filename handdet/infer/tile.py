"""Tiled inference for large frames: the full frame plus overlapping model-sized tiles, merged.

    handdet predict weights/handdet-n.onnx shopfloor.jpg --tile --tile-overlap 0.2

A 1280-1920 px frame letterboxed to 320 px shrinks a 40 px hand to 7-10 px, below what the model
finds. As SAHI does, the frame is also cut into tiles of the model's own input size, so each tile
runs at full resolution; boxes are mapped back to the frame and duplicates across tiles merged.

The merge (`merge_passes`) is a greedy NMS over the boxes of every pass (each tile and the full
frame) that also joins the pieces of a hand cut by a tile border. A hand straddling a border is
seen whole by a neighbouring tile (when it is narrower than the overlap) or by the full frame, and
as a truncated box by the tile it sticks out of. That piece and the whole box have a low IoU (a
half-hand against the hand is 0.5) but a high intersection over the smaller box (IoS, near 1).
Taking boxes best first, each takes into its group the remaining boxes of its class that

- overlap it with an IoU above `iou_threshold` (0.5: below the model's own NMS IoU of 0.7, which
  lets through pairs of boxes on one small hand at IoU 0.6; with tiling each such pair would be
  repeated by every tile that sees the hand), or
- lie inside it, or it inside them, by an IoS above `ios_threshold`, when either box touches an
  inner border of its tile (a tile side inside the frame): one of them is a cut piece.

A group keeps its best confidence. Its box is the best box itself when that one is whole; when the
best box is a cut piece, the whole box (touching no inner border) that overlaps it most, the hand the
piece belongs to rather than a looser box around it and a neighbour; with no whole box in the group,
the union of its pieces (the hand as two neighbouring tiles saw it). A group whose box grew that way
then also takes the remaining boxes that are the same hand as the grown box: the piece cut on the
hand's other side overlaps the first piece too little to join it, but the whole hand by IoU or IoS.

Why not SAHI's greedy NMM on IoS for every box: IoS is 1 for any box inside another, so two real
hands where one box sits inside the other (a hand held in front of a body, clasped hands) would
become one; limiting IoS to boxes cut by a border keeps that case as NMS treats it. Why not plain
NMS: a piece and its whole hand overlap with IoU about 0.3-0.6, so at NMS's usual 0.5-0.7 the piece
survives as a second detection.

Tiles count on people seen from afar. With a person model (the one the shipped model records,
`infer.person_anchor`), only the tiles that meet a person run, and the tiled frame keeps the merged boxes whose
centre lies on a person and, elsewhere, the full frame's own boxes (`tiles_on_people`): a tile at full resolution
scores textures the letterboxed frame scores low (a dog's paw, a daisy, a beer glass at 0.6), while the small hands
tiling is for are on people. A person whose box spans `CLOSE_UP` of the frame's longer side or more is a close-up:
no tile counts on them, since their hands are large enough untiled and a tile sees only parts of them (fingers
scored as hands). A photo with no person from afar runs untiled. Measured in weights/EXPERIMENTS.md, "Tiles count
on people".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from handdet.core.boxes import box_ios, box_iou, centres_inside
from handdet.core.detections import Detections
from handdet.core.errors import ConfigError
from handdet.infer.person_anchor import CLOSE_UP, PAD, people_from_afar, person_finder

DEFAULT_OVERLAP = 0.2  # (float) tile overlap, a fraction of the tile: SAHI's default; at 320 px a hand
# up to 64 px wide lies whole inside some tile
MAX_OVERLAP = 0.5  # (float) beyond this every pixel is in more than 4 tiles: cost without gain, since
# hands wider than half a tile are found by the full-frame pass
MERGE_IOU = 0.5  # (float) boxes with IoU above this are one hand; looser than the model's NMS (0.7): the
# full frame sees a small hand at a quarter of a tile's resolution and its box drifts, and one tile may
# keep two boxes on one small hand (IoU 0.6) that every other tile seeing the hand would repeat
MERGE_IOS = 0.6  # (float) a box cut by an inner tile border and another box are one hand when this much
# of the smaller lies inside the other: a cut piece scores 0.9-1.0 against its whole hand and 0.7-0.8
# against the other piece of a hand wider than the overlap (measured on gloves-ppe hands, 70-120 px)
MAX_BATCH = 16  # (int) images per batched call: bounds memory on 4K frames (299 tiles at overlap 0.5); larger
# batches gain nothing on CPU (measured: 15 tiles in one session.run 5% faster than one at a time)
CUT_MARGIN = 4  # (px) a box edge this close to an inner tile border counts as cut by it: the model's
# boxes of a truncated hand end 0-2 px short of the tile edge


def check_overlap(overlap: float) -> float:
    """`overlap` if it is a usable tile overlap, else a `ConfigError` naming the option."""
    if not 0.0 <= overlap <= MAX_OVERLAP:
        raise ConfigError(f"--tile-overlap must be between 0 and {MAX_OVERLAP}, got {overlap}")
    return float(overlap)


def tile_option(tile: bool, overlap: float | None) -> float | None:
    """The tile overlap that `--tile` and `--tile-overlap` ask for (None: no tiling), checked before anything
    slow: a `ConfigError` for an overlap without `--tile` or out of range."""
    if not tile:
        if overlap is not None:
            raise ConfigError("--tile-overlap applies to tiled inference: add --tile")
        return None
    return check_overlap(DEFAULT_OVERLAP if overlap is None else overlap)


def tile_windows(resolution_wh: tuple[int, int], tile: int, overlap: float = DEFAULT_OVERLAP) -> np.ndarray:
    """Overlapping square windows of side `tile` that cover a frame, row by row.

    Windows step by `round(tile * (1 - overlap))`; the last window of a row (column) is placed flush
    with the frame's right (bottom) edge, so it may overlap its neighbour more. A frame no larger
    than a tile along an axis gets one window along that axis, as wide (high) as the frame.

    Args:
        resolution_wh: (w, h) of the frame in pixels.
        tile: window side in pixels (the model's input size, so tiles run unscaled).
        overlap: fraction of a tile shared by neighbours, in [0, MAX_OVERLAP].

    Returns:
        (N, 4) int64 xyxy windows in frame pixels; (0, 4) for a frame with no pixels.

    Raises:
        ValueError: a negative size, a tile under 1 px, or an overlap out of range.
    """
    w, h = (int(v) for v in resolution_wh)
    if w < 0 or h < 0:
        raise ValueError(f"frame size must not be negative, got {resolution_wh}")
    if tile < 1:
        raise ValueError(f"tile must be at least 1 px, got {tile}")
    if not 0.0 <= overlap <= MAX_OVERLAP:
        raise ValueError(f"tile overlap must be between 0 and {MAX_OVERLAP}, got {overlap}")
    if w == 0 or h == 0:
        return np.zeros((0, 4), np.int64)
    step = max(1, round(tile * (1.0 - overlap)))
    xs, ys = _starts(w, tile, step), _starts(h, tile, step)
    x1, y1 = np.meshgrid(xs, ys)  # row by row: x varies fastest
    x1, y1 = x1.ravel(), y1.ravel()
    return np.stack([x1, y1, np.minimum(x1 + tile, w), np.minimum(y1 + tile, h)], axis=1).astype(np.int64)


def _starts(length: int, tile: int, step: int) -> np.ndarray:
    """Window starts along one axis: every `step`, then one flush with the end."""
    if length <= tile:
        return np.zeros(1, np.int64)
    starts = np.arange(0, length - tile, step)
    return np.append(starts, length - tile).astype(np.int64)


def to_frame(dets: Detections, window: np.ndarray) -> Detections:
    """Shift `Detections` found in a crop at `window` (xyxy in frame pixels) into frame pixels."""
    if len(dets) == 0:
        return Detections.empty()
    offset = np.asarray([window[0], window[1], window[0], window[1]], np.float32)
    return Detections(dets.xyxy + offset, dets.confidence, dets.class_id, dets.ignore)


def cut_by_border(xyxy: np.ndarray, window: np.ndarray, resolution_wh: tuple[int, int],
                  margin: float = CUT_MARGIN) -> np.ndarray:
    """Which boxes touch an inner border of their window: a side of it that lies inside the frame.

    Args:
        xyxy: (N, 4) boxes in frame pixels, found in the crop at `window`.
        window: (4,) xyxy window in frame pixels.
        resolution_wh: (w, h) of the frame.
        margin: a box edge within this many pixels of an inner border touches it.

    Returns:
        (N,) bool.
    """
    b = np.asarray(xyxy, np.float32).reshape(-1, 4)
    x1, y1, x2, y2 = (float(v) for v in window)
    w, h = resolution_wh
    cut = np.zeros(len(b), bool)
    if x1 > 0:
        cut |= b[:, 0] <= x1 + margin
    if y1 > 0:
        cut |= b[:, 1] <= y1 + margin
    if x2 < w:
        cut |= b[:, 2] >= x2 - margin
    if y2 < h:
        cut |= b[:, 3] >= y2 - margin
    return cut


def merge_passes(
    passes: list[Detections],
    cut: list[np.ndarray],
    iou_threshold: float = MERGE_IOU,
    ios_threshold: float = MERGE_IOS,
) -> Detections:
    """Merge the boxes of several passes over one frame (tiles, full frame) into one set, best first.

    See the module docstring for the rule.

    Args:
        passes: per pass, `Detections` in frame pixels.
        cut: per pass, (N_k,) bool: the box touches an inner tile border (all False for the full frame).
        iou_threshold: boxes with a higher IoU are one hand.
        ios_threshold: a cut box and another box with a higher intersection over the smaller box
            are one hand.

    Returns:
        `Detections` in frame pixels, by descending confidence.
    """
    if len(passes) != len(cut):
        raise ValueError(f"merge_passes: {len(passes)} passes but {len(cut)} cut masks")
    dets = Detections.merge(list(passes))
    is_cut = np.concatenate([np.asarray(c, bool).reshape(-1) for c in cut]) if cut else np.zeros(0, bool)
    if len(is_cut) != len(dets):
        raise ValueError(f"merge_passes: {len(dets)} boxes but {len(is_cut)} cut flags")
    if len(dets) == 0:
        return Detections.empty()
    xyxy, conf, cls = dets.xyxy, dets.confidence, dets.class_id
    alive = np.ones(len(dets), bool)
    out_xyxy, out_conf, out_cls = [], [], []
    for i in np.argsort(-conf, kind="stable"):
        if not alive[i]:
            continue
        alive[i] = False
        rest = np.flatnonzero(alive & (cls == cls[i]))
        iou, same = _same_hand(xyxy[i], is_cut[i], xyxy[rest], is_cut[rest], iou_threshold, ios_threshold)
        alive[rest[same]] = False
        whole, whole_iou = rest[same & ~is_cut[rest]], iou[same & ~is_cut[rest]]
        if not is_cut[i]:
            box = xyxy[i]
        else:
            if len(whole):
                box = xyxy[whole[np.argmax(whole_iou)]]
            else:
                g = xyxy[np.append(rest[same], i)]
                box = np.concatenate([g[:, :2].min(axis=0), g[:, 2:].max(axis=0)])
            # the hand is now `box`, wider than the piece: another piece of it (cut on the far side) is the same hand
            rest = np.flatnonzero(alive & (cls == cls[i]))
            alive[rest[_same_hand(box, False, xyxy[rest], is_cut[rest], iou_threshold, ios_threshold)[1]]] = False
        out_xyxy.append(box)
        out_conf.append(conf[i])
        out_cls.append(cls[i])
    return Detections(np.stack(out_xyxy), np.asarray(out_conf), np.asarray(out_cls))


def _same_hand(box: np.ndarray, box_cut: bool, others: np.ndarray, others_cut: np.ndarray, iou_threshold: float,
               ios_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(IoU with `box`, whether each of `others` is the same hand as `box`): IoU above the threshold, or, when
    either box is cut by a tile border, that much of the smaller inside the other."""
    iou = box_iou(box[None], others)[0]
    ios = box_ios(box[None], others)[0]
    return iou, (iou > iou_threshold) | ((box_cut | others_cut) & (ios > ios_threshold))


def windows_on_people(windows: np.ndarray, people: np.ndarray, pad: float = PAD) -> np.ndarray:
    """The `windows` (xyxy) that share pixels with a person of `people` (xyxy), each grown by `pad` of its size as
    `core.boxes.centres_inside` grows it: only they can find a box whose centre lies on a person."""
    windows = np.asarray(windows).reshape(-1, 4)
    people = np.asarray(people, np.float64).reshape(-1, 4)
    if not len(windows) or not len(people):
        return windows[:0]
    grow = (people[:, 2:] - people[:, :2]) * pad
    lo, hi = people[:, :2] - grow, people[:, 2:] + grow
    meets = (windows[:, None, :2] < hi[None]) & (windows[:, None, 2:] > lo[None])  # (W, P, 2)
    return windows[meets.all(-1).any(1)]


def tiles_on_people(merged: Detections, full: Detections, people: np.ndarray, pad: float = PAD,
                    iou_threshold: float = MERGE_IOU) -> Detections:
    """A tiled frame where tiles count on people only: the `merged` boxes (full frame and tiles) whose centre lies
    on a person of `people` (xyxy, grown by `pad`), and the `full` frame's own boxes whose centre does not, less
    those that overlap a kept box on a person by more than `iou_threshold` (the same hand, seen better by a tile).

    Returns:
        `Detections` by descending confidence; `full` itself when no person is given.
    """
    people = np.asarray(people, np.float32).reshape(-1, 4)
    if not len(people):
        return full
    on = merged[centres_inside(merged.xyxy, people, pad)]
    off = full[~centres_inside(full.xyxy, people, pad)]
    if len(on) and len(off):
        off = off[~(box_iou(off.xyxy, on.xyxy) > iou_threshold).any(1)]
    return Detections.merge([on, off]).sorted_by_confidence()


def predict_many(predictor, images: list[np.ndarray], max_batch: int = MAX_BATCH) -> list[Detections]:
    """`predictor` on each image: through its `predict_batch` where it has one, `max_batch` images a
    call (one batched run per input size), else one call an image."""
    batch = getattr(predictor, "predict_batch", None)
    if batch is None:
        return [predictor(im) for im in images]
    return [d for i in range(0, len(images), max_batch) for d in batch(images[i:i + max_batch])]


class TiledPredictor:
    """Wrap a predictor: the full frame and its tiles through `predict_batch`, merged in frame pixels.

    The full frame runs exactly as the wrapped predictor runs it alone (letterboxed to its smallest
    rectangle: 320x192 for 16:9), so the tiled result starts from the untiled one; the tiles, all one
    size, run as a second, batched run. Putting the frame into the tiles' batch would letterbox it to
    their 320x320 square: 67% more pixels than its own run, and boxes unlike the untiled ones, to save
    one call. How the tiles are batched is the wrapped predictor's business: `OnnxPredictor` stacks
    them into one `session.run` when the model's batch axis is dynamic (the shipped models' is) and
    loops over them when it is fixed at 1; `TorchPredictor` hands the list to Ultralytics' `predict`,
    which runs it as one batch; any other predictor is called once a tile. On 2 CPU cores batching
    saves only ~5% (the work is the same 15 tiles); it is on a GPU that a batch pays. A frame no
    larger than one tile runs untiled.

    Attributes:
        predictor: the wrapped predictor (thresholds, names and image size come from it).
        tile: tile side in frame pixels (default: the predictor's input size, so tiles run unscaled).
        overlap: fraction of a tile shared with its neighbour.
        persons: a predictor of people (at its own cut-off): tiles count on people from afar only
            (`people_from_afar`, `tiles_on_people`); None: every tile, every box (`tiled` passes the person anchor's).
        pad: people's boxes grown by this share of their size, as the person anchor grows them.
        close_up: a person spanning this share of the frame's longer side or more is a close-up, no tile on them.
    """

    def __init__(self, predictor, overlap: float = DEFAULT_OVERLAP, tile: int | None = None,
                 iou_threshold: float = MERGE_IOU, ios_threshold: float = MERGE_IOS, persons=None, pad: float = PAD,
                 close_up: float = CLOSE_UP):
        self.overlap = check_overlap(overlap)
        self.predictor = predictor
        self.names, self.imgsz = predictor.names, predictor.imgsz
        self.tta = getattr(predictor, "tta", "none")  # each tile runs as the wrapped predictor runs a photo
        self.backend = getattr(predictor, "backend", "")
        self.weights = getattr(predictor, "weights", None)
        self.tile = int(tile or predictor.imgsz)
        self.iou_threshold, self.ios_threshold = iou_threshold, ios_threshold
        self.persons, self.pad, self.close_up = persons, float(pad), float(close_up)

    def windows(self, resolution_wh: tuple[int, int]) -> np.ndarray:
        """(N, 4) tile windows of a frame of this size (xyxy, frame pixels), people or not."""
        return tile_windows(resolution_wh, self.tile, self.overlap)

    def plan(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(the windows that run on this frame, the people from afar in it or None without a person model): every
        window, or with a person model those that meet a person from afar; none for a frame no larger than a
        tile."""
        h, w = image_bgr.shape[:2]
        windows = self.windows((w, h))
        if len(windows) <= 1:
            return windows[:0], None
        if self.persons is None:
            return windows, None
        people = people_from_afar(self.persons(image_bgr).xyxy, (w, h), self.close_up)
        return windows_on_people(windows, people, self.pad), people

    def passes(self, image_bgr: np.ndarray) -> tuple[list[Detections], list[np.ndarray]]:
        """Run the full frame and every tile, unmerged: what `merge_passes` takes.

        Returns:
            Per pass (the full frame first, then the tiles of `plan` row by row), `Detections` in frame pixels
            and the (N_k,) bool mask of boxes cut by an inner tile border.
        """
        return self._passes(image_bgr, self.plan(image_bgr)[0])

    def _passes(self, image_bgr: np.ndarray, windows: np.ndarray) -> tuple[list[Detections], list[np.ndarray]]:
        h, w = image_bgr.shape[:2]
        if not len(windows):
            full = self.predictor(image_bgr)
            return [full], [np.zeros(len(full), bool)]
        crops = [image_bgr[y1:y2, x1:x2] for x1, y1, x2, y2 in windows]
        full, *tiles = predict_many(self.predictor, [image_bgr, *crops])
        passes, cut = [full], [np.zeros(len(full), bool)]
        for d, win in zip(tiles, windows, strict=True):
            d = to_frame(d, win)
            passes.append(d)
            cut.append(cut_by_border(d.xyxy, win, (w, h)))
        return passes, cut

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        windows, people = self.plan(image_bgr)
        passes, cut = self._passes(image_bgr, windows)
        if len(passes) == 1:
            return passes[0]
        merged = merge_passes(passes, cut, self.iou_threshold, self.ios_threshold)
        return merged if people is None else tiles_on_people(merged, passes[0], people, self.pad, self.iou_threshold)


def tiled(predictor, overlap: float = DEFAULT_OVERLAP, inner: Callable | None = None):
    """`predictor` with each frame tiled (`TiledPredictor`), beneath its two-level cut-off and person anchor, whose
    people from afar pick the tiles that run and the boxes tiles may add (`tiles_on_people`); without a person
    anchor every tile runs. `inner` wraps the predictor the tiles run on (the bench's one-tile-a-call runs)."""
    from handdet.infer.two_level import inside

    people = person_finder(predictor)
    return inside(predictor, lambda p: TiledPredictor(p if inner is None else inner(p), overlap, persons=people))
