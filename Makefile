# sd-lora-hub: `make demo` runs the main job on the embedded tiny base; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1

# torch is installed on its own, first, so that the build is chosen on purpose: PyPI's Linux `torch` wheel is the
# CUDA build (several GB). With no NVIDIA GPU (no nvidia-smi) the PyTorch CPU index is added as an extra index, and
# for the pinned version its `+cpu` wheel wins. Override either: `make install TORCH_INDEX_URL=` (PyPI's default
# build), `make install TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128`, `make install TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
HAS_NVIDIA_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_NVIDIA_GPU),yes)
TORCH_INDEX_URL ?=
else
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
endif
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# setuptools deprecates the compat editable mode with a warning box on every install; compat is chosen on purpose
# (a plain .pth path entry; the default editable finder adds ~40 ms to every `hub` start), so that one warning goes.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Compat editable installs"

.PHONY: install demo test lint bench clean torch torch-plan

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(BIN)/hub: pyproject.toml | $(BIN)/python
	@$(MAKE) --no-print-directory torch
	$(QUIET_EDITABLE) $(PIP) install -e '.[dev]' --config-settings editable_mode=compat
	touch $(BIN)/hub

# torch alone (`make torch` reinstalls it after changing TORCH_SPEC/TORCH_INDEX_URL). An index that cannot be
# reached (an offline mirror, a firewall) is left out with a note instead of being retried for minutes: the
# configured indexes then decide, and a machine whose own mirror serves the CPU wheel still gets it.
torch: | $(BIN)/python
	@index="$(TORCH_INDEX_URL)"; \
	if [ -n "$$index" ] && ! $(BIN)/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" "$$index/" >/dev/null 2>&1; then \
		echo "note: $$index is not reachable; $(TORCH_SPEC) comes from the configured package index"; index=""; \
	fi; \
	echo "installing $(TORCH_SPEC)$${index:+ with the extra index $$index}"; \
	$(PIP) install "$(TORCH_SPEC)" $${index:+--extra-index-url "$$index"}
	@$(BIN)/python -W ignore -c "import torch; c = torch.version.cuda; print('torch', torch.__version__, f'(CUDA {c} build)' if c else '(CPU build)')"

# What `make install` would choose here, without installing anything.
torch-plan:
	@echo "NVIDIA GPU: $(if $(HAS_NVIDIA_GPU),yes,no)"
	@echo "TORCH_SPEC=$(TORCH_SPEC)"
	@echo "TORCH_INDEX_URL=$(TORCH_INDEX_URL)"

install: $(BIN)/hub

demo: install
	$(BIN)/hub demo --base tiny

test: install
	$(BIN)/ruff check hub cli tests benchmarks
	# -p randomly: a new test order each run (the seed is printed; rerun one with -p randomly --randomly-seed=N)
	$(BIN)/python -m pytest -q -p no:cacheprovider -p randomly

lint: install
	$(BIN)/ruff check hub cli tests benchmarks
	$(BIN)/ruff format --check hub cli tests benchmarks

bench: install
	$(BIN)/python benchmarks/bench_registry.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
