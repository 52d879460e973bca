"""Datasets: readers for public hand-dataset formats, validation, splits, and the YOLO writer."""
