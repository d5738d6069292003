# The README's commands. Each target installs what it needs into $(VENV) first.
#   make demo   the main job on the bundled real sample recordings
#   make test   the test suite
#   make lint   pre-commit's hooks on every file: ruff (lint, format), codespell, import-linter
#   make bench  the benchmarks (prints ratios against references measured in the same run)
#   make doc    the documentation, every example executed, into doc/_build/html
#   make doc-test  open the built pages in headless Chromium (pages, figures, links)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints.txt
OUT ?= demo-out

# Where the recordings live: ../shared/data/biosignals in this workspace, else
# whatever MNE_SPECAE_DATA says (or the package's default: MNE's data folder).
SHARED_DATA := $(abspath ../shared/data/biosignals)
ifneq ($(wildcard $(SHARED_DATA)/MANIFEST.tsv),)
export MNE_SPECAE_DATA ?= $(SHARED_DATA)
endif
export MPLBACKEND ?= Agg
# torch's OpenMP threads spin-wait by default and stall when another process holds one
# of the cores; passive waiting keeps CPU training fast on shared machines.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install install-doc install-lint lint demo test bench doc doc-noplot doc-test clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.installed-doc: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[test,doc]"
	touch $@

install-doc: $(VENV)/.installed-doc

$(VENV)/.installed-lint: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[test,lint]"
	touch $@

install-lint: $(VENV)/.installed-lint

# The hooks are local (language: system): they run the tools of $(VENV), fetch nothing.
lint: install-lint
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

demo: install
	$(VENV)/bin/mne-specae demo --out $(OUT) --overwrite

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/bench_spectrogram.py
	$(PY) benchmarks/bench_training.py --size default

# A clean build, so that every example runs on the current code; -W: warnings are
# errors, and sphinx-gallery's abort_on_example_error stops at a failing example.
doc: install-doc
	rm -rf doc/_build doc/auto_examples doc/generated doc/sg_execution_times.rst
	$(VENV)/bin/sphinx-build -W --keep-going -b html doc doc/_build/html

# The pages without running the examples (layout work; warnings not fatal).
doc-noplot: install-doc
	$(VENV)/bin/sphinx-build -b html -D plot_gallery=0 doc doc/_build/html

doc-test: install-doc
	$(PY) -m pytest -m docs tests/test_docs.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info doc/_build doc/auto_examples doc/generated \
		doc/sg_execution_times.rst
