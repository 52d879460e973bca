"""Inference: predictors (PyTorch, ONNX Runtime), frame sources, drawing and the video loop."""
