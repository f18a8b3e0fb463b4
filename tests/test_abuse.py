"""Issue 15 parts 4 and 5: input that would exhaust the host is refused (413/422, exit 2), and a refused request
leaves no row and starts no process. The reduced probe set of benchmarks/abuse.py runs against the real server."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert

from inference_autotuner import limits
from inference_autotuner.api import Settings, create_app
from inference_autotuner.store import Store, Task

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("abuse", REPO / "benchmarks" / "abuse.py")
assert _spec is not None and _spec.loader is not None
abuse = importlib.util.module_from_spec(_spec)
sys.modules["abuse"] = abuse  # dataclasses look their module up
_spec.loader.exec_module(abuse)

STEP0 = {"defrag-thold": {"type": "continuous", "low": 0.1, "high": 0.5, "step": 0}}


def spec(name: str, **changes: Any) -> dict[str, Any]:
	return abuse.spec(name, **changes)


def client(data_dir: Path, **kw: Any) -> TestClient:
	app = create_app(Settings(db_url=f"sqlite:///{data_dir / 'a.db'}", run_worker=False, **kw))
	return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


# -- the figures -------------------------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_reduced_abuse_probes_are_refused_and_leave_nothing() -> None:
	"""Every probe refused as expected; no 5xx, no process started, no row left (figures of benchmarks/abuse.py)."""
	fig = abuse.abuse(reduced=True)
	assert fig.tried >= 20
	assert fig.unexpected == []
	assert (fig.refused, fig.server_errors, fig.processes, fig.rows) == (fig.tried, 0, 0, 0)


# -- documents ---------------------------------------------------------------------------------------------------
def test_yaml_alias_bomb_is_refused_without_expanding_it() -> None:
	t0 = time.monotonic()
	with pytest.raises(limits.DocumentError, match="alias"):
		limits.load_yaml(abuse.ALIAS_BOMB)
	assert time.monotonic() - t0 < 5  # counted on the event stream; expanding it would build 43M values


def test_yaml_recursive_alias_and_depth() -> None:
	with pytest.raises(limits.DocumentError, match="refers to itself"):
		limits.load_yaml("a: &a {x: *a}")
	with pytest.raises(limits.DocumentError, match="deeper"):
		limits.load_yaml("a: " + "[" * 5000 + "]" * 5000)
	with pytest.raises(limits.DocumentError, match="deeper"):
		limits.load_json("[" * 5000 + "]" * 5000)


def test_small_aliases_still_load() -> None:
	"""A spec may reuse a block with an anchor: only expansions past the cap are refused."""
	data = limits.load_yaml("common: &c {threads: [1, 2]}\nparameters: *c\nmore: {<<: *c, parallel: [1]}\n")
	assert data["parameters"] == {"threads": [1, 2]} and data["more"]["parallel"] == [1]


@pytest.mark.parametrize(
	"text",
	['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": ' + "9" * 30 + "}"],
)
def test_json_non_finite_and_huge_numbers(text: str) -> None:
	with pytest.raises(limits.DocumentError):
		limits.load_json(text)


@pytest.mark.parametrize("text", ["a: .nan", "a: -.inf", "a: 1.0e+400", "a: " + "9" * 5000, "a: !!binary aGk="])
def test_yaml_non_finite_huge_and_binary(text: str) -> None:
	with pytest.raises(limits.DocumentError):
		limits.load_yaml(text)


def test_yaml_dates_become_text() -> None:
	assert limits.load_yaml("a: 2024-01-02") == {"a": "2024-01-02"}


# -- API ---------------------------------------------------------------------------------------------------------
def test_body_over_the_cap_is_413_from_content_length(data_dir: Path) -> None:
	with client(data_dir) as c:
		r = c.post("/api/tasks/", content=b"{" + b" " * (limits.MAX_BODY_BYTES + 10) + b"}", headers=abuse.JSON)
		assert r.status_code == 413 and "larger than" in r.json()["detail"]
		r = c.post("/api/presets/", content=b" " * (limits.MAX_BODY_BYTES + 1), headers=abuse.JSON)
		assert r.status_code == 413


def test_grid_over_a_huge_range_is_refused_fast(data_dir: Path) -> None:
	"""A 1..10^7 grid was enumerated (and held health for 17 s); now a 422 before anything is stored."""
	huge = {"parallel": {"type": "integer", "low": 1, "high": 10**7}}
	with client(data_dir) as c:
		r = c.post("/api/tasks/", json=spec("g", parameters=huge, **{"optimization.strategy": "grid_search"}))
		assert r.status_code == 422
		assert r.json()["detail"][0]["path"] == "parameters" and "grid" in r.json()["detail"][0]["msg"]
		assert c.get("/api/tasks/").json() == []
		# sampled, not listed: bayesian takes the same range
		r = c.post("/api/tasks/", json=spec("b", parameters=huge, **{"optimization.strategy": "bayesian"}))
		assert r.status_code == 201


@pytest.mark.parametrize(
	("change", "path"),
	[
		({"benchmark.num_concurrency": [10**6]}, "benchmark.num_concurrency"),
		({"benchmark.max_requests_per_iteration": 10**12}, "benchmark.max_requests_per_iteration"),
		({"benchmark.max_time_per_iteration": 1e12}, "benchmark.max_time_per_iteration"),
		({"startup_timeout": 1e12}, "startup_timeout"),
		({"optimization.max_iterations": 10**9}, "optimization.max_iterations"),
		({"optimization.max_parallel": 10**6}, "optimization.max_parallel"),
		({"benchmark.request_rates": [1e9]}, "benchmark.request_rates"),
		({"benchmark.traffic_scenarios": ["D(100000000,10)"]}, "benchmark.traffic_scenarios[0]"),
	],
)
def test_spec_caps_name_the_field(data_dir: Path, change: dict[str, Any], path: str) -> None:
	with client(data_dir) as c:
		r = c.post("/api/tasks/", json=spec("cap", **change))
		assert r.status_code == 422, r.text
		assert path in [d["path"] for d in r.json()["detail"]]


def test_refused_spec_leaves_no_row_and_listing_works(data_dir: Path) -> None:
	"""A continuous range with step 0 was a 500 that kept its row, and every GET /api/tasks/ after it was a 500."""
	with client(data_dir) as c:
		for start in ("false", "true"):
			r = c.post("/api/tasks/", json=spec("step0", parameters=STEP0), params={"start": start})
			assert r.status_code == 422 and r.json()["detail"][0]["path"] == "parameters.defrag-thold.step"
		assert c.get("/api/tasks/").status_code == 200 and c.get("/api/tasks/").json() == []


def test_a_stored_spec_today_refused_does_not_break_listing(data_dir: Path) -> None:
	"""A row written before today's rules (step 0, a huge grid) is listed, not a 500."""
	db = f"sqlite:///{data_dir / 'a.db'}"
	store = Store(db)
	bad = spec("old", parameters=STEP0)
	with store.session() as s:
		s.execute(
			insert(Task).values(
				name="old", spec=bad, engine="llamacpp", deployment_mode="local", status="pending", study_name="x"
			)
		)
	store.engine.dispose()
	with client(data_dir) as c:
		r = c.get("/api/tasks/")
		assert r.status_code == 200 and r.json()[0]["name"] == "old"
	p = subprocess.run(
		[str(REPO / ".venv" / "bin" / "autotuner"), "list", "--db", db], capture_output=True, text=True, timeout=120
	)
	assert p.returncode == 0 and "old" in p.stdout, p.stderr


