# Entry points (README.md): make demo, make test, make bench, make lint.
# Each target creates .venv if missing and installs what it needs; nothing but
# Python 3.11+ has to be on the machine.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: demo test bench lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(PY) experiments/demo.py

test: $(STAMP_TEST)
	$(PY) -m pytest -q -p no:cacheprovider --hypothesis-profile=ci

bench: $(STAMP_TEST)
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/checker.py
	$(PY) benchmarks/sweep.py
	$(PY) benchmarks/probe.py
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/hotkey.py
	$(PY) benchmarks/memory.py

lint: $(STAMP_TEST)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP_TEST)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache results
