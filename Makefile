# One-command set-up: every target creates .venv and installs the pinned dependencies if needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint bench handin clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job: gradient check, then the Iris network in numpy_nn and in Lightning, side by side
	$(PY) -m numpy_nn.gradcheck
	$(PY) train.py compare --config configs/iris_compare.yaml

test: $(STAMP)  ## fast tests (no `slow` marker)
	$(PY) -m pytest -m "not slow"

test-all: $(STAMP)  ## every test, slow ones included
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

handin: $(STAMP)  ## the whole hand-in in order, what is done skipped: runs, report.pdf, hw3.zip (needs student.yaml)
	$(PY) -m deliverables.handin $(ARGS)

bench: $(STAMP)  ## benchmarks -> docs/benchmarks.md (never part of the tests)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
