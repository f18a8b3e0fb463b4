"""One task over 1, 2 and 3 workers (issue 23, docs/distributed.md): wall time, and recovery after a worker is killed.

    AUTOTUNER_TEST_PG_URL=postgresql+psycopg://... python benchmarks/distributed.py [--experiments 12] [--token-ms 100]

Each worker is a process of its own with one experiment slot (one CPU core, as `autotuner worker --cpus N` gives),
sharing one task's study on a throwaway PostgreSQL database: the first runs the task (SharedTaskRunner), the others
join its search (JoinRunner) as soon as it opens. The engine is the zero-delay streaming server
(benchmarks/zero_server.py) slowed to --token-ms per token, so an experiment is ~6 s of waiting, not of CPU: the
figure is what the sharing costs (lock, ask, tell, heartbeats), not what 2 cores can compute. Goal: wall time close
to 1/N of one worker's.
Recovery: 3 workers, one killed with -9 mid-experiment (heartbeat 1 s, grace period 3 s): the seconds from the kill
until a live worker measures that experiment again, and the task's wall time against the run without a kill.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from inference_autotuner.runner.join import JoinRunner  # noqa: E402
from inference_autotuner.runner.shared import Cluster, SharedTaskRunner  # noqa: E402
from inference_autotuner.runner.task import get_or_create_task  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402
from inference_autotuner.store import Experiment, Store  # noqa: E402
from inference_autotuner.store.db import Heartbeat  # noqa: E402

TOKEN_MS = {"value": 100.0}
BEAT = Heartbeat(interval=1, grace_period=3, max_retry=3)


def zero_engine(token_ms: float) -> Any:
	from overhead import ZeroEngine

	class SlowZero(ZeroEngine):  # type: ignore[misc]
		def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
			return [*super().launch_argv(model, params, host=host, port=port), "--token-ms", str(token_ms)]

	return SlowZero()


def spec(name: str, n: int) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": str(REPO / "README.md")},  # any existing file: the zero server ignores it
		"base_runtime": "llama.cpp",
		"parameters": {"seed": list(range(1, n + 1))},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": n,
			"max_parallel": 3,
		},
		"benchmark": {
			"traffic_scenarios": ["D(8,8)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 4,
			"warmup_requests": 0,
		},
	}


def worker(db: str, task_id: int, name: str, first: bool, opened: Any, token_ms: float) -> None:
	"""One worker process: the task's runner (first) or a worker joining its search once it opens."""
	store = Store(db)
	cluster = Cluster(worker=name, host="bench", heartbeat=BEAT, cpu_count=1, poll=0.2)
	kw: dict[str, Any] = {"cancel": threading.Event(), "engine": zero_engine(token_ms), "cluster": cluster}
	if first:
		cluster.on_search = lambda is_open: opened.set() if is_open else None
		SharedTaskRunner(store, task_id, **kw).run()
	else:
		opened.wait(120)
		JoinRunner(store, task_id, **kw).run()


