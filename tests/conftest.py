"""Shared fixtures. Tests use real parts: the real llama.cpp engine, real SQLite, real processes.

A test that needs something missing on a laptop (the demo model, a service) skips with a reason; under CI=true
every such skip becomes a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
	outcome = yield
	rep = outcome.get_result()
	if os.environ.get("CI") and rep.skipped and not hasattr(rep, "wasxfail"):
		rep.outcome = "failed"
		rep.longrepr = f"skipped under CI (CI=true makes skips fail): {rep.longrepr}"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
	"""Every test gets its own data dir (database, logs, pid records); the model cache stays shared."""
	d = tmp_path / "data"
	monkeypatch.setenv("AUTOTUNER_DATA_DIR", str(d))
	monkeypatch.delenv("AUTOTUNER_DB", raising=False)
	return d


@pytest.fixture(scope="session")
def model_path() -> Path:
	"""The demo model (SmolLM2-135M GGUF) from the model cache, fetched once if missing."""
	env = os.environ.get("AUTOTUNER_TEST_MODEL")
	if env and Path(env).exists():
		return Path(env)
	from inference_autotuner.errors import AutotunerError
	from inference_autotuner.models import resolve_model

	try:
		return resolve_model("smollm2")
	except AutotunerError as exc:
		pytest.skip(f"demo model unavailable: {exc}")


@pytest.fixture
def llama_server(model_path: Path, tmp_path: Path) -> Iterator[str]:
	"""A real llama.cpp server (4 slots, 2 threads) on a free port; yields its base URL."""
	from inference_autotuner.deploy.base import Launch
	from inference_autotuner.deploy.local import LocalProcessDeployer
	from inference_autotuner.deploy.ports import free_port
	from inference_autotuner.engines import get_engine

	engine = get_engine("llamacpp")
	port = free_port()
	params = {"parallel": 4, "threads": 2, "ctx-size": 4096}
	deployer = LocalProcessDeployer()
	dep = deployer.start(
		Launch(
			argv=engine.launch_argv(str(model_path), params, host="127.0.0.1", port=port),
			port=port,
			health_path=engine.health_path,
			env={},
			labels={"test": "1"},
		),
		log_path=tmp_path / "engine.log",
		timeout=60,
	)
	try:
		yield dep.base_url
	finally:
		deployer.stop(dep)


@pytest.fixture(scope="session")
def docker_image() -> str:
	"""The llama.cpp engine image for docker mode, built once (scripts/build_llamacpp_image.sh skips the build when
	the image is up to date); skips where no Docker daemon answers (a failure under CI=true)."""
	import subprocess
	import time

	from inference_autotuner.deploy.docker import connect
	from inference_autotuner.errors import DeployError

	try:
		connect(timeout=5)
	except DeployError as exc:
		pytest.skip(f"Docker daemon not reachable: {exc.message}")
	t0 = time.monotonic()
	out = subprocess.run(
		["bash", "scripts/build_llamacpp_image.sh"], cwd=REPO, capture_output=True, text=True, timeout=1500
	)
	assert out.returncode == 0, out.stdout + out.stderr
	print(f"image ready in {time.monotonic() - t0:.1f} s: {out.stdout.strip().splitlines()[-1]}")
	return "inference-autotuner/llamacpp:latest"


def autotuner_cmd() -> list[str]:
	return [sys.executable, "-m", "inference_autotuner.cli"]
