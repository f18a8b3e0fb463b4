"""/metrics scraped by a real Prometheus (Debian's `prometheus` package; .ci/run installs it): `autotuner serve` and
`prometheus` started here, each on a free loopback port, Prometheus scraping every second with a viewer token read
from a file (the configuration docs/api.md gives), until its query API returns the tuner's tasks by status."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from inference_autotuner import users
from inference_autotuner.store import Store

CLI = [sys.executable, "-m", "inference_autotuner.cli"]
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
	PROMETHEUS is None, reason="prometheus is not installed (apt-get install -y prometheus)"
)


def free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen[bytes], seconds: float = 90) -> Any:
	"""check() until it returns something truthy; fails with the process's output when it dies or time runs out."""
	deadline = time.monotonic() + seconds
	last: Any = None
	while time.monotonic() < deadline:
		if proc.poll() is not None:
			out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
			pytest.fail(f"{what}: the process exited with {proc.returncode}:\n{out[-3000:]}")
		try:
			last = check()
			if last:
				return last
		except httpx.HTTPError as exc:
			last = exc
		time.sleep(0.3)
	pytest.fail(f"{what}: not within {seconds} s (last: {last!r})")


def stop(proc: subprocess.Popen[bytes]) -> None:
	if proc.poll() is None:
		proc.terminate()
		try:
			proc.wait(30)
		except subprocess.TimeoutExpired:
			proc.kill()
			proc.wait(10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
	"""`autotuner serve` on a free port over this test's data dir (conftest's AUTOTUNER_DATA_DIR)."""
	port = free_port()
	proc = subprocess.Popen(
		[*CLI, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path
	)
	url = f"http://127.0.0.1:{port}"
	try:
		wait_for("autotuner serve", lambda: httpx.get(f"{url}/api/system/health", timeout=2).status_code == 200, proc)
		yield url, proc
	finally:
		stop(proc)


def spec(name: str) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2]},
		"optimization": {"max_iterations": 2},
	}


def query(prom: str, promql: str) -> list[dict[str, Any]]:
	"""The result vector of an instant query through Prometheus's HTTP API."""
	r = httpx.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=5)
	r.raise_for_status()
	body = r.json()
	assert body["status"] == "success", body
	return body["data"]["result"]  # type: ignore[no-any-return]


def value(prom: str, promql: str) -> float | None:
	result = query(prom, promql)
	return float(result[0]["value"][1]) if result else None


@pytest.mark.timeout(240)
def test_real_prometheus_scrapes_the_tuner(serve: tuple[str, subprocess.Popen[bytes]], tmp_path: Path) -> None:
	assert PROMETHEUS is not None
	url, server = serve
	store = Store()  # the server's database (same data dir)
	_, viewer = users.add_user(store, "prom", "viewer")  # users exist: /metrics needs a token, like every read
	_, operator = users.add_user(store, "ops", "operator")
	ops = {"Authorization": f"Bearer {operator}"}
	for name in ("prom-a", "prom-b"):
		r = httpx.post(f"{url}/api/tasks/", json=spec(name), headers=ops, timeout=10)
		assert r.status_code == 201, r.text

	(tmp_path / "token").write_text(viewer)
	target = url.removeprefix("http://")
	config = {
		"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
		"scrape_configs": [
			{
				"job_name": "autotuner",
				"authorization": {"credentials_file": str(tmp_path / "token")},
				"static_configs": [{"targets": [target]}],
			},
			# the same target without a token: refused (401), so Prometheus reports it down
			{"job_name": "anonymous", "static_configs": [{"targets": [target]}]},
		],
	}
	(tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
	prom_port = free_port()
	prom = f"http://127.0.0.1:{prom_port}"
	proc = subprocess.Popen(
		[
			PROMETHEUS,
			f"--config.file={tmp_path / 'prometheus.yml'}",
			f"--storage.tsdb.path={tmp_path / 'tsdb'}",
			f"--web.listen-address=127.0.0.1:{prom_port}",
		],
		stdout=subprocess.PIPE,
		stderr=subprocess.STDOUT,
		cwd=tmp_path,
	)
	try:
		wait_for("prometheus ready", lambda: httpx.get(f"{prom}/-/ready", timeout=2).status_code == 200, proc)
		# the tuner's figures, as Prometheus stored them from its scrapes
		wait_for("pending tasks in Prometheus", lambda: value(prom, 'autotuner_tasks{status="pending"}') == 2, proc)
		assert value(prom, 'up{job="autotuner"}') == 1
		assert value(prom, "sum(autotuner_tasks)") == 2
		assert value(prom, 'autotuner_queue_depth{job="autotuner"}') == 0
		assert query(prom, 'autotuner_tasks_in_progress{job="autotuner"}')  # this process's own counters too
		wait_for("the anonymous scrape refused", lambda: value(prom, 'up{job="anonymous"}') == 0, proc)
		# a change shows at the next scrapes
		r = httpx.post(f"{url}/api/tasks/", json=spec("prom-c"), headers=ops, timeout=10)
		assert r.status_code == 201, r.text
		wait_for("a third pending task", lambda: value(prom, 'autotuner_tasks{status="pending"}') == 3, proc)
		assert server.poll() is None
	finally:
		stop(proc)
