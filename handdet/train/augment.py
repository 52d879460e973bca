"""Albumentations pipelines declared in YAML, passed to Ultralytics' training pipeline.

A YAML list `[{name: Blur, p: 0.1, blur_limit: [3, 7]}, ...]` becomes `[A.Blur(p=0.1, blur_limit=(3, 7))]`;
Ultralytics applies it inside its own pipeline (after mosaic/affine, before HSV and flips) with boxes.
"""

from __future__ import annotations

from typing import Any

from handdet.core.errors import ConfigError


def _albumentations():
    import os

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations as A

    return A


def validate_albumentations(spec: list, source: str = "config") -> None:
    """Check names and parameters without keeping the transforms."""
    build_albumentations(spec, source)


def build_albumentations(spec: list, source: str = "config") -> list[Any]:
    """Build Albumentations transforms from `[{name: ..., p: ..., **params}]`.

    Raises:
        ConfigError: for an entry without `name`, an unknown transform or bad parameters.
    """
    if not spec:
        return []
    A = _albumentations()
    out = []
    for i, entry in enumerate(spec):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"{source}: albumentations[{i}] must be a mapping with a 'name'")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items() if k != "name"}
        cls = getattr(A, str(entry["name"]), None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, A.BasicTransform):
            raise ConfigError(f"{source}: albumentations[{i}]: unknown transform '{entry['name']}'")
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)  # Albumentations warns on unknown arguments
                out.append(cls(**params))
        except Exception as e:
            raise ConfigError(f"{source}: albumentations[{i}] {entry['name']}: {str(e).splitlines()[0]}") from None
    return out


def apply_to_boxes(transforms: list[Any], image, xyxy, class_id, seed: int = 0):
    """Run the pipeline on one image with pixel boxes (for previews and tests).

    Returns:
        (image, (N, 4) xyxy float array, (N,) class ids) after the transforms.
    """
    import numpy as np

    A = _albumentations()
    comp = A.Compose(transforms, bbox_params=A.BboxParams(format="pascal_voc", label_fields=["class_id"]),
                     seed=seed)
    r = comp(image=image, bboxes=np.asarray(xyxy, np.float32).reshape(-1, 4), class_id=np.asarray(class_id))
    return r["image"], np.asarray(r["bboxes"], np.float32).reshape(-1, 4), np.asarray(r["class_id"])
