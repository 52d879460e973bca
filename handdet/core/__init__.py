"""Core values shared by every stage: detections, box maths, configs, paths, atomic writes."""
