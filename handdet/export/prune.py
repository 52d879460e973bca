"""Cut a detection model's head down to some of its classes (`handdet export --classes person`).

A YOLOv8 head scores each class with its own output channel and a sigmoid, so keeping a class's channels of
the last convolution of each scale keeps its scores exactly; the rest of the network is untouched. The
COCO-pretrained YOLOv8n cut to `person` is the person model of `infer.person_anchor`: one class to decode and
suppress instead of 80, and an anchor that counts a box as a person whenever it scores as one, not only where
person is its best class.
"""

from __future__ import annotations

from collections.abc import Sequence

from handdet.core.errors import ConfigError


def class_ids(names: dict[int, str], wanted: Sequence[str]) -> list[int]:
    """The ids of the `wanted` class names (or ids as text) in `names`, in the order given.

    Raises:
        ConfigError: a class the model does not have, or none given.
    """
    by_name = {v: k for k, v in names.items()}
    ids = []
    for w in wanted:
        key = int(w) if w.isdigit() else by_name.get(w)
        if key not in names:
            raise ConfigError(f"--classes: the model has no class '{w}' (it has {len(names)}: "
                              f"{', '.join(list(names.values())[:8])}{', ...' if len(names) > 8 else ''})")
        ids.append(key)
    if not ids:
        raise ConfigError("--classes: name at least one class")
    return ids


def keep_classes(model, ids: Sequence[int]) -> None:
    """Cut an Ultralytics `YOLO` detection model (in place) to the classes `ids`, renumbered 0.. in that order."""
    import torch

    net = model.model
    head = net.model[-1]
    names = {i: net.names[k] for i, k in enumerate(ids)}
    idx = torch.as_tensor(list(ids))
    branches = [head.cv3] + ([head.one2one_cv3] if hasattr(head, "one2one_cv3") else [])
    for branch in branches:
        for seq in branch:
            conv = seq[-1]
            cut = torch.nn.Conv2d(conv.in_channels, len(ids), conv.kernel_size, conv.stride, conv.padding,
                                  bias=conv.bias is not None)
            with torch.no_grad():
                cut.weight.copy_(conv.weight[idx])
                if conv.bias is not None:
                    cut.bias.copy_(conv.bias[idx])
            seq[-1] = cut
    head.nc = len(ids)
    head.no = head.nc + head.reg_max * 4
    net.nc = head.nc
    if isinstance(getattr(net, "yaml", None), dict):
        net.yaml["nc"] = head.nc
    net.names = names
