"""API latency with a big database: p50/p95 of the list/detail routes, and the WebSocket event delay.

Fills a fresh SQLite database (temporary data dir) with `--experiments` experiments spread over `--tasks` tasks
(bulk insert through SQLAlchemy core; realistic params, figures, runs and scoring JSON), starts the real API
(uvicorn, in a thread of this process, on a free port, worker off) and times `--repeat` requests per route over a
keep-alive HTTP connection. Then it measures the path a worker's event takes to a WebSocket client: a thread does
what the runner does when an experiment finishes (commit the experiment row through the app's store, then emit
`experiment_finished` through the worker's TaskLog into the app's EventHub) while a client reads
/api/ws/tasks/{id}; the delay is from the start of the store write to the client's receipt.

    python benchmarks/api_latency.py                       # 100k experiments, 100 tasks
    python benchmarks/api_latency.py --experiments 2000 --repeat 5 --json out.json

Goals (issue 5): p95 < 50 ms per route; WebSocket delay < 100 ms. Exit status 0 unless --strict and a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROUTE_GOAL_MS = 50.0
WS_GOAL_MS = 100.0


def _pct(values: list[float], p: float) -> float:
	s = sorted(values)
	if not s:
		return float("nan")
	k = (len(s) - 1) * p
	lo, hi = int(k), min(int(k) + 1, len(s) - 1)
	return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _figures(rng: random.Random) -> dict[str, Any]:
	ttft = rng.uniform(0.02, 0.8)
	tpot = rng.uniform(0.005, 0.06)
	return {
		"mean_ttft": ttft,
		"p50_ttft": ttft * 0.9,
		"p90_ttft": ttft * 1.6,
		"p99_ttft": ttft * 2.4,
		"mean_tpot": tpot,
		"p90_tpot": tpot * 1.3,
		"mean_e2e_latency": ttft + tpot * 128,
		"p90_e2e_latency": (ttft + tpot * 128) * 1.4,
		"output_throughput": rng.uniform(50, 4000),
		"request_throughput": rng.uniform(0.5, 40),
		"total_throughput": rng.uniform(100, 9000),
		"goodput": rng.uniform(0, 30),
		"completed": rng.randint(50, 200),
		"errors": rng.choice([0, 0, 0, 1, 3]),
	}


def _run(rng: random.Random, concurrency: int) -> dict[str, Any]:
	return {
		"scenario": "D(100,100)",
		"concurrency": concurrency,
		"completed": rng.randint(20, 100),
		"failed": 0,
		"duration": rng.uniform(5, 60),
		"mean_ttft": rng.uniform(0.02, 0.8),
		"p99_ttft": rng.uniform(0.1, 2),
		"mean_tpot": rng.uniform(0.005, 0.06),
		"output_throughput": rng.uniform(50, 4000),
		"request_throughput": rng.uniform(0.5, 40),
	}


def fill(db_url: str, n_tasks: int, n_experiments: int, seed: int = 1) -> dict[str, int]:
	"""A fresh, migrated database with n_tasks tasks and n_experiments experiments; returns ids to query."""
	from sqlalchemy import insert

	from inference_autotuner.store import Experiment, Store, Task

	rng = random.Random(seed)
	store = Store(db_url)
	now = datetime.now(UTC)
	spec = {
		"task_name": "",
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llamacpp",
		"parameters": {"parallel": [1, 2, 4, 8], "threads": [1, 2, 4], "batch-size": [256, 512, 1024]},
		"optimization": {"strategy": "bayesian", "objective": "maximize_throughput", "max_iterations": 1000},
		"benchmark": {"traffic_scenarios": ["D(100,100)"], "num_concurrency": [1, 4, 16]},
	}
	statuses = ["success"] * 8 + ["failed", "infeasible"]
	with store.engine.begin() as conn:
		conn.execute(
			insert(Task.__table__),
			[
				{
					"name": f"bench-task-{i:04d}",
					"description": "api latency benchmark",
					"spec": {**spec, "task_name": f"bench-task-{i:04d}"},
					"engine": "llamacpp",
					"deployment_mode": "local",
					"status": rng.choice(["completed", "completed", "failed", "cancelled", "pending"]),
					"study_name": f"autotuner-task-{i}",
					"created_at": now - timedelta(days=30),
					"elapsed": rng.uniform(100, 10000),
				}
				for i in range(1, n_tasks + 1)
			],
		)
	per_task = [n_experiments // n_tasks + (1 if i < n_experiments % n_tasks else 0) for i in range(n_tasks)]
	batch: list[dict[str, Any]] = []
	span = timedelta(days=30).total_seconds()

	def flush() -> None:
		with store.engine.begin() as conn:
			conn.execute(insert(Experiment.__table__), batch)
		batch.clear()

	for t, count in enumerate(per_task, start=1):
		for n in range(1, count + 1):
			params = {"parallel": rng.choice([1, 2, 4, 8]), "threads": rng.choice([1, 2, 4]), "batch-size": 512}
			status = rng.choice(statuses)
			ok = status == "success"
			started = now - timedelta(seconds=rng.uniform(0, span))
			duration = rng.uniform(20, 300)
			figures = _figures(rng) if ok else None
			batch.append(
				{
					"task_id": t,
					"number": n,
					"trial_number": n - 1,
					"params": params,
					"params_key": json.dumps(params, sort_keys=True),
					"status": status,
					"objective_value": figures["output_throughput"] if figures else None,
					"score": -figures["output_throughput"] if figures else None,
					"figures": figures,
					"runs": [_run(rng, c) for c in (1, 4, 16)] if ok else None,
					"scoring": {"penalty": 0.0, "violations": [], "objective": "maximize_throughput"} if ok else None,
					"failure_reason": None if ok else "engine exited with code 1 during startup",
					"gpu_info": {"count": 1, "name": "NVIDIA H100 80GB HBM3", "memory_total_mb": 81559},
					"launch_argv": ["llama-server", "--parallel", str(params["parallel"]), "--port", "30001"],
					"launch_command": f"llama-server --parallel {params['parallel']} --port 30001",
					"log_path": None,
					"predicted": False,
					"started_at": started,
					"finished_at": started + timedelta(seconds=duration),
					"duration": duration,
					"startup_seconds": rng.uniform(2, 30),
					"bench_seconds": duration * 0.8,
				}
			)
			if len(batch) >= 5000:
				flush()
	if batch:
		flush()
	store.engine.dispose()
	biggest = max(range(n_tasks), key=lambda i: per_task[i]) + 1
	return {"task_id": biggest, "task_experiments": per_task[biggest - 1], "experiment_id": max(1, n_experiments // 2)}


class Server:
	"""The real app under uvicorn in a daemon thread (worker off: nothing gets run)."""

	def __init__(self, db_url: str) -> None:
		import uvicorn

		from inference_autotuner.api import Settings, create_app
		from inference_autotuner.deploy.ports import free_port

		self.app = create_app(Settings(db_url=db_url, run_worker=False))
		self.port = free_port()
		self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
		self.thread = threading.Thread(target=self.server.run, daemon=True)

	def __enter__(self) -> Server:
		self.thread.start()
		deadline = time.monotonic() + 60
		while not self.server.started:
			if time.monotonic() > deadline or not self.thread.is_alive():
				raise RuntimeError("the API server did not start")
			time.sleep(0.05)
		return self

	def __exit__(self, *_: Any) -> None:
		self.server.should_exit = True
		self.thread.join(30)

	@property
	def base(self) -> str:
		return f"http://127.0.0.1:{self.port}"


def time_routes(base: str, ids: dict[str, int], repeat: int) -> list[dict[str, Any]]:
	import httpx

	tid, eid, n = ids["task_id"], ids["experiment_id"], ids["task_experiments"]
	last_page = max(0, n - 50)
	routes: list[tuple[str, str, dict[str, Any]]] = [
		("tasks list (100)", "/api/tasks/", {"limit": 100}),
		("tasks list, status filter", "/api/tasks/", {"status": "completed", "limit": 100}),
		("task detail", f"/api/tasks/{tid}", {}),
		("task by name", f"/api/tasks/name/bench-task-{tid:04d}", {}),
		("experiments by task, page 1 (50)", f"/api/experiments/task/{tid}", {"limit": 50}),
		("experiments by task, last page", f"/api/experiments/task/{tid}", {"limit": 50, "skip": last_page}),
		(
			"experiments by task, best by score",
			f"/api/experiments/task/{tid}",
			{"sort_by": "score", "order": "asc", "status": "success", "limit": 50},
		),
		("experiments by task, all (info)", f"/api/experiments/task/{tid}", {"limit": 10000}),
		("one experiment", f"/api/experiments/{eid}", {}),
		("dashboard db-statistics", "/api/dashboard/db-statistics", {}),
		("dashboard worker-status", "/api/dashboard/worker-status", {}),
		("dashboard experiment-timeline", "/api/dashboard/experiment-timeline", {"hours": 24}),
	]
	out = []
	with httpx.Client(base_url=base, timeout=60) as c:
		for label, path, params in routes:
			r = c.get(path, params=params)  # warm-up (and a correctness check)
			if r.status_code != 200:
				raise RuntimeError(f"{label}: GET {path} -> {r.status_code}: {r.text[:300]}")
			times = []
			for _ in range(repeat):
				t0 = time.perf_counter()
				r = c.get(path, params=params)
				_ = r.content
				times.append((time.perf_counter() - t0) * 1000)
				if r.status_code != 200:
					raise RuntimeError(f"{label}: GET {path} -> {r.status_code}")
			out.append(
				{
					"route": label,
					"path": path,
					"params": params,
					"bytes": len(r.content),
					"p50_ms": statistics.median(times),
					"p95_ms": _pct(times, 0.95),
					# a whole task's experiments (about 1.5 KB of JSON each) is a payload, not a page: shown, not judged
					"goal_ms": None if label.endswith("(info)") else ROUTE_GOAL_MS,
				}
			)
	return out


def time_websocket(srv: Server, task_id: int, events: int) -> dict[str, Any]:
	"""Delay from the store write of a finished experiment to the client receiving `experiment_finished`."""
	from sqlalchemy import select
	from websockets.sync.client import connect

	from inference_autotuner.store import Experiment, Task
	from inference_autotuner.worker.execute import TaskLog

	store = srv.app.state.store
	hub = srv.app.state.hub
	with store.session() as s:
		name = s.scalar(select(Task.name).where(Task.id == task_id))
		exp_ids = list(s.scalars(select(Experiment.id).where(Experiment.task_id == task_id).limit(events)))
	emit = TaskLog(task_id, str(name), hub.publish)
	sent: dict[int, tuple[float, float]] = {}
	write_delays: list[float] = []
	publish_delays: list[float] = []
	got = threading.Event()
	with connect(f"ws://127.0.0.1:{srv.port}/api/ws/tasks/{task_id}", open_timeout=30) as ws:
		first = json.loads(ws.recv(timeout=30))
		assert first.get("snapshot"), first
		deadline = time.monotonic() + 30
		while hub.subscribers() < 1 and time.monotonic() < deadline:
			time.sleep(0.01)

		def reader() -> None:
			while len(write_delays) < len(exp_ids):
				msg = json.loads(ws.recv(timeout=30))
				now = time.perf_counter()
				seq = (msg.get("figures") or {}).get("bench_seq")  # events carry their model's fields only
				if msg.get("type") == "experiment_finished" and seq in sent:
					t_write, t_emit = sent[seq]
					write_delays.append((now - t_write) * 1000)
					publish_delays.append((now - t_emit) * 1000)
					got.set()

		rt = threading.Thread(target=reader, daemon=True)
		rt.start()
		for seq, eid in enumerate(exp_ids):  # what TaskRunner does when an experiment finishes
			got.clear()
			t_write = time.perf_counter()
			with store.session() as s:
				exp = s.get(Experiment, eid)
				assert exp is not None
				exp.status = "success"
				exp.figures = {**(exp.figures or {}), "bench_seq": seq}
				exp.finished_at = datetime.now(UTC)
			t_emit = time.perf_counter()
			sent[seq] = (t_write, t_emit)
			emit(
				{
					"type": "experiment_finished",
					"number": seq + 1,
					"status": "success",
					"objective_value": 1.0,
					"figures": exp.figures,
				}
			)
			if not got.wait(10):
				raise RuntimeError(f"WebSocket event {seq} did not arrive within 10 s")
			time.sleep(0.02)
		rt.join(10)
	return {
		"events": len(write_delays),
		"p50_ms": statistics.median(write_delays),
		"p95_ms": _pct(write_delays, 0.95),
		"max_ms": max(write_delays),
		"publish_to_client_p50_ms": statistics.median(publish_delays),
		"publish_to_client_p95_ms": _pct(publish_delays, 0.95),
		"goal_ms": WS_GOAL_MS,
	}


def main(argv: list[str] | None = None) -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	ap.add_argument("--experiments", type=int, default=100_000)
	ap.add_argument("--tasks", type=int, default=100)
	ap.add_argument("--repeat", type=int, default=100, help="timed requests per route")
	ap.add_argument("--ws-events", type=int, default=50)
	ap.add_argument("--data-dir", type=Path, default=None, help="default: a temporary folder, removed at the end")
	ap.add_argument("--json", type=Path, default=None, help="also write the results here")
	ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
	args = ap.parse_args(argv)
	if args.tasks < 1 or args.experiments < args.tasks:
		ap.error("need --tasks >= 1 and --experiments >= --tasks")

	tmp = args.data_dir or Path(tempfile.mkdtemp(prefix="autotuner-api-latency-"))
	tmp.mkdir(parents=True, exist_ok=True)
	os.environ["AUTOTUNER_DATA_DIR"] = str(tmp)
	os.environ.pop("AUTOTUNER_DB", None)
	db_url = f"sqlite:///{tmp / 'bench.db'}"
	try:
		t0 = time.perf_counter()
		ids = fill(db_url, args.tasks, args.experiments)
		fill_s = time.perf_counter() - t0
		db_mb = (tmp / "bench.db").stat().st_size / 1e6
		print(f"filled {args.experiments} experiments over {args.tasks} tasks in {fill_s:.1f} s ({db_mb:.0f} MB)")
		with Server(db_url) as srv:
			routes = time_routes(srv.base, ids, args.repeat)
			ws = time_websocket(srv, ids["task_id"], args.ws_events)
	finally:
		if args.data_dir is None:
			shutil.rmtree(tmp, ignore_errors=True)

	print(f"\n{'route':38} {'p50 ms':>8} {'p95 ms':>8} {'goal':>6} {'p95/goal':>9}  ok")
	ok_all = True
	for r in routes:
		if r["goal_ms"] is None:
			print(f"{r['route']:38} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {'-':>6} {'-':>9}  ({r['bytes'] // 1000} kB)")
			continue
		ratio = r["p95_ms"] / r["goal_ms"]
		ok_all &= ratio < 1
		ok = "yes" if ratio < 1 else "NO"
		print(f"{r['route']:38} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['goal_ms']:6.0f} {ratio:9.2f}  {ok}")
	ratio = ws["p95_ms"] / ws["goal_ms"]
	ok_all &= ratio < 1
	print(
		f"{'WebSocket: store write -> client':38} {ws['p50_ms']:8.2f} {ws['p95_ms']:8.2f} {ws['goal_ms']:6.0f} "
		f"{ratio:9.2f}  {'yes' if ratio < 1 else 'NO'}"
	)
	print(
		f"  ({ws['events']} events; publish -> client p50 {ws['publish_to_client_p50_ms']:.2f} ms, "
		f"p95 {ws['publish_to_client_p95_ms']:.2f} ms)"
	)
	result = {
		"experiments": args.experiments,
		"tasks": args.tasks,
		"repeat": args.repeat,
		"fill_seconds": fill_s,
		"db_mb": db_mb,
		"routes": routes,
		"websocket": ws,
		"all_goals_met": ok_all,
	}
	if args.json:
		args.json.write_text(json.dumps(result, indent=2))
	return 1 if args.strict and not ok_all else 0


if __name__ == "__main__":
	sys.exit(main())
