# Two commands do all set-up on a fresh clone:
#   make demo   - create .venv, fetch the demo model, run a real tuning (llama.cpp on this CPU, SQLite store)
#   make test   - create .venv, fetch the demo model, run every test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
AUTOTUNER := $(VENV)/bin/autotuner

.PHONY: setup demo test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,docker,queue,postgres]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(AUTOTUNER) models pull smollm2
	$(AUTOTUNER) tune examples/quickstart.yaml

test: setup
	$(AUTOTUNER) models pull smollm2
	$(PY) -m pytest -q -rs

lint: setup
	$(VENV)/bin/ruff check inference_autotuner tests benchmarks
	$(VENV)/bin/ruff format --check inference_autotuner tests benchmarks
	$(VENV)/bin/mypy inference_autotuner

format: setup
	$(VENV)/bin/ruff format inference_autotuner tests benchmarks
	$(VENV)/bin/ruff check --fix inference_autotuner tests benchmarks

bench: setup
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
