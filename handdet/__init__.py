"""handdet: hand detection you can retrain. From Python (`handdet.api`):

    detect = handdet.load()
    hands = detect(cv2.imread("photo.jpg"))

Importing the package loads nothing heavy: each name below is imported when first used.
"""

__version__ = "0.1.0"

_API = {"load": "handdet.api", "draw": "handdet.api", "HandDetector": "handdet.api",
        "Detections": "handdet.core.detections"}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'handdet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
