"""Issue 15 part 6: start / clear / delete / cancel are compare-and-set on the task's status. Threads against the real
server (uvicorn on a free port) on real SQLite, and on PostgreSQL where AUTOTUNER_TEST_PG_URL is set. The worker is
off: what a start queues is counted in the in-process queue itself."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api_postgres import pg_url  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("abuse", REPO / "benchmarks" / "abuse.py")
assert _spec is not None and _spec.loader is not None
abuse = importlib.util.module_from_spec(_spec)
sys.modules["abuse"] = abuse
_spec.loader.exec_module(abuse)


def together(n: int, calls: list[tuple[str, str]], base: str) -> list[tuple[str, int]]:
	"""Every (method, path) of `calls` at once from its own thread (released by one barrier): (path, status) each."""
	barrier = threading.Barrier(len(calls))
	out: list[tuple[str, int]] = [("", 0)] * len(calls)

	def one(i: int, method: str, path: str) -> None:
		with httpx.Client(base_url=base, timeout=120) as c:
			barrier.wait()
			out[i] = (path, c.request(method, path).status_code)

	threads = [threading.Thread(target=one, args=(i, m, p)) for i, (m, p) in enumerate(calls)]
	for t in threads:
		t.start()
	for t in threads:
		t.join(180)
	return out


def queued_jobs(srv: Any) -> list[int]:
	q = srv.app.state.queue._queue  # the in-process worker's own queue: what the starts handed it
	return list(q.queue)


def run_races(db_url: str) -> None:
	with abuse.Server(db_url, run_worker=False) as srv, httpx.Client(base_url=srv.base, timeout=60) as c:
		tid = c.post("/api/tasks/", json=abuse.spec("race")).json()["id"]
		# 20 concurrent starts: one queues the task, 19 are told it is queued already; one job in the queue
		results = together(20, [("POST", f"/api/tasks/{tid}/start")] * 20, srv.base)
		assert Counter(s for _, s in results) == {200: 1, 409: 19}, results
		assert queued_jobs(srv) == [tid]
		assert c.get(f"/api/tasks/{tid}").json()["status"] == "queued"
		# starts racing clears: whatever interleaving, an acknowledged start is never undone by a clear
		for round_ in range(4):
			assert c.post(f"/api/tasks/{tid}/cancel").status_code == 200  # queued -> cancelled
			srv.app.state.queue._queue.queue.clear()
			calls = [("POST", f"/api/tasks/{tid}/start"), ("POST", f"/api/tasks/{tid}/clear")] * 6
			results = together(12, calls, srv.base)
			starts = [s for p, s in results if p.endswith("/start")]
			assert all(s in (200, 409) for _, s in results), results
			status = c.get(f"/api/tasks/{tid}").json()["status"]
			acknowledged = starts.count(200)  # 0 when every start met a clear in progress (409 `clearing`)
			assert acknowledged <= 1 and (status == "queued") == (acknowledged == 1), (round_, results, status)
			assert queued_jobs(srv) == [tid] * acknowledged
			if not acknowledged:
				assert c.post(f"/api/tasks/{tid}/start").status_code == 200
		# cancels and deletes racing: the task is cancelled once, deleted once
		results = together(10, [("POST", f"/api/tasks/{tid}/cancel")] * 10, srv.base)
		assert Counter(s for _, s in results) == {200: 1, 409: 9}, results
		results = together(10, [("DELETE", f"/api/tasks/{tid}")] * 10, srv.base)
		assert Counter(s for _, s in results) == {204: 1, 404: 9}, results


@pytest.mark.timeout(300)
def test_start_clear_cancel_delete_races_on_sqlite(data_dir: Path) -> None:
	run_races(f"sqlite:///{data_dir / 'races.db'}")


@pytest.mark.timeout(300)
def test_start_clear_cancel_delete_races_on_postgres(pg_url: str) -> None:  # noqa: F811
	run_races(pg_url)
