"""Evaluation: numpy metrics (IoU, matching, AP, confusion, ROC/FROC), an accumulate-then-compute
evaluator, JSON/markdown reports, plots, an error gallery and `handdet eval`.

Nothing here imports torch or ultralytics, except inside the functions of `run.py` that run a model.
"""