def run(db: str, n_workers: int, experiments: int, token_ms: float, kill: bool = False) -> dict[str, float]:
	store = Store(db)
	task_id = get_or_create_task(
		store, parse_spec(spec(f"dist-{n_workers}-{kill}-{uuid.uuid4().hex[:6]}", experiments))
	)
	ctx = mp.get_context("spawn")
	opened = ctx.Event()
	t0 = time.monotonic()
	procs = [
		ctx.Process(target=worker, args=(db, task_id, f"w{i + 1}", i == 0, opened, token_ms)) for i in range(n_workers)
	]
	for p in procs:
		p.start()
	out: dict[str, float] = {}
	if kill:  # kill the last worker (a joined one) with -9 while it measures
		victim = procs[-1]
		number = None
		while number is None and time.monotonic() - t0 < 120:
			with store.session() as s:
				number = s.scalar(
					select(Experiment.number).where(
						Experiment.task_id == task_id,
						Experiment.worker == f"w{n_workers}",
						Experiment.status == "running",
					)
				)
			time.sleep(0.05)
		time.sleep(0.5)
		assert victim.pid is not None
		os.kill(victim.pid, signal.SIGKILL)
		t_kill = time.monotonic()
		while time.monotonic() - t_kill < 120:
			with store.session() as s:
				row = s.scalar(select(Experiment).where(Experiment.task_id == task_id, Experiment.number == number))
				if row is not None and row.worker != f"w{n_workers}":
					out["retaken_s"] = time.monotonic() - t_kill
					break
			time.sleep(0.05)
	procs[0].join(600)
	out["wall_s"] = time.monotonic() - t0
	for p in procs[1:]:
		p.join(30)
		if p.is_alive():
			p.kill()
	with store.session() as s:
		rows = s.scalars(select(Experiment).where(Experiment.task_id == task_id)).all()
		out["experiments"] = len(rows)
		out["success"] = sum(1 for e in rows if e.status == "success")
		out["distinct"] = len({e.params_key for e in rows})
		out["workers"] = len({e.worker for e in rows})
		starts = [e.started_at for e in rows if e.started_at is not None]
		ends = [e.finished_at for e in rows if e.finished_at is not None]
		out["search_s"] = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
	store.engine.dispose()
	return out


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--experiments", type=int, default=12)
	ap.add_argument("--token-ms", type=float, default=400.0, help="the zero server's delay per token")
	ap.add_argument("--part", choices=("all", "scaling", "recovery"), default="all")
	args = ap.parse_args()
	base = os.environ.get("AUTOTUNER_BENCH_PG_URL") or os.environ.get("AUTOTUNER_TEST_PG_URL")
	if not base:
		sys.exit("set AUTOTUNER_TEST_PG_URL (a PostgreSQL role that may CREATE DATABASE)")
	os.environ["AUTOTUNER_DATA_DIR"] = tempfile.mkdtemp(prefix="autotuner-bench-")
	name = f"autotuner_bench_{uuid.uuid4().hex[:8]}"
	admin = create_engine(base, isolation_level="AUTOCOMMIT")
	with admin.connect() as conn:
		conn.execute(text(f'CREATE DATABASE "{name}"'))
	db = make_url(base).set(database=name).render_as_string(hide_password=False)
	try:
		print(f"{args.experiments}-experiment task, zero-delay server at {args.token_ms:g} ms/token, 1 slot per worker")
		print("  wall = processes started to task finished; search = first experiment start to last end")
		walls: dict[int, float] = {}
		search: dict[int, float] = {}
		for n in (1, 2, 3) if args.part != "recovery" else ():
			r = run(db, n, args.experiments, args.token_ms)
			walls[n], search[n] = r["wall_s"], r["search_s"]
			print(
				f"  {n} worker(s): wall {r['wall_s']:.1f} s ({r['wall_s'] / walls[1]:.2f} of one worker's), search "
				f"{r['search_s']:.1f} s ({r['search_s'] / search[1]:.2f} of one worker's; ideal {1 / n:.2f}); "
				f"{r['success']:.0f}/{r['experiments']:.0f} success, {r['distinct']:.0f} distinct, "
				f"{r['workers']:.0f} worker(s) measured"
			)
		if args.part == "scaling":
			return
		if 3 not in walls:
			walls[3] = run(db, 3, args.experiments, args.token_ms)["wall_s"]
		r = run(db, 3, args.experiments, args.token_ms, kill=True)
		print(
			f"  3 workers, one killed -9 mid-experiment (heartbeat {BEAT.interval} s, grace {BEAT.grace_period} s): "
			f"experiment measured again {r.get('retaken_s', float('nan')):.1f} s after the kill; wall {r['wall_s']:.1f} s "
			f"({r['wall_s'] - walls[3]:+.1f} s against no kill); {r['success']:.0f}/{r['experiments']:.0f} success, "
			f"{r['distinct']:.0f} distinct"
		)
	finally:
		with admin.connect() as conn:
			conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
		admin.dispose()


if __name__ == "__main__":
	main()
