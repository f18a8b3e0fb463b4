# Two commands do all set-up on a fresh clone:
#   make demo   - create .venv, fetch the demo model, run a real tuning (llama.cpp on this CPU, SQLite store)
#   make test   - create .venv, fetch the demo model, run every test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
AUTOTUNER := $(VENV)/bin/autotuner

.PHONY: setup setup-all demo test lint format bench clean web

# The tool itself (what `make demo` needs): llama.cpp engine, SQLite, API server.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# Everything the tests exercise: dev tools, Docker, Redis queue, Postgres, Kubernetes, and aiconfigurator for
# deployment_mode predict (about 2 min and 850 MB the first time).
$(VENV)/.installed-all: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,docker,queue,postgres,kubernetes,predict]'
	touch $@

setup: $(VENV)/.installed
setup-all: $(VENV)/.installed-all

# The web app (served by `autotuner serve` at /): built from web/ with the locked npm packages; needs Node 20+.
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/package-lock.json web/vite.config.ts web/tsconfig.json
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && npm run build
	touch $@
web/dist: web/dist/index.html
web: web/dist/index.html

demo: setup web/dist/index.html
	$(AUTOTUNER) models pull smollm2
	$(AUTOTUNER) tune examples/quickstart.yaml

test: setup-all web/dist/index.html
	$(AUTOTUNER) models pull smollm2
	cd web && npm test -- --run
	$(PY) -m pytest -q -rs

lint: setup-all
	$(VENV)/bin/ruff check inference_autotuner tests benchmarks
	$(VENV)/bin/ruff format --check inference_autotuner tests benchmarks
	$(VENV)/bin/mypy inference_autotuner

format: setup-all
	$(VENV)/bin/ruff format inference_autotuner tests benchmarks
	$(VENV)/bin/ruff check --fix inference_autotuner tests benchmarks

bench: setup
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
