# handdet — every verb is a thin layer over the `handdet` CLI, run from the project's own .venv.
#   make train                      fine-tune on the default hand dataset (sets itself up first)
#   make test                       the test suite (sets itself up first)
#   make train CONFIG=configs/handdet-n.yaml   reproduce the shipped model
# Variables: CONFIG (training config), WEIGHTS (model for eval/export/webcam), DATA (data.yaml for eval),
# ARGS (extra CLI arguments), PYTHON (interpreter that creates the venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Data and pretrained weights: ../shared when present (developers, CI), else ./data and ./weights.
SHARED := $(abspath ../shared)
export HANDDET_DATA    ?= $(if $(wildcard $(SHARED)/data),$(SHARED)/data,$(CURDIR)/data)
export HANDDET_WEIGHTS ?= $(if $(wildcard $(SHARED)/weights),$(SHARED)/weights,$(CURDIR)/weights)
export HANDDET_BUILD   ?= $(CURDIR)/build
export YOLO_OFFLINE    := true
export YOLO_AUTOINSTALL := false

CONFIG  ?= configs/default.yaml
WEIGHTS ?= weights/handdet-n.pt
ONNX    ?= weights/handdet-n.onnx
DATA    ?=
ARGS    ?=

.PHONY: setup data train eval export webcam bench test lint clean

# The venv is rebuilt only when pyproject.toml changes; otherwise this does nothing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $@

setup: $(STAMP)

data: setup
	$(BIN)/handdet prepare --config $(CONFIG) $(ARGS)

train: setup
	$(BIN)/handdet train --config $(CONFIG) $(ARGS)

eval: setup
	$(BIN)/handdet eval $(WEIGHTS) $(if $(DATA),$(DATA),$$($(BIN)/handdet prepare --config $(CONFIG) --print-path)) $(ARGS)

export: setup
	$(BIN)/handdet export $(WEIGHTS) --data $$($(BIN)/handdet prepare --config $(CONFIG) --print-path) $(ARGS)

webcam: setup
	$(BIN)/python scripts/webcam.py $(ARGS)

bench: setup
	$(BIN)/handdet bench $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)

lint: setup
	$(BIN)/ruff check handdet tests scripts

clean:
	rm -rf build runs .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