def test_update_with_a_refused_spec_changes_nothing(data_dir: Path) -> None:
	with client(data_dir) as c:
		tid = c.post("/api/tasks/", json=spec("u")).json()["id"]
		before = c.get(f"/api/tasks/{tid}").json()
		r = c.put(f"/api/tasks/{tid}", json={"spec": spec("u", parameters=STEP0)})
		assert r.status_code == 422
		r = c.put(f"/api/tasks/{tid}", content='{"description": NaN}', headers=abuse.JSON)
		assert r.status_code == 422
		assert c.get(f"/api/tasks/{tid}").json() == before


# -- a queue that refuses: create?start=true leaves nothing ---------------------------------------------------------
@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
	exe = shutil.which("redis-server")
	if exe is None:
		pytest.skip("redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)")
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		port = int(s.getsockname()[1])
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
		yield f"redis://127.0.0.1:{port}/0", proc
	finally:
		if proc.poll() is None:
			proc.terminate()
			proc.wait(10)


@pytest.mark.timeout(120)
def test_start_refused_by_the_queue_keeps_no_row_and_restores_the_status(
	data_dir: Path, redis_proc: tuple[str, subprocess.Popen[bytes]]
) -> None:
	"""Redis goes away: create?start=true answers 503 and leaves no task; start answers 503 and the task is pending
	again (it was left `queued` forever, with no job in any queue)."""
	url, proc = redis_proc
	with client(data_dir, redis_url=url) as c:
		tid = c.post("/api/tasks/", json=spec("kept")).json()["id"]
		proc.terminate()
		proc.wait(10)
		r = c.post("/api/tasks/", json=spec("gone"), params={"start": "true"})
		assert r.status_code == 503 and "queue" in r.json()["detail"]
		assert [t["name"] for t in c.get("/api/tasks/").json()] == ["kept"]
		r = c.post(f"/api/tasks/{tid}/start")
		assert r.status_code == 503
		assert c.get(f"/api/tasks/{tid}").json()["status"] == "pending"


