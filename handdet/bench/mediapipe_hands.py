"""MediaPipe Hands over images and a video: landmarks, handedness score and latency, as JSON.

Runs in its own virtual environment (see `handdet.bench.vs_mediapipe`): the last MediaPipe release with the
Hands solution and its models inside the wheel (0.10.21) pins numpy<2 and opencv-contrib-python, which
cannot share handdet's environment. This file imports nothing from handdet.

    python mediapipe_hands.py --images list.txt --out mp.json [--video clip.mp4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

WARMUP = 3  # (images) first calls build the graph and are not timed


def landmark_box(xs, ys, w: int, h: int, margin: float = 0.0) -> list[float]:
    """Pixel box [x1, y1, x2, y2] around normalised landmarks, grown by `margin` of its size on each side
    and clipped to the image. Landmarks are joint centres, so the tight box cuts fingertips and palm edge."""
    x1, x2 = min(xs) * w, max(xs) * w
    y1, y2 = min(ys) * h, max(ys) * h
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    return [max(0.0, x1 - dx), max(0.0, y1 - dy), min(float(w), x2 + dx), min(float(h), y2 + dy)]


def _hands(result) -> list[dict]:
    out = []
    for lm, hd in zip(result.multi_hand_landmarks or [], result.multi_handedness or [], strict=False):
        out.append({"x": [p.x for p in lm.landmark], "y": [p.y for p in lm.landmark],
                    "score": float(hd.classification[0].score), "side": hd.classification[0].label})
    return out


def run_images(paths: list[str], max_hands: int, min_conf: float) -> list[dict]:
    import cv2
    import mediapipe as mp

    rows = []
    with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max_hands, model_complexity=1,
                                  min_detection_confidence=min_conf) as hands:
        for i, path in enumerate([*paths[:WARMUP], *paths]):
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f"{path}: cannot read image")
            t = time.perf_counter()
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            res = hands.process(rgb)
            dt = time.perf_counter() - t
            if i >= min(WARMUP, len(paths)):
                rows.append({"path": path, "w": bgr.shape[1], "h": bgr.shape[0], "latency_ms": dt * 1e3,
                             "hands": _hands(res)})
    return rows


def run_video(path: str, max_frames: int, max_hands: int, min_conf: float) -> dict:
    """Tracking mode, as a webcam app runs it: the palm detector only when tracking is lost."""
    import cv2
    import mediapipe as mp

    cap = cv2.VideoCapture(path)
    frames = []
    while len(frames) < max_frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    with mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=max_hands, model_complexity=1,
                                  min_detection_confidence=min_conf) as hands:
        for f in frames[:WARMUP]:
            hands.process(f)
        t = time.perf_counter()
        for f in frames:
            hands.process(f)
        dt = time.perf_counter() - t
    return {"frames": len(frames), "fps": len(frames) / dt if dt > 0 else 0.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="text file, one image path per line")
    ap.add_argument("--out", required=True)
    ap.add_argument("--video")
    ap.add_argument("--video-frames", type=int, default=150)
    ap.add_argument("--max-hands", type=int, default=4)
    ap.add_argument("--min-detection-confidence", type=float, default=0.5)  # MediaPipe's default
    a = ap.parse_args(argv)
    import mediapipe as mp

    with open(a.images) as f:
        paths = [line.strip() for line in f if line.strip()]
    out = {"mediapipe": mp.__version__, "min_detection_confidence": a.min_detection_confidence,
           "images": run_images(paths, a.max_hands, a.min_detection_confidence)}
    if a.video:
        out["video"] = run_video(a.video, a.video_frames, 2, a.min_detection_confidence)
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
