"""Prometheus /metrics: scraped from the API after a real predicted tuning, parsed with prometheus_client's parser."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from inference_autotuner import telemetry, users
from inference_autotuner.api import Settings, create_app

REPO = Path(__file__).resolve().parents[1]
FINAL = ("completed", "failed", "cancelled", "interrupted")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
	out = {}
	for family in text_string_to_metric_families(text):
		for s in family.samples:
			out[(s.name, tuple(sorted(s.labels.items())))] = s.value
	return out


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
	return sum(v for (n, ls), v in found.items() if n == name and all((k, v2) in ls for k, v2 in labels.items()))


def predicted_spec() -> dict[str, Any]:
	return {
		"task_name": "metrics-pred",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [16, 64]},
		"parallel_config": {"tp": [1, 2]},
		"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "strategy": "grid_search"},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [32]},
		"slo": {"tpot": {"threshold": 0.03, "hard_fail": True, "fail_ratio": 0.0}},
	}


def test_reason_classes_are_a_small_fixed_set() -> None:
	assert telemetry.reason_class("success", None) == "none"
	assert telemetry.reason_class("failed", "engine not ready after 600 s (startup_timeout; timeout)") == (
		"startup_timeout"
	)
	assert telemetry.reason_class("failed", "the engine ran out of memory (exit code 1; out-of-memory)") == (
		"out_of_memory"
	)
	assert telemetry.reason_class("infeasible", "every run with data (2) violated a hard SLO, e.g. tpot") == "slo"
	assert telemetry.reason_class("failed", "timed out after 120 s (timeout_per_iteration)") == "timeout"
	assert telemetry.reason_class("failed", "something new 42") == "other"
	assert {telemetry.reason_class("failed", r) for r in ("a", "cancelled during the load run")} <= set(
		telemetry.REASON_CLASSES
	)


@pytest.mark.skipif(importlib.util.find_spec("aiconfigurator") is None, reason="needs the predict extra")
@pytest.mark.timeout(300)
def test_metrics_after_a_predicted_tuning() -> None:
	before = samples(telemetry.exposition(None)[0].decode())
	with TestClient(create_app(Settings()), base_url="http://localhost") as client:
		tid = client.post("/api/tasks/", json=predicted_spec()).json()["id"]
		assert client.post(f"/api/tasks/{tid}/start").json()["status"] in ("queued", "running")
		deadline = time.monotonic() + 240
		while (task := client.get(f"/api/tasks/{tid}").json())["status"] not in FINAL:
			assert time.monotonic() < deadline, task
			time.sleep(0.3)
		assert task["status"] == "completed", task
		experiments = client.get(f"/api/experiments/task/{tid}").json()
		t0 = time.perf_counter()
		res = client.get("/metrics")
		scrape = time.perf_counter() - t0
		assert res.status_code == 200, res.text
		assert res.headers["content-type"].startswith("text/plain")
		found = samples(res.text)
		# the store collector: tasks by status, queue depth, the in-process worker
		assert total(found, "autotuner_tasks", status="completed") == 1
		assert total(found, "autotuner_tasks", status="running") == 0
		assert total(found, "autotuner_queue_depth") == 0
		assert total(found, "autotuner_workers", state="idle") == 1
		# counted from the runner's events (this process's counters also hold earlier tests' figures: compare deltas)
		n = len(experiments)
		assert n == 4  # max-num-seqs x tp

		def delta(name: str, **labels: str) -> float:
			return total(found, name, **labels) - total(before, name, **labels)

		assert delta("autotuner_experiments_started_total") == n
		assert delta("autotuner_experiments_finished_total") == n
		for status in {e["status"] for e in experiments}:
			want = sum(e["status"] == status for e in experiments)
			assert delta("autotuner_experiments_finished_total", status=status) == want
			assert delta("autotuner_experiment_duration_seconds_count", status=status) == want
		infeasible = [e for e in experiments if e["status"] == "infeasible"]
		if infeasible:  # an SLO (TPOT 30 ms hard) rules some out: counted under the slo reason class
			assert delta("autotuner_experiments_finished_total", status="infeasible") == len(infeasible)
		assert delta("autotuner_experiment_duration_seconds_sum") > 0
		assert delta("autotuner_runs_total", predicted="true") >= 1
		assert delta("autotuner_load_client_lag_seconds_count") == 0  # predicted runs send no load
		assert delta("autotuner_task_runs_finished_total", status="completed") == 1
		# a process-wide gauge: this task left it (earlier tests in the process may have left their own tasks there)
		assert delta("autotuner_tasks_in_progress") == 0
		assert total(found, "process_cpu_seconds_total") > 0
		assert scrape < 1.0

		# every metric the Grafana dashboard queries is in the exposition
		dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
		exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
		queried = {m for e in exprs for m in re.findall(r"\b(autotuner_[a-z_]+)", e)}
		assert len(queried) >= 10
		assert queried <= {name for name, _ in found}, queried - {name for name, _ in found}

		# OpenMetrics when the scraper asks for it (Prometheus does)
		om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
		assert om.headers["content-type"].startswith("application/openmetrics-text")
		assert om.text.rstrip().endswith("# EOF")

		# once a user exists, /metrics is a read like any other: a viewer token
		_, token = users.add_user(client.app.state.store, "prom", "viewer")  # type: ignore[attr-defined]
		assert client.get("/metrics").status_code == 401
		assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_worker_metrics_port_serves_the_same_counters() -> None:
	"""`autotuner worker --metrics-port` uses serve_metrics: prometheus-client's own HTTP server on the event
	registry (no store collector: the API serves tasks by status)."""
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
	telemetry.serve_metrics(port)
	telemetry.observe({"type": "engine_ready", "seconds": 1.5})
	telemetry.observe({"type": "run_finished", "metrics": {"predicted": False, "max_send_lag": 0.004}})
	found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
	assert total(found, "autotuner_engine_start_seconds_count") >= 1
	assert total(found, "autotuner_load_client_lag_seconds_bucket", le="0.005") >= 1
	assert not any(name == "autotuner_tasks" for name, _ in found)
