"""The API with its in-process worker on the real llama.cpp engine: run, WebSocket events, logs, cancel, resume."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient

from inference_autotuner.api import Settings, create_app
from inference_autotuner.runner.events import EVENTS

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(300)]
FINAL = ("completed", "failed", "cancelled", "interrupted")


def engine_pids() -> set[int]:
	"""The llama.cpp server processes started for this test (their AUTOTUNER_DATA_DIR is this test's data dir;
	other tests on the machine may run engines of their own)."""
	mine = os.environ.get("AUTOTUNER_DATA_DIR")
	found = set()
	for p in psutil.process_iter(["pid", "cmdline", "status"]):
		cmd = " ".join(p.info["cmdline"] or [])
		if "inference_autotuner.engines.llamacpp_server" in cmd and p.info["status"] != psutil.STATUS_ZOMBIE:
			try:
				if p.environ().get("AUTOTUNER_DATA_DIR") == mine:
					found.add(p.info["pid"])
			except psutil.Error:
				continue
	return found


def tiny_spec(model_path: Path, name: str, **bench: Any) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": [1], "ctx-size": 1024},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 2,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(16,8)"],
			"num_concurrency": [1],
			"max_requests_per_iteration": 4,
			"warmup_requests": 0,
			**bench,
		},
	}


@pytest.fixture
def client() -> Iterator[TestClient]:
	with TestClient(create_app(Settings()), base_url="http://localhost", raise_server_exceptions=False) as c:
		yield c


def wait_status(client: TestClient, tid: int, statuses: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		task = client.get(f"/api/tasks/{tid}").json()
		if task["status"] in statuses:
			return task
		time.sleep(0.2)
	raise AssertionError(f"task {tid} still {task['status']} after {timeout} s")


def test_run_task_through_api_with_websocket_events(client: TestClient, model_path: Path) -> None:
	tid = client.post("/api/tasks/", json=tiny_spec(model_path, "api-run")).json()["id"]
	events: list[dict[str, Any]] = []
	with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws:
		first = ws.receive_json()
		assert first == {
			"type": "task_status",
			"task_id": tid,
			"status": "pending",
			"snapshot": True,
			"error": None,
			"text": "status: pending",  # describe(), published with every event
		}
		assert client.post(f"/api/tasks/{tid}/start").json()["status"] in ("queued", "running")
		while True:
			ev = ws.receive_json()
			events.append(ev)
			if ev["type"] == "task_status" and ev["status"] in FINAL:
				break
	kinds = [e["type"] for e in events]
	# every published event is one of runner/events.py's models, as they serialize (what web/openapi.json says)
	assert [EVENTS.dump_python(EVENTS.validate_python(e), mode="json") for e in events] == events
	assert kinds.count("experiment_started") == 2 and kinds.count("experiment_finished") == 2, kinds
	assert "task_started" in kinds and "log_line" in kinds and "run_finished" in kinds
	finished = [e for e in events if e["type"] == "experiment_finished"]
	assert all(e["status"] == "success" and e["figures"]["output_throughput"] > 0 for e in finished), finished
	assert events[-1]["status"] == "completed"

	task = client.get(f"/api/tasks/{tid}").json()
	assert task["status"] == "completed" and task["experiments_successful"] == 2 and task["best_experiment_id"]
	exps = client.get(f"/api/experiments/task/{tid}", params={"sort_by": "objective_value", "order": "desc"}).json()
	assert len(exps) == 2 and exps[0]["objective_value"] >= exps[1]["objective_value"]
	assert exps[0]["figures"]["mean_ttft"] > 0 and exps[0]["runs"][0]["completed"] == 4
	assert client.get(f"/api/experiments/task/{tid}", params={"status": "failed"}).json() == []
	one = client.get(f"/api/experiments/{exps[0]['id']}").json()
	assert one["params"] == exps[0]["params"]
	log = client.get(f"/api/tasks/{tid}/experiments/{one['id']}/logs", params={"tail": 200})
	assert log.status_code == 200 and "llamacpp_server" in log.text
	logs = client.get(f"/api/tasks/{tid}/logs").json()
	assert "experiment 2 success" in logs["logs"] and logs["lines"] >= 4
	with client.stream("GET", f"/api/tasks/{tid}/logs", params={"follow": True}) as r:
		assert r.headers["content-type"].startswith("text/event-stream")
		body = "".join(r.iter_text())
	assert "data: " in body and "experiment 1 started" in body and "event: end" in body
	assert '"completed"' in body.split("event: end")[-1]
	timeline = client.get("/api/dashboard/experiment-timeline").json()
	assert len(timeline) == 2 and timeline[0]["task_name"] == "api-run"
	assert client.post(f"/api/tasks/{tid}/start").status_code == 409  # completed: restart or clear
	assert client.delete(f"/api/tasks/{tid}").status_code == 204
	assert client.get(f"/api/experiments/{one['id']}").status_code == 404


def test_cancel_stops_the_engine_then_start_resumes(client: TestClient, model_path: Path) -> None:
	before = engine_pids()
	long = tiny_spec(model_path, "api-cancel", max_requests_per_iteration=100000, max_time_per_iteration=4)
	tid = client.post("/api/tasks/", json=long, params={"start": True}).json()["id"]
	with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws:
		while True:
			ev = ws.receive_json()
			if ev["type"] == "run_started":
				break
	assert engine_pids() - before, "the engine should be running"
	t0 = time.monotonic()
	task = client.post(f"/api/tasks/{tid}/cancel", params={"wait": 15}).json()
	assert task["status"] == "cancelled", task
	while engine_pids() - before and time.monotonic() - t0 < 10:
		time.sleep(0.1)
	assert not engine_pids() - before, "engine process still running 10 s after cancel"
	exps = client.get(f"/api/experiments/task/{tid}").json()
	assert [e["status"] for e in exps] == ["interrupted"]
	interrupted = exps[0]
	assert client.post(f"/api/tasks/{tid}/cancel").status_code == 409

	assert client.post(f"/api/tasks/{tid}/start").json()["status"] in ("queued", "running")
	task = wait_status(client, tid, FINAL)
	assert task["status"] == "completed", task
	exps = client.get(f"/api/experiments/task/{tid}").json()
	assert [e["status"] for e in exps] == ["success", "success"]  # the interrupted one measured again, same row
	assert exps[0]["id"] == interrupted["id"] and exps[0]["params"] == interrupted["params"]
	assert not engine_pids() - before
	text = client.get(f"/api/tasks/{tid}/logs").json()["logs"]
	assert "status: cancelled" in text and text.count("status: running") == 2


def test_cancel_of_a_queued_task_and_restart(client: TestClient, model_path: Path) -> None:
	app_queue = client.app.state.queue  # type: ignore[attr-defined]
	app_queue.stop()  # no worker: the task stays queued
	tid = client.post("/api/tasks/", json=tiny_spec(model_path, "api-queued"), params={"start": True}).json()["id"]
	assert client.get(f"/api/tasks/{tid}").json()["status"] == "queued"
	assert client.post(f"/api/tasks/{tid}/cancel").json()["status"] == "cancelled"
	assert client.post(f"/api/tasks/{tid}/restart").json()["status"] == "queued"
	data = json.dumps(client.get("/api/dashboard/worker-status").json())
	assert '"queued": 1' in data
