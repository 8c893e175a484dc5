# sd-lora-hub: `make demo` runs the main job on the embedded tiny base; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1

.PHONY: install demo test wheel-smoke lint bench clean

$(BIN)/hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU wheel of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# compat mode: a plain .pth path entry; the default editable finder adds ~40 ms to every start.
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(BIN)/hub

install: $(BIN)/hub

demo: install
	$(BIN)/hub demo --base tiny

test: install
	$(BIN)/ruff check hub cli tests benchmarks
	$(BIN)/mypy  # hub/ and cli/, config in pyproject.toml; incremental through .mypy_cache
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Build the wheel, install it (not editable) into a fresh venv, run `hub` from there (.ci/run calls it).
wheel-smoke:
	PYTHON=$(PYTHON) .ci/wheel_smoke.sh

lint: install
	$(BIN)/ruff check hub cli tests benchmarks
	$(BIN)/ruff format --check hub cli tests benchmarks

bench: install
	$(BIN)/python benchmarks/bench_registry.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