# -- a database that cannot take writes: 503 naming the cause, and health says so -------------------------------
def _pragma(store: Store, sql: str) -> None:
	"""Every connection of the app's store runs `sql` (a real SQLite setting), from the next one on."""

	def on_connect(dbapi_conn: Any, _record: Any) -> None:
		cur = dbapi_conn.cursor()
		cur.execute(sql)
		cur.close()

	event.listen(store.engine, "connect", on_connect)
	store.engine.dispose()


def test_read_only_database_is_503_and_health_says_it(data_dir: Path) -> None:
	with client(data_dir) as c:
		tid = c.post("/api/tasks/", json=spec("ro")).json()["id"]
		assert c.get("/api/system/health").json()["database"] == "ok"
		_pragma(c.app.state.store, "PRAGMA query_only = ON")  # type: ignore[attr-defined]
		for method, path, body in [
			("post", "/api/tasks/", spec("ro2")),
			("post", f"/api/tasks/{tid}/start", None),
			("delete", f"/api/tasks/{tid}", None),
			("post", "/api/presets/", {"name": "p", "category": "parameters", "parameters": {"threads": [1]}}),
		]:
			r = getattr(c, method)(path, **({"json": body} if body is not None else {}))
			assert r.status_code == 503, (path, r.status_code, r.text)
			assert "read-only" in r.json()["detail"]
		h = c.get("/api/system/health")
		assert h.status_code == 503 and "read-only" in h.json()["database"]
		assert c.get("/api/tasks/").status_code == 200  # reads still work


def test_full_database_is_503_and_health_says_it(data_dir: Path) -> None:
	with client(data_dir) as c:
		store = c.app.state.store  # type: ignore[attr-defined]
		with store.engine.connect() as conn:
			pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
		_pragma(store, f"PRAGMA max_page_count = {pages}")
		statuses = set()
		for i in range(40):  # each task adds ~8 kB: the quota is reached within a few
			r = c.post("/api/tasks/", json=spec(f"full-{i}", description="x" * 8000))
			statuses.add(r.status_code)
			if r.status_code == 503:
				assert "full" in r.json()["detail"]
				break
		assert 503 in statuses and 500 not in statuses
		h = c.get("/api/system/health")
		assert h.status_code == 503 and "full" in h.json()["database"]


# -- the command line: one clear message and exit 2, never a traceback ------------------------------------------
@pytest.mark.timeout(300)
def test_cli_bad_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
	files = {
		"non-utf8.yaml": b"task_name: \xff\xfe\n",
		"deep.yaml": ("a: " + "[" * 3000 + "]" * 3000).encode(),
		"step0.yaml": json.dumps(spec("s0", parameters=STEP0)).encode(),
		"bomb.yaml": abuse.ALIAS_BOMB.encode(),
		"nan.json": b'{"task_name": "n", "model": {"id_or_path": "smollm2"}, "slo": {"steepness": NaN}}',
	}
	for name, data in files.items():
		(tmp_path / name).write_bytes(data)
	(tmp_path / "folder").mkdir()
	exe = str(REPO / ".venv" / "bin" / "autotuner")
	db = f"sqlite:///{tmp_path / 'cli.db'}"
	for name in [*files, "folder"]:
		for cmd in (["validate"], ["explain"], ["tune", "--db", db]):
			p = subprocess.run(
				[exe, cmd[0], str(tmp_path / name), *cmd[1:]], capture_output=True, text=True, timeout=120
			)
			out = p.stdout + p.stderr
			assert p.returncode == 2, (name, cmd, p.returncode, out)
			assert "Traceback" not in out and "internal error" not in out, (name, cmd, out)
	assert Store(db).session  # nothing was stored by a refused tune
	with Store(db).session() as s:
		assert s.query(Task).count() == 0
