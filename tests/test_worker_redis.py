"""Tasks through the ARQ queue on a real Redis: an `autotuner worker` process runs them, events reach the API's
WebSocket over pub/sub, cancel reaches the worker and stops the engine, and a killed worker's task is picked up."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_api_worker import FINAL, engine_pids, tiny_spec, wait_status

from inference_autotuner.api import Settings, create_app
from inference_autotuner.paths import data_dir

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
	exe = shutil.which("redis-server")
	if exe is None:
		pytest.skip("redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)")
	port = _free_port()
	proc = subprocess.Popen(
		[exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
		stdout=subprocess.DEVNULL,
		stderr=subprocess.DEVNULL,
	)
	deadline = time.monotonic() + 10
	while time.monotonic() < deadline:
		with socket.socket() as s:
			if s.connect_ex(("127.0.0.1", port)) == 0:
				break
		time.sleep(0.05)
	try:
		yield f"redis://127.0.0.1:{port}/0"
	finally:
		proc.terminate()
		proc.wait(10)


def start_worker(db: str, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
	cmd = [sys.executable, "-m", "inference_autotuner.cli", "worker", "--db", db, "--redis", redis_url]
	return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=dict(os.environ))


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
	if proc.poll() is None:
		proc.send_signal(signal.SIGTERM)
		try:
			proc.wait(30)
		except subprocess.TimeoutExpired:
			proc.kill()
			proc.wait()


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
	db = f"sqlite:///{data_dir() / 'autotuner.db'}"
	with TestClient(
		create_app(Settings(db_url=db, redis_url=redis_url)), base_url="http://localhost", raise_server_exceptions=False
	) as c:
		yield c, db, redis_url


def collect(ws: Any, until: Any) -> list[dict[str, Any]]:
	events = []
	while True:
		ev = ws.receive_json()
		events.append(ev)
		if until(ev):
			return events


def test_task_runs_on_an_arq_worker_with_events(
	setup: tuple[TestClient, str, str], model_path: Path, tmp_path: Path
) -> None:
	client, db, url = setup
	worker = start_worker(db, url, tmp_path / "worker.log")
	try:
		tid = client.post("/api/tasks/", json=tiny_spec(model_path, "redis-run")).json()["id"]
		with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws:
			assert ws.receive_json()["status"] == "pending"
			assert client.post(f"/api/tasks/{tid}/start").json()["status"] == "queued"
			events = collect(ws, lambda e: e["type"] == "task_status" and e["status"] in FINAL)
		kinds = [e["type"] for e in events]
		assert kinds.count("experiment_finished") == 2, (kinds, (tmp_path / "worker.log").read_text()[-3000:])
		assert events[-1]["status"] == "completed"
		assert client.get(f"/api/tasks/{tid}").json()["experiments_successful"] == 2
		workers = client.get("/api/dashboard/worker-status").json()
		assert workers["mode"] == "redis" and workers["workers"] and workers["workers"][0]["kind"] == "redis"
	finally:
		stop_worker(worker)


def test_cancel_reaches_the_worker_and_a_killed_worker_task_is_picked_up(
	setup: tuple[TestClient, str, str], model_path: Path, tmp_path: Path
) -> None:
	client, db, url = setup
	before = engine_pids()
	w1 = start_worker(db, url, tmp_path / "w1.log")
	w2: subprocess.Popen[bytes] | None = None
	try:
		long = tiny_spec(model_path, "redis-cancel", max_requests_per_iteration=100000, max_time_per_iteration=4)
		tid = client.post("/api/tasks/", json=long, params={"start": True}).json()["id"]
		with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws:
			collect(ws, lambda e: e["type"] == "run_started")
		assert engine_pids() - before
		t0 = time.monotonic()
		assert client.post(f"/api/tasks/{tid}/cancel", params={"wait": 15}).json()["status"] == "cancelled"
		while engine_pids() - before and time.monotonic() - t0 < 10:
			time.sleep(0.1)
		assert not engine_pids() - before, "engine still running 10 s after cancel"

		# resume it, then kill -9 its worker mid-experiment: another worker picks the task up and finishes it
		assert client.post(f"/api/tasks/{tid}/start").json()["status"] == "queued"
		with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws:
			collect(ws, lambda e: e["type"] == "run_started")
		w1.kill()
		w1.wait()
		w2 = start_worker(db, url, tmp_path / "w2.log")
		task = wait_status(client, tid, ("completed", "failed", "cancelled"), timeout=120)
		assert task["status"] == "completed", (task, (tmp_path / "w2.log").read_text()[-3000:])
		exps = client.get(f"/api/experiments/task/{tid}").json()
		assert [e["status"] for e in exps] == ["success", "success"]
	finally:
		stop_worker(w1)
		if w2 is not None:
			stop_worker(w2)
	deadline = time.monotonic() + 15
	while engine_pids() - before and time.monotonic() < deadline:
		time.sleep(0.2)
	assert not engine_pids() - before
