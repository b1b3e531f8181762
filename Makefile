# netlab: `make train` and `make test` work on a fresh machine (they create the venv and find or
# install the Fashion-MNIST data first). Override the interpreter with PYTHON=python3.12 etc.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: venv data train test wheel-smoke bench lint docs clean

venv: $(VENV)/.installed

# pip's output goes to $(VENV)/pip.log and is shown only when an install fails.
$(VENV)/.installed: pyproject.toml
	@echo "setting up $(VENV): netlab and its extras (pip log: $(VENV)/pip.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log; exit 1; }
	@$(BIN)/python -m pip install -e ".[dev,fast,dask,plots,sklearn,onnx,tensorboard,cuda-check]" \
		>> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $@

data: venv
	@bash scripts/ensure-data.sh $(BIN)/netlab

train: venv data
	@$(BIN)/netlab train --config configs/baseline.toml $(ARGS)

test: venv data
	@$(BIN)/python -m pytest $(ARGS)
	@$(MAKE) --no-print-directory wheel-smoke

# The distribution as users get it: sdist and wheel built, the wheel installed into a fresh venv
# outside the checkout, every command run once there on the sample (about 2 minutes).
wheel-smoke: venv
	@bash scripts/smoke-wheel.sh $(BIN)/python

bench: venv data
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/cpu.py $(ARGS)

# The generated pages (docs/config.md, from the config schema and the registries' entries).
docs: venv
	$(BIN)/python scripts/config_reference.py

lint: venv
	$(BIN)/ruff check netlab cli tests benchmarks scripts
	$(BIN)/ruff format --check netlab cli tests benchmarks scripts

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
