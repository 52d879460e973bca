"""Training: a thin, honest wrapper over Ultralytics' trainer (config, device, data, augmentation, resume)."""
