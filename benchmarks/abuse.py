"""Abuse probes against the real API (uvicorn on a free port, real SQLite, the in-process worker running): requests an
attacker or a careless client may send, each with the answer it must get. Printed figures (issue 15):

    probes tried, refused as expected, 5xx, processes started by a refused request, rows left by a refused request

A probe is refused as expected when its status is one it lists (413, 422, 415, 403, 409, ...). Around every probe the
rows of every table (tasks, experiments, presets, users) are counted and the server process's children listed: a
refused request must leave no row and start no process. `--schemathesis N` also runs Schemathesis over every
operation with N examples each, auth off and on (tests/test_api_schemathesis.py), and prints its request count.

    python benchmarks/abuse.py                    # every probe
    python benchmarks/abuse.py --schemathesis 60  # and Schemathesis: ~5,000 requests over both modes

tests/test_abuse.py runs the reduced set (reduced=True) and asserts the zeros. Exit status 1 when a figure is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC: dict[str, Any] = {
	"task_name": "abuse",
	"model": {"id_or_path": "smollm2"},
	"base_runtime": "llama.cpp",
	"parameters": {"parallel": [1, 2]},
	"optimization": {"baseline": False, "warm_start": False, "repeat_top_k": 0, "max_iterations": 2},
	"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [1], "max_requests_per_iteration": 4},
}
YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
# The 385-byte "billion laughs": 9^8 strings (43M values, 6.9 MB as JSON) from one small YAML document
ALIAS_BOMB = (
	'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
	+ "".join(f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True))
	+ "task_name: bomb\nmodel: {id_or_path: smollm2}\n"
)


@dataclass
class Probe:
	name: str
	method: str
	path: str
	expect: tuple[int, ...]  # statuses that count as refused as expected
	body: Any = None  # bytes, str, a JSON-able object (sent as JSON), or an iterator of bytes (chunked)
	headers: dict[str, str] = field(default_factory=dict)
	reduced: bool = False  # in the reduced set the test suite runs


def spec(name: str, **changes: Any) -> dict[str, Any]:
	"""SPEC with dotted-path changes: spec('x', **{'benchmark.num_concurrency': [10**9]})."""
	out = json.loads(json.dumps(SPEC))
	out["task_name"] = name
	for path, value in changes.items():
		node = out
		*parents, last = path.split(".")
		for p in parents:
			node = node.setdefault(p, {})
		node[last] = value
	return out


def _chunks(total: int) -> Iterator[bytes]:
	sent = 0
	while sent < total:
		yield b" " * 65536
		sent += 65536


def probes(reduced: bool = False) -> list[Probe]:
	T, P = "/api/tasks/", "/api/presets/"
	big_int = '{"task_name": "i", "model": {"id_or_path": "smollm2"}, "optimization": {"max_iterations": ' + "9" * 5000
	out = [
		# -- body size -----------------------------------------------------------------------------------------
		Probe("body over 2 MB by Content-Length", "POST", T, (413,), b"{" + b" " * 3_000_000 + b"}", JSON, True),
		Probe("chunked body over 2 MB", "POST", T, (413,), "chunks", JSON, True),
		# -- numbers ---------------------------------------------------------------------------------------------
		Probe(
			"NaN in a JSON spec",
			"POST",
			T,
			(422,),
			json.dumps(spec("nan", **{"slo.steepness": 0})).replace('"steepness": 0', '"steepness": NaN'),
			JSON,
			True,
		),
		Probe(
			"Infinity in a JSON spec",
			"POST",
			T,
			(422,),
			json.dumps(spec("inf")).replace(
				'"max_iterations": 2', '"max_iterations": 2, "timeout_per_iteration": Infinity'
			),
			JSON,
		),
		Probe(
			"1e400 in a JSON spec",
			"POST",
			T,
			(422,),
			json.dumps(spec("e400")).replace(
				'"max_iterations": 2', '"max_iterations": 2, "timeout_per_iteration": 1e400'
			),
			JSON,
			True,
		),
		Probe("5000-digit integer (JSON)", "POST", T, (422,), big_int + "}}", JSON, True),
		Probe(
			"5000-digit integer (YAML)",
			"POST",
			T,
			(422,),
			"task_name: i\nmodel: {id_or_path: smollm2}\noptimization: {max_iterations: " + "9" * 5000 + "}\n",
			YAML,
		),
		Probe(
			".nan in a YAML spec",
			"POST",
			T,
			(422,),
			"task_name: ynan\nmodel: {id_or_path: smollm2}\nslo: {steepness: .nan}\n",
			YAML,
			True,
		),
		Probe(
			"1.0e+400 in a YAML spec",
			"POST",
			T,
			(422,),
			"task_name: ybig\nmodel: {id_or_path: smollm2}\nstartup_timeout: 1.0e+400\n",
			YAML,
		),
		Probe("integer past 64 bits", "POST", T, (422,), spec("i64", **{"optimization.max_iterations": 10**30})),
		# -- nesting, aliases, YAML types ------------------------------------------------------------------------
		Probe("JSON nested 5000 deep", "POST", T, (422,), '{"a":' * 5000 + "1" + "}" * 5000, JSON, True),
		Probe("YAML nested 5000 deep", "POST", T, (422,), "a: " + "[" * 5000 + "]" * 5000, YAML, True),
		Probe("YAML alias bomb", "POST", T, (422,), ALIAS_BOMB, YAML, True),
		Probe(
			"recursive YAML alias",
			"POST",
			T,
			(422,),
			"task_name: r\nmodel: {id_or_path: smollm2}\nbenchmark: {additional_params: &a {x: *a}}\n",
			YAML,
			True,
		),
		Probe(
			"YAML python tag",
			"POST",
			T,
			(422,),
			'task_name: !!python/object/apply:os.system ["touch /tmp/x"]\n',
			YAML,
			True,
		),
		Probe(
			"YAML binary value",
			"POST",
			T,
			(422,),
			"task_name: b\nmodel: {id_or_path: smollm2}\nbenchmark: {additional_params: {x: !!binary aGVsbG8=}}\n",
			YAML,
		),
		Probe(
			"preset with NaN",
			"POST",
			P,
			(422,),
			'{"name": "p", "category": "parameters", "parameters": {"a": NaN}}',
			JSON,
			True,
		),
		Probe(
			"preset nested 100 deep",
			"POST",
			P,
			(422,),
			{"name": "p-deep", "category": "parameters", "parameters": json.loads('{"a":' * 100 + "1" + "}" * 100)},
		),
		Probe("preset import alias bomb", "POST", P + "import", (422,), ALIAS_BOMB, YAML),
		# -- spec caps -----------------------------------------------------------------------------------------
		Probe(
			"grid over a 1..10^7 range",
			"POST",
			T,
			(422,),
			spec(
				"grid",
				**{
					"parameters": {"parallel": {"type": "integer", "low": 1, "high": 10**7}},
					"optimization.strategy": "grid_search",
				},
			),
			reduced=True,
		),
		Probe(
			"grid of 64M combinations",
			"POST",
			T,
			(422,),
			spec(
				"grid64",
				**{
					"parameters": {
						"parallel": {"type": "integer", "low": 1, "high": 8000},
						"threads": {"type": "integer", "low": 1, "high": 8000},
					},
					"optimization.strategy": "grid_search",
				},
			),
		),
		Probe(
			"explain a grid over a 1..10^7 range",
			"POST",
			"/api/specs/explain",
			(422,),
			spec(
				"grid-x",
				**{
					"parameters": {"parallel": {"type": "integer", "low": 1, "high": 10**7}},
					"optimization.strategy": "grid_search",
				},
			),
			reduced=True,
		),
		Probe(
			"range with step 0",
			"POST",
			T,
			(422,),
			spec(
				"step0", **{"parameters": {"defrag-thold": {"type": "continuous", "low": 0.1, "high": 0.5, "step": 0}}}
			),
			reduced=True,
		),
		Probe(
			"grid over a range with step 1e-300",
			"POST",
			T,
			(422,),
			spec(
				"step-tiny",
				**{
					"parameters": {"defrag-thold": {"type": "continuous", "low": 0.1, "high": 0.5, "step": 1e-300}},
					"optimization.strategy": "grid_search",
				},
			),
		),
		Probe("concurrency 10^9", "POST", T, (422,), spec("c", **{"benchmark.num_concurrency": [10**9]}), reduced=True),
		Probe(
			"10,000 concurrency levels",
			"POST",
			T,
			(422,),
			spec("cl", **{"benchmark.num_concurrency": list(range(1, 10_001))}),
		),
		Probe("request rate 10^9/s", "POST", T, (422,), spec("r", **{"benchmark.request_rates": [1e9]})),
		Probe(
			"10^12 requests per run",
			"POST",
			T,
			(422,),
			spec("n", **{"benchmark.max_requests_per_iteration": 10**12}),
			reduced=True,
		),
		Probe("10^12 warm-up requests", "POST", T, (422,), spec("w", **{"benchmark.warmup_requests": 10**12})),
		Probe(
			"a run of 10^12 seconds",
			"POST",
			T,
			(422,),
			spec("t", **{"benchmark.max_time_per_iteration": 1e12}),
			reduced=True,
		),
		Probe("start-up timeout 10^12 s", "POST", T, (422,), spec("st", startup_timeout=1e12)),
		Probe(
			"experiment timeout 10^12 s", "POST", T, (422,), spec("et", **{"optimization.timeout_per_iteration": 1e12})
		),
		Probe("10^9 iterations", "POST", T, (422,), spec("it", **{"optimization.max_iterations": 10**9})),
		Probe("10^6 parallel experiments", "POST", T, (422,), spec("mp", **{"optimization.max_parallel": 10**6})),
		Probe("10^6 repeats", "POST", T, (422,), spec("rp", **{"optimization.repeats": 10**6})),
		Probe(
			"prompt of 10^8 tokens",
			"POST",
			T,
			(422,),
			spec("tok", **{"benchmark.traffic_scenarios": ["D(100000000,100000000)"]}),
			reduced=True,
		),
		Probe(
			"load search to concurrency 10^6",
			"POST",
			T,
			(422,),
			spec("ls", **{"benchmark.load_search": {"limit": 10**6}}),
		),
		Probe("seed past 32 bits", "POST", T, (422,), spec("seed", **{"optimization.seed": 2**40})),
		Probe("1,000 tuned flags", "POST", T, (422,), spec("flags", parameters={f"f{i}": [1, 2] for i in range(1000)})),
		Probe(
			"20,000 values of one flag", "POST", T, (422,), spec("vals", parameters={"parallel": list(range(20_000))})
		),
		# -- bodies and hosts ------------------------------------------------------------------------------------
		Probe(
			"cross-site text/plain with env attack",
			"POST",
			T + "?start=true",
			(403, 415),
			json.dumps(
				spec(
					"xs", env={"PYTHONWARNINGS": "ignore::0:antigravity.x:0", "BROWSER": "/bin/sh -c 'touch /tmp/pwn'"}
				)
			),
			{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
			True,
		),
		Probe(
			"env LD_PRELOAD",
			"POST",
			T + "?start=true",
			(422,),
			spec("ld", env={"LD_PRELOAD": "/tmp/x.so"}),
			reduced=True,
		),
		Probe(
			"baseline sets --host",
			"POST",
			T + "?start=true",
			(422,),
			spec("bh", **{"optimization.baseline": {"host": "0.0.0.0"}}),
			reduced=True,
		),
		Probe("non-UTF-8 body", "POST", T, (422,), b'{"task_name": "\xff\xfe"}', JSON, True),
		Probe("empty body", "POST", T, (422,), b"", JSON),
		Probe(
			"start=true with a refused spec",
			"POST",
			T + "?start=true",
			(422,),
			spec("ss", **{"parameters": {"defrag-thold": {"type": "continuous", "low": 0.1, "high": 0.5, "step": 0}}}),
			reduced=True,
		),
		Probe("foreign Host", "GET", "/api/tasks/", (400,), None, {"Host": "evil.example"}),
	]
	return [p for p in out if p.reduced] if reduced else out


# -- measuring --------------------------------------------------------------------------------------------------
def children(pid: int) -> set[int]:
	"""Every descendant of `pid` (from /proc: no extra dependency)."""
	parents: dict[int, list[int]] = {}
	for entry in Path("/proc").iterdir():
		if not entry.name.isdigit():
			continue
		try:
			stat = (entry / "stat").read_text()
		except OSError:
			continue
		ppid = int(stat.rsplit(")", 1)[1].split()[1])
		parents.setdefault(ppid, []).append(int(entry.name))
	out: set[int] = set()
	todo = [pid]
	while todo:
		for child in parents.get(todo.pop(), []):
			if child not in out:
				out.add(child)
				todo.append(child)
	return out


def row_counts(db_url: str) -> dict[str, int]:
	from sqlalchemy import create_engine, text

	engine = create_engine(db_url)
	try:
		with engine.connect() as conn:
			return {
				t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
				for t in ("tasks", "experiments", "presets", "users")
			}
	finally:
		engine.dispose()


@dataclass
class Figures:
	tried: int = 0
	refused: int = 0
	server_errors: int = 0
	processes: int = 0
	rows: int = 0
	slowest_s: float = 0.0
	health_s: float = 0.0
	unexpected: list[str] = field(default_factory=list)

	@property
	def ok(self) -> bool:
		return self.refused == self.tried and not (self.server_errors or self.processes or self.rows)


def send(base: str, probe: Probe) -> tuple[int, str]:
	import httpx

	headers = {**probe.headers}
	kw: dict[str, Any] = {}
	if probe.body == "chunks":
		kw["content"] = _chunks(3_000_000)
	elif isinstance(probe.body, bytes | str):
		kw["content"] = probe.body
	elif probe.body is not None:
		kw["content"] = json.dumps(probe.body)
		headers.setdefault("Content-Type", "application/json")
	with httpx.Client(base_url=base, timeout=120) as client:
		if "Content-Length" in headers:  # sent as given, not as httpx computes it
			req = client.build_request(probe.method, probe.path, content=kw.get("content"))
			req.headers.update(headers)
			r = client.send(req)
		else:
			r = client.request(probe.method, probe.path, headers=headers, **kw)
	return r.status_code, r.text[:300]


def run_probes(base: str, db_url: str, server_pid: int, selected: list[Probe], log: Any = None) -> Figures:
	import httpx

	fig = Figures()
	for probe in selected:
		before_rows, before_procs = row_counts(db_url), children(server_pid)
		t0 = time.monotonic()
		try:
			status, text = send(base, probe)
		except httpx.HTTPError as exc:  # the server hung up: for a body over the cap that is a refusal too
			status, text = (413 if 413 in probe.expect else 0), f"{type(exc).__name__}: {exc}"
		took = time.monotonic() - t0
		time.sleep(0.05)  # a process a refused request started would show by now (a worker picks a task in ms)
		new_procs = children(server_pid) - before_procs
		rows = sum(abs(a - b) for a, b in zip(row_counts(db_url).values(), before_rows.values(), strict=True))
		fig.tried += 1
		fig.slowest_s = max(fig.slowest_s, took)
		refused = status in probe.expect
		fig.refused += refused
		fig.server_errors += status >= 500
		if refused or status >= 400 or status == 0:  # refused, as expected or not: it must leave nothing behind
			fig.processes += len(new_procs)
			fig.rows += rows
		if not refused or new_procs or rows:
			fig.unexpected.append(f"{probe.name}: {status} (rows {rows}, processes {len(new_procs)}) {text[:160]}")
		if log:
			log(f"{status:4d} {took * 1000:7.1f} ms  {probe.name}")
	t0 = time.monotonic()
	httpx.get(base + "/api/system/health", timeout=60)
	fig.health_s = time.monotonic() - t0
	return fig


class Server:
	"""The real app under uvicorn in a daemon thread, with its in-process worker (a started task would run)."""

	def __init__(self, db_url: str, run_worker: bool = True) -> None:
		import uvicorn

		from inference_autotuner.api import Settings, create_app
		from inference_autotuner.deploy.ports import free_port

		self.app = create_app(Settings(db_url=db_url, run_worker=run_worker))
		self.port = free_port()
		self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
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


def abuse(reduced: bool = False, log: Any = None) -> Figures:
	"""Every probe (or the reduced set) against a fresh server in a temporary data dir."""
	tmp = Path(tempfile.mkdtemp(prefix="autotuner-abuse-"))
	old = os.environ.get("XDG_DATA_HOME")
	os.environ["XDG_DATA_HOME"] = str(tmp / "data")
	try:
		db_url = f"sqlite:///{tmp / 'abuse.db'}"
		with Server(db_url) as srv:
			return run_probes(srv.base, db_url, os.getpid(), probes(reduced), log)
	finally:
		if old is None:
			os.environ.pop("XDG_DATA_HOME", None)
		else:
			os.environ["XDG_DATA_HOME"] = old
		shutil.rmtree(tmp, ignore_errors=True)


def schemathesis(examples: int | None) -> tuple[dict[str, int], int, float]:
	"""tests/test_api_schemathesis.py with `examples` per operation in both modes (None: the suite's own budget):
	(requests by mode, failed tests, seconds)."""
	count = Path(tempfile.mkdtemp(prefix="autotuner-st-")) / "count.json"
	env = {**os.environ, "AUTOTUNER_SCHEMATHESIS_COUNT": str(count)}
	if examples:
		env["AUTOTUNER_SCHEMATHESIS_EXAMPLES"] = str(examples)
	t0 = time.monotonic()
	cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_api_schemathesis.py"]
	p = subprocess.run([*cmd, "-k", "no_server_errors"], cwd=REPO, env=env, capture_output=True, text=True)
	took = time.monotonic() - t0
	requests = json.loads(count.read_text()) if count.exists() else {}
	shutil.rmtree(count.parent, ignore_errors=True)
	failed = 0 if p.returncode == 0 else max(1, p.stdout.count("FAILED"))
	if p.returncode:
		print(p.stdout[-3000:], p.stderr[-2000:], file=sys.stderr)
	return requests, failed, took


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
	ap.add_argument("--reduced", action="store_true", help="only the probes the test suite runs")
	ap.add_argument(
		"--schemathesis",
		type=int,
		default=None,
		metavar="N",
		help="also Schemathesis over every operation, auth off and on: N examples per operation (0: the suite's budget)",
	)
	ap.add_argument("--verbose", "-v", action="store_true", help="print each probe's status and time")
	args = ap.parse_args()
	fig = abuse(args.reduced, print if args.verbose else None)
	print(f"probes tried                         {fig.tried}")
	print(f"refused as expected                  {fig.refused}")
	print(f"5xx                                  {fig.server_errors}")
	print(f"processes started by a refused request {fig.processes}")
	print(f"rows left by a refused request       {fig.rows}")
	print(f"slowest probe                        {fig.slowest_s * 1000:.0f} ms")
	print(f"health right after the probes        {fig.health_s * 1000:.0f} ms")
	for line in fig.unexpected:
		print(f"  unexpected: {line}")
	ok = fig.ok
	if args.schemathesis is not None:
		requests, failed, took = schemathesis(args.schemathesis if args.schemathesis > 0 else None)
		modes = ", ".join(f"{k} {v}" for k, v in sorted(requests.items()))
		print(f"schemathesis requests                {sum(requests.values())} ({modes}) in {took:.0f} s")
		print(f"schemathesis failed tests (5xx, schema) {failed}")
		ok = ok and not failed
	return 0 if ok else 1


if __name__ == "__main__":
	sys.path.insert(0, str(REPO))
	raise SystemExit(main())
