# The README's commands. Each target installs what it needs into $(VENV) first.
#   make demo   the main job on the bundled real sample recordings
#   make test   the test suite
#   make bench  the benchmarks (prints ratios against references measured in the same run)

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

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/mne-specae demo --out $(OUT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/bench_spectrogram.py
	$(PY) benchmarks/bench_training.py --size default

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
