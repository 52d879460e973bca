"""Stable hand IDs across frames: a small greedy IoU tracker in numpy.

Each new detection is matched to the live track of the same class it overlaps most (IoU above a
threshold, best pairs first); unmatched detections start new tracks; tracks unseen for
`max_misses` frames end. Good enough for hands in a webcam, where boxes move little per frame.
"""

from __future__ import annotations

import numpy as np

from handdet.core.boxes import box_iou
from handdet.core.detections import Detections


class IouTracker:
    """Assign track IDs (1, 2, ...) to detections, frame after frame.

    Args:
        iou_threshold: least IoU between a track's last box and a detection to continue the track.
        max_misses: frames a track may go unmatched before it ends.
    """

    def __init__(self, iou_threshold: float = 0.3, max_misses: int = 15):
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.iou_threshold, self.max_misses = iou_threshold, max_misses
        self._xyxy = np.zeros((0, 4), np.float32)
        self._cls = np.zeros(0, np.int64)
        self._ids = np.zeros(0, np.int64)
        self._misses = np.zeros(0, np.int64)
        self._next_id = 1

    def reset(self) -> None:
        self.__init__(self.iou_threshold, self.max_misses)

    @property
    def active_ids(self) -> np.ndarray:
        return self._ids.copy()

    def update(self, dets: Detections) -> np.ndarray:
        """Match `dets` to tracks; returns (N,) int64 track IDs in the order of `dets`."""
        n = len(dets)
        ids = np.zeros(n, np.int64)
        matched_track = np.zeros(len(self._ids), bool)
        matched_det = np.zeros(n, bool)
        if n and len(self._ids):
            iou = box_iou(self._xyxy, dets.xyxy)
            iou[self._cls[:, None] != dets.class_id[None, :]] = 0.0
            pairs = np.argwhere(iou >= self.iou_threshold)
            order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")
            for t, d in pairs[order]:
                if matched_track[t] or matched_det[d]:
                    continue
                matched_track[t] = matched_det[d] = True
                ids[d] = self._ids[t]
                self._xyxy[t] = dets.xyxy[d]
        self._misses[matched_track] = 0
        self._misses[~matched_track] += 1
        new = np.flatnonzero(~matched_det)
        new_ids = np.arange(self._next_id, self._next_id + len(new), dtype=np.int64)
        self._next_id += len(new)
        ids[new] = new_ids
        keep = self._misses <= self.max_misses
        self._xyxy = np.concatenate([self._xyxy[keep], dets.xyxy[new]])
        self._cls = np.concatenate([self._cls[keep], dets.class_id[new]])
        self._ids = np.concatenate([self._ids[keep], new_ids])
        self._misses = np.concatenate([self._misses[keep], np.zeros(len(new), np.int64)])
        return ids
