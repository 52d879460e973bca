"""Export: ONNX through Ultralytics, graph and parity checks, handdet metadata, INT8 quantisation judged per source."""
