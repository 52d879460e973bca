"""The base of predictors that wrap another (`infer.two_level`, `infer.person_anchor`)."""

from __future__ import annotations


class Wrapping:
    """A predictor around `self.predictor`: anything it does not define itself (names, imgsz, weights, backend,
    tta, ...) is the wrapped predictor's."""

    predictor: object

    def __getattr__(self, name: str):
        if name == "predictor":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.predictor, name)
