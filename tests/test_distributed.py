"""One task across several workers (issue 23, docs/distributed.md), on one machine: worker processes that pretend to
be hosts (distinct names, distinct CPU cores) on a real PostgreSQL and a real Redis join one llama.cpp task; one is
killed with -9 mid-experiment, or cut off from PostgreSQL for a while, or Redis restarts. Checks: every planned
configuration measured once, the lost one measured again by a live worker, every trial final in the study (the lost
one FAIL, its retry COMPLETE), no engine process left."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import redis
from fastapi.testclient import TestClient
from optuna.trial import TrialState
from sqlalchemy import make_url, select
from tcp_cut import TcpCut
from test_api_postgres import pg_url  # noqa: F401  (fixture: a throwaway PostgreSQL database)
from test_api_worker import engine_pids, wait_status
from test_worker_redis import redis_url, stop_worker  # noqa: F401  (fixture: a real redis-server)

from inference_autotuner.api import Settings, create_app
from inference_autotuner.store import Experiment, Store, Task
from inference_autotuner.worker import task_log_path

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(420)]


def spec(model_path: Path, name: str) -> dict[str, Any]:
	"""Six configurations (grid), up to three at once, each engine on one core; a few short requests each."""
	return {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2, 3], "threads": [1], "ctx-size": [512, 1024]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 6,
			"max_parallel": 3,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(16,16)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 8,
			"warmup_requests": 0,
		},
	}


def start(db: str, url: str, name: str, cpus: str, log: Path) -> subprocess.Popen[bytes]:
	cmd = [sys.executable, "-m", "inference_autotuner.cli", "worker", "--db", db, "--redis", url, "--name", name]
	cmd += ["--cpus", cpus, "--heartbeat-interval", "1", "--grace-period", "4"]
	return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=dict(os.environ))


@pytest.fixture
def cluster(pg_url: str, redis_url: str) -> Iterator[tuple[TestClient, str, str]]:  # noqa: F811
	with TestClient(
		create_app(Settings(db_url=pg_url, redis_url=redis_url)),
		base_url="http://localhost",
		raise_server_exceptions=False,
	) as c:
		yield c, pg_url, redis_url


def test_workers_share_a_task_and_survive_a_kill(
	cluster: tuple[TestClient, str, str], model_path: Path, tmp_path: Path
) -> None:
	client, db, url = cluster
	cores = sorted(os.sched_getaffinity(0))
	names = {"w1": str(cores[0]), "w2": str(cores[-1]), "w3": str(cores[0])}
	before = engine_pids()
	workers = {n: start(db, url, n, c, tmp_path / f"{n}.log") for n, c in names.items()}
	r = redis.Redis.from_url(url)
	store = Store(db)
	logs = lambda: "\n".join(f"--- {n}\n" + (tmp_path / f"{n}.log").read_text()[-2500:] for n in names)  # noqa: E731
	try:
		tid = client.post("/api/tasks/", json=spec(model_path, "spread"), params={"start": True}).json()["id"]
		# wait for a helper (not the task's own worker) to be measuring, then kill it with -9
		victim, number = None, None
		deadline = time.monotonic() + 180
		while victim is None and time.monotonic() < deadline:
			owner = (r.get(f"autotuner:owner:{tid}") or b"").decode()
			with store.session() as s:
				rows = s.scalars(
					select(Experiment).where(Experiment.task_id == tid, Experiment.status == "running")
				).all()
				for e in rows:
					if e.worker and e.worker != owner and e.started_at is not None:
						victim, number = e.worker, e.number
			time.sleep(0.3)
		assert victim is not None, logs()
		time.sleep(1.0)  # its engine is starting or under load
		workers[victim].send_signal(signal.SIGKILL)
		workers[victim].wait()
		served = {w["id"]: w for w in client.get("/api/workers/").json()}
		alive = set(names) - {victim}
		assert alive <= set(served), served
		assert all(served[n]["resources"]["cpus"] == [int(names[n])] for n in alive), served
		assert all(served[n]["tasks"] == [tid] or served[n]["joined"] == [tid] for n in alive), served

		task = wait_status(client, tid, ("completed", "failed", "cancelled"), timeout=300)
		assert task["status"] == "completed", (task, logs())
		exps = client.get(f"/api/experiments/task/{tid}").json()
		# every planned configuration measured once (6 rows, 6 distinct configurations, all finished)
		assert len(exps) == 6 and all(e["status"] == "success" for e in exps), (exps, logs())
		keys = {tuple(sorted(e["params"].items())) for e in exps}
		assert len(keys) == 6
		assert all(e["worker"] in names and e["host"] for e in exps)
		assert len({e["worker"] for e in exps}) >= 2, "the task was not spread over workers"
		# the killed experiment: measured again by a live worker, in the same row
		killed = next(e for e in exps if e["number"] == number)
		assert killed["worker"] != victim, killed
		assert f"experiment {number}: worker {victim} was lost" in task_log_path(tid, "spread").read_text()
		# every trial's final state in the study: the lost one FAIL, its retry (same params) COMPLETE
		with store.session() as s:
			study_name = s.get(Task, tid).study_name  # type: ignore[union-attr]
		study = optuna.load_study(study_name=study_name, storage=db)
		trials = study.get_trials(deepcopy=False)
		assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in trials), [t.state for t in trials]
		complete = [t for t in trials if t.state == TrialState.COMPLETE]
		assert len(complete) == 6 and len({tuple(sorted(t.params.items())) for t in complete}) == 6
		retry = next(t for t in complete if t.number == killed["trial_number"])
		lost = retry.system_attrs.get("retry_history") or []
		assert lost and all(study.trials[n].state == TrialState.FAIL for n in lost), retry.system_attrs
		assert study.trials[lost[0]].params == retry.params

		# the killed host's worker restarts: it sweeps what its predecessor left (an engine still starting when its
		# worker was killed can outlive it), before it announces itself; nothing is left running
		left = engine_pids() - before
		workers[victim] = start(db, url, victim, names[victim], tmp_path / f"{victim}.log")
		deadline = time.monotonic() + 90
		while not r.exists(f"autotuner:worker:{victim}") and time.monotonic() < deadline:
			time.sleep(0.2)
		assert r.exists(f"autotuner:worker:{victim}"), logs()
		assert not engine_pids() & left, "the restarted worker did not sweep its predecessor's engine"
		if left:
			assert "left by a killed worker" in (tmp_path / f"{victim}.log").read_text()
	finally:
		for proc in workers.values():
			stop_worker(proc)
		store.engine.dispose()
	deadline = time.monotonic() + 15
	while engine_pids() - before and time.monotonic() < deadline:
		time.sleep(0.2)
	assert not engine_pids() - before, "an engine process was left behind"


class Redis:
	"""A redis-server this test may stop and start again on the same port (no persistence: a restart loses all)."""

	def __init__(self, tmp: Path) -> None:
		from test_worker_redis import _free_port

		self.port, self.tmp = _free_port(), tmp
		self.url = f"redis://127.0.0.1:{self.port}/0"
		self.proc: subprocess.Popen[bytes] | None = None

	def start(self) -> None:
		exe = shutil.which("redis-server")
		if exe is None:
			pytest.skip("redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)")
		args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
		self.proc = subprocess.Popen(
			[*args, "--dir", str(self.tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
		)
		deadline = time.monotonic() + 10
		while time.monotonic() < deadline:
			try:
				if redis.Redis.from_url(self.url).ping():
					return
			except redis.RedisError:
				time.sleep(0.05)

	def stop(self) -> None:
		if self.proc is not None:
			self.proc.terminate()
			self.proc.wait(10)
			self.proc = None


def test_a_redis_restart_loses_nothing(pg_url: str, model_path: Path, tmp_path: Path) -> None:  # noqa: F811
	server = Redis(tmp_path)
	server.start()
	cores = sorted(os.sched_getaffinity(0))
	names = {"w1": str(cores[0]), "w2": str(cores[-1])}
	before = engine_pids()
	store = Store(pg_url)
	body = spec(model_path, "redis-restart")
	body["parameters"]["ctx-size"] = [512]  # three configurations, two at once
	body["optimization"] |= {"max_iterations": 3, "max_parallel": 2}
	workers: dict[str, subprocess.Popen[bytes]] = {}
	try:
		with TestClient(
			create_app(Settings(db_url=pg_url, redis_url=server.url)),
			base_url="http://localhost",
			raise_server_exceptions=False,
		) as client:
			workers = {n: start(pg_url, server.url, n, c, tmp_path / f"{n}.log") for n, c in names.items()}
			tid = client.post("/api/tasks/", json=body, params={"start": True}).json()["id"]
			deadline = time.monotonic() + 120
			while time.monotonic() < deadline:
				with store.session() as s:
					running = s.scalars(
						select(Experiment.worker).where(Experiment.task_id == tid, Experiment.status == "running")
					).all()
				if len(set(running)) == 2:
					break
				time.sleep(0.3)
			server.stop()  # both workers measuring: Redis goes away (and comes back empty)
			time.sleep(4)
			server.start()
			task = wait_status(client, tid, ("completed", "failed", "cancelled"), timeout=240)
			logs = "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in names)
			assert task["status"] == "completed", (task, logs)
			exps = client.get(f"/api/experiments/task/{tid}").json()
			assert len(exps) == 3 and all(e["status"] == "success" for e in exps), (exps, logs)
			assert len({tuple(sorted(e["params"].items())) for e in exps}) == 3
			with store.session() as s:
				study_name = s.get(Task, tid).study_name  # type: ignore[union-attr]
			trials = optuna.load_study(study_name=study_name, storage=pg_url).get_trials(deepcopy=False)
			complete = [t for t in trials if t.state == TrialState.COMPLETE]
			assert len(complete) == 3 and all(t.state != TrialState.RUNNING for t in trials)
			assert all(p.poll() is None for p in workers.values()), "a worker died with Redis"
	finally:
		for proc in workers.values():
			stop_worker(proc)
		server.stop()
		store.engine.dispose()
	deadline = time.monotonic() + 15
	while engine_pids() - before and time.monotonic() < deadline:
		time.sleep(0.2)
	assert not engine_pids() - before


def test_a_worker_losing_postgres_loses_nothing(
	cluster: tuple[TestClient, str, str], model_path: Path, tmp_path: Path
) -> None:
	"""Each worker reaches PostgreSQL through a TCP forwarder of its own (tests/tcp_cut.py; the shared server keeps
	serving the others); a helper's is cut while it measures and stays cut until a live worker has taken over that
	experiment, then comes back on the same port. The cut worker lives on, its measurement is dropped (not recorded,
	not told), and every configuration ends measured once."""
	client, db, url = cluster
	target = make_url(db)
	cores = sorted(os.sched_getaffinity(0))
	names = {"w1": str(cores[0]), "w2": str(cores[-1]), "w3": str(cores[0])}
	proxies = {n: TcpCut(target.host or "127.0.0.1", target.port or 5432) for n in names}
	via = {
		n: target.set(host="127.0.0.1", port=p.port).render_as_string(hide_password=False) for n, p in proxies.items()
	}
	before = engine_pids()
	workers = {n: start(via[n], url, n, c, tmp_path / f"{n}.log") for n, c in names.items()}
	r = redis.Redis.from_url(url)
	store = Store(db)
	logs = lambda: "\n".join(f"--- {n}\n" + (tmp_path / f"{n}.log").read_text()[-2500:] for n in names)  # noqa: E731
	try:
		tid = client.post("/api/tasks/", json=spec(model_path, "pg-cut"), params={"start": True}).json()["id"]
		victim, number = None, None
		deadline = time.monotonic() + 180
		while victim is None and time.monotonic() < deadline:
			owner = (r.get(f"autotuner:owner:{tid}") or b"").decode()
			with store.session() as s:
				for e in s.scalars(select(Experiment).where(Experiment.task_id == tid, Experiment.status == "running")):
					if e.worker and e.worker != owner and e.started_at is not None:
						victim, number = e.worker, e.number
			time.sleep(0.3)
		assert victim is not None, logs()
		time.sleep(1.0)  # its engine is starting or under load
		proxies[victim].cut()
		cut_at = time.monotonic()
		# cut until a live worker has taken the experiment over (its heartbeat older than the grace period)
		taken = None
		while time.monotonic() - cut_at < 180:
			with store.session() as s:
				row = s.scalars(select(Experiment).where(Experiment.task_id == tid, Experiment.number == number)).one()
				if row.worker != victim:
					taken = row.worker
					break
			time.sleep(0.3)
		time.sleep(2.0)  # the cut worker's own asks and writes keep failing a little longer
		proxies[victim].restore()
		assert taken is not None, logs()

		task = wait_status(client, tid, ("completed", "failed", "cancelled"), timeout=300)
		assert task["status"] == "completed", (task, logs())
		assert workers[victim].poll() is None, "the worker that lost the database died:\n" + logs()
		log = task_log_path(tid, "pg-cut")
		assert f"experiment {number}: worker {victim} was lost" in log.read_text()
		# the cut worker may still be measuring its copy when the task completes (a suspect run measured again
		# prolongs it): its drop is logged when that measurement ends
		dropped = (f"experiment {number}: database lost", f"experiment {number}: its trial was failed meanwhile")
		drop_deadline = time.monotonic() + 120
		while not any(m in log.read_text() for m in dropped) and time.monotonic() < drop_deadline:
			time.sleep(0.5)
		text = log.read_text()
		assert any(m in text for m in dropped), text[-3000:] + logs()
		# read after the drop: the cut worker's late result did not overwrite the row
		exps = client.get(f"/api/experiments/task/{tid}").json()
		# every planned configuration measured once: 6 rows, 6 distinct configurations, all successful
		assert len(exps) == 6 and all(e["status"] == "success" for e in exps), (exps, logs())
		assert len({tuple(sorted(e["params"].items())) for e in exps}) == 6
		cut = next(e for e in exps if e["number"] == number)
		assert cut["worker"] == taken != victim, cut  # the cut worker's late result did not overwrite the row
		# the study: every trial final, 6 COMPLETE with distinct parameters, the cut one FAIL and its retry COMPLETE
		with store.session() as s:
			study_name = s.get(Task, tid).study_name  # type: ignore[union-attr]
		study = optuna.load_study(study_name=study_name, storage=db)
		trials = study.get_trials(deepcopy=False)
		assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in trials), [t.state for t in trials]
		complete = [t for t in trials if t.state == TrialState.COMPLETE]
		assert len(complete) == 6 and len({tuple(sorted(t.params.items())) for t in complete}) == 6
		retry = next(t for t in complete if t.number == cut["trial_number"])
		lost = retry.system_attrs.get("retry_history") or []
		assert lost and all(study.trials[n].state == TrialState.FAIL for n in lost), retry.system_attrs
		assert study.trials[lost[0]].params == retry.params
		# the cut worker serves again: its Redis heartbeat record is alive
		assert r.exists(f"autotuner:worker:{victim}"), logs()
	finally:
		for proc in workers.values():
			stop_worker(proc)
		for p in proxies.values():
			p.close()
		store.engine.dispose()
	deadline = time.monotonic() + 15
	while engine_pids() - before and time.monotonic() < deadline:
		time.sleep(0.2)
	assert not engine_pids() - before, "an engine process was left behind"
