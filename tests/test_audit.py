"""The run audit (bench/audit.py): the client's schedule, the host's CPU, the verdict, pinning, re-measuring.

Real engine and real processes; no timed assertions (the machine is shared: figures are only compared with the
audit's own thresholds or with a CPU hog we start ourselves).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from inference_autotuner.bench.audit import (
	HostSampler,
	RunAudit,
	achieved_concurrency,
	badge,
	client_audit,
	engine_threads,
	judge,
	merge,
	pick,
	place_apart,
)
from inference_autotuner.bench.client import run_load
from inference_autotuner.bench.metrics import RequestRecord, compute_run_metrics
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.traffic import parse_scenario
from inference_autotuner.runner.events import LogMessage, TaskEvent


def _rec(sent: float, end: float, scheduled: float | None = None) -> RequestRecord:
	return RequestRecord(
		scheduled=sent if scheduled is None else scheduled,
		sent=sent,
		first_token=sent + 0.1,
		end=end,
		chunk_times=[sent + 0.1],
		output_tokens=4,
		input_tokens=8,
	)


def _run(records: list[RequestRecord], concurrency: int | None = 2):  # type: ignore[no-untyped-def]
	return compute_run_metrics(records, scenario="D(8,4)", concurrency=concurrency)


def test_achieved_concurrency_is_time_weighted_in_flight_between_first_and_last_send() -> None:
	# two workers kept busy: 2 in flight all along
	full = [_rec(0, 1), _rec(0, 1), _rec(1, 2), _rec(1, 2), _rec(2, 3), _rec(2, 3)]
	assert achieved_concurrency(full) == pytest.approx(2.0)
	# the second worker idles half of each cycle: 1.5 in flight on average
	gaps = [_rec(0, 1), _rec(0, 0.5), _rec(1, 2), _rec(1, 1.5), _rec(2, 3), _rec(2, 2.5)]
	assert achieved_concurrency(gaps) == pytest.approx(1.5)
	assert achieved_concurrency(full[:1]) is None
	# all sent at once (no more requests than the concurrency): counted up to the first completion
	assert achieved_concurrency([_rec(0, 5), _rec(0.001, 6), _rec(0.002, 7)]) == pytest.approx(3.0, abs=0.01)


def test_judge_tells_a_client_that_fell_behind_from_host_interference() -> None:
	# every send 200 ms after the slot freed (closed loop: due when the previous request ended)
	records = [_rec(i * 1.2, i * 1.2 + 1.0, scheduled=i * 1.2 - 0.2) for i in range(10)]
	run = _run(records, concurrency=1)
	late = judge(client_audit(records, concurrency=1, request_rate=None), run)
	assert late.status == "suspect" and late.client_bound  # 0.83 of 1 request in flight: the load was not driven
	assert any("fell behind" in r for r in late.reasons) and any("kept 0.83 of 1" in r for r in late.reasons)
	assert badge(late) == "client-bound"
	# late sends whose effect on the load is small (60 ms on 1 s requests: 0.94 in flight) are a symptom of
	# interference: suspect and measured again, but the figures are still the engine's
	slightly = [_rec(i * 1.06, i * 1.06 + 1.0, scheduled=i * 1.06 - 0.06) for i in range(10)]
	lagged = judge(client_audit(slightly, concurrency=1, request_rate=None), _run(slightly, concurrency=1))
	assert lagged.status == "suspect" and not lagged.client_bound and "fell behind" in lagged.reasons[0]

	on_time = [_rec(i, i + 1.0) for i in range(10)]
	ok = judge(client_audit(on_time, concurrency=1, request_rate=None), _run(on_time, concurrency=1))
	assert ok.status == "valid" and not ok.client_bound and badge(ok) == ""

	busy_host = RunAudit(cores=2, other_cpu=1.2, steal=0.2, client_cpu=0.1, engine_cpu=0.7)
	verdict = judge(merge(client_audit(on_time, concurrency=1, request_rate=None), busy_host), _run(on_time, 1))
	assert verdict.status == "suspect" and not verdict.client_bound
	assert any("other processes used 1.20 of 2" in r for r in verdict.reasons)
	assert any("steal 20%" in r for r in verdict.reasons)
	assert verdict.lag_p99 is not None  # both halves kept

	saturated = judge(RunAudit(cores=2, client_cpu=0.97), _run(on_time, 1))
	assert saturated.client_bound and "saturated" in saturated.reasons[0]


def test_pick_keeps_the_least_suspect_attempt_and_says_how_many() -> None:
	records = [_rec(i, i + 1.0) for i in range(4)]
	a = _run(records).model_copy(update={"audit": RunAudit(status="suspect", reasons=["x"], other_cpu=1.0)})
	b = _run(records).model_copy(update={"audit": RunAudit(status="suspect", reasons=["y"], other_cpu=0.5)})
	c = _run(records).model_copy(update={"audit": RunAudit()})
	kept = pick([a, b, c])
	assert kept.audit is not None and kept.audit.status == "valid" and kept.audit.attempts == 3
	assert kept.audit.earlier == ["attempt 1: x", "attempt 2: y"]
	kept = pick([a, b])
	assert kept.audit is not None and kept.audit.reasons == ["y"] and badge(kept.audit) == "suspect x2"


def test_engine_threads_from_llamacpp_flags() -> None:
	assert engine_threads("llamacpp", {"threads": 1}) == 1
	assert engine_threads("llamacpp", {"threads": 1, "threads-batch": 2}) == 2
	assert engine_threads("llamacpp", {}) is None
	assert engine_threads("vllm", {"threads": 1}) is None


@pytest.fixture
def hog() -> Iterator[int]:
	"""A busy process that is not ours (reparented away from the test process), as another user's job would be."""
	out = subprocess.run(
		["sh", "-c", f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
		capture_output=True,
		text=True,
		check=True,
	)
	pid = int(out.stdout.strip())
	assert pid not in {p.pid for p in psutil.Process().children(recursive=True)}
	try:
		yield pid
	finally:
		os.kill(pid, signal.SIGKILL)


def test_the_real_client_audits_its_schedule(llama_server: str) -> None:
	m = asyncio.run(
		run_load(
			RunRequest(
				llama_server, scenario=parse_scenario("D(16,8)"), concurrency=2, max_requests=6, max_duration_s=120
			)
		)
	)
	assert m.completed == 6
	a = m.audit
	assert a is not None and a.asked_concurrency == 2
	assert a.lag_p50 is not None and a.lag_p99 is not None and 0 <= a.lag_p50 <= a.lag_p99
	assert a.achieved_concurrency is not None and 0 < a.achieved_concurrency <= 2.0 + 1e-9
	assert a.loop_stall_p99 is not None


def test_a_cpu_hog_during_a_run_makes_it_suspect(llama_server: str, hog: int) -> None:
	sampler = HostSampler(place_apart("llamacpp", {}, []))
	sampler.start()
	m = asyncio.run(
		run_load(
			RunRequest(
				llama_server, scenario=parse_scenario("D(16,8)"), concurrency=2, max_requests=6, max_duration_s=120
			)
		)
	)
	host = sampler.finish()
	audit = judge(merge(m.audit, host), m)
	assert host.other_cpu is None  # the engine's processes were not given: not told apart, and said so
	assert any("not visible" in n for n in audit.notes)

	# with the engine's processes known, the hog is "other processes"
	engine_pid = next(
		p.pid
		for p in psutil.Process().children(recursive=True)
		if any("llama" in part or "xllamacpp" in part for part in p.cmdline())
	)
	place = place_apart("llamacpp", {"threads": 2}, [engine_pid])
	assert place.engine_cores is None and "share cores" in place.notes[0]  # 2 threads on 2 cores: cannot split
	sampler = HostSampler(place)
	sampler.start()
	m = asyncio.run(
		run_load(
			RunRequest(
				llama_server, scenario=parse_scenario("D(16,8)"), concurrency=2, max_requests=6, max_duration_s=120
			)
		)
	)
	audit = judge(merge(m.audit, sampler.finish()), m)
	assert audit.engine_cpu is not None and audit.engine_cpu > 0
	assert audit.other_cpu is not None and audit.other_cpu > 0.15
	assert audit.status == "suspect"
	assert any("other processes used" in r for r in audit.reasons)
	assert any("share cores" in n for n in audit.notes)


def test_place_apart_pins_the_engine_and_the_client_to_disjoint_cores(model_path: Path, tmp_path: Path) -> None:
	from inference_autotuner.deploy.base import Launch
	from inference_autotuner.deploy.local import LocalProcessDeployer
	from inference_autotuner.deploy.ports import free_port
	from inference_autotuner.engines import get_engine

	cores = sorted(os.sched_getaffinity(0))
	if len(cores) < 2:
		pytest.skip("needs 2 cores")
	engine = get_engine("llamacpp")
	params = {"parallel": 2, "threads": 1, "ctx-size": 2048}
	port = free_port()
	deployer = LocalProcessDeployer()
	dep = deployer.start(
		Launch(
			argv=engine.launch_argv(str(model_path), params, host="127.0.0.1", port=port),
			port=port,
			health_path=engine.health_path,
			env={},
			labels={"test": "1"},
		),
		log_path=tmp_path / "engine.log",
		timeout=60,
	)
	try:
		seen: dict[str, object] = {}

		def client_thread() -> None:  # the runner measures in its own thread; only that thread is pinned
			place = place_apart(engine.name, params, [dep.info["pid"]])
			seen["place"] = place
			seen["client"] = sorted(os.sched_getaffinity(0))
			seen["engine"] = {
				t.id: sorted(os.sched_getaffinity(t.id)) for t in psutil.Process(dep.info["pid"]).threads()
			}
			place.restore()
			seen["restored"] = sorted(os.sched_getaffinity(0))

		t = threading.Thread(target=client_thread)
		t.start()
		t.join()
		place = seen["place"]
		assert place.engine_cores == cores[:1] and place.client_cores == cores[1:]  # type: ignore[attr-defined]
		assert seen["client"] == cores[1:]
		assert all(v == cores[:1] for v in seen["engine"].values())  # type: ignore[attr-defined]
		assert seen["restored"] == cores
		assert sorted(os.sched_getaffinity(0)) == cores  # the main thread was never moved
	finally:
		deployer.stop(dep)


def test_a_suspect_run_is_measured_again_and_its_audit_stored(model_path: Path, tmp_path: Path, hog: int) -> None:
	"""Through the runner's experiment: a CPU hog makes the run suspect; it is measured once more (audit_retries 1),
	the log says so, one run is kept with attempts=2, and the engine (threads 1 of 2 cores) and the client were
	pinned apart."""
	from inference_autotuner.deploy.local import LocalProcessDeployer
	from inference_autotuner.engines import get_engine
	from inference_autotuner.runner.experiment import run_experiment
	from inference_autotuner.services.validate import parse_spec

	spec = parse_spec(
		{
			"task_name": "audit-test",
			"model": {"id_or_path": str(model_path)},
			"base_runtime": "llama.cpp",
			"optimization": {"timeout_per_iteration": 600},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"num_concurrency": [2],
				"max_requests_per_iteration": 4,
				"warmup_requests": 1,
				"audit_retries": 1,
			},
		}
	)
	events: list[TaskEvent] = []
	out = run_experiment(
		spec=spec,
		engine=get_engine("llamacpp"),
		deployer=LocalProcessDeployer(),
		model_path=model_path,
		params={"parallel": 2, "threads": 1, "ctx-size": 1024},
		log_path=tmp_path / "exp.log",
		cancel=threading.Event(),
		emit=events.append,
		number=1,
	)
	assert out.status in ("success", "failed"), out.reason
	assert len(out.runs) == 1
	audit = out.runs[0].audit
	assert audit is not None and audit.attempts == 2 and len(audit.earlier) == 1
	assert "other processes used" in audit.earlier[0]
	assert any("measuring it again (attempt 2 of 2)" in e.message for e in events if isinstance(e, LogMessage))
	assert [e.type for e in events].count("run_finished") == 1
	if len(os.sched_getaffinity(0)) >= 2:
		assert audit.engine_cores == [0] and audit.client_cores == [1]
	if audit.client_bound:  # what the client could not drive is never the engine's figure
		assert out.status == "failed" and out.score is None and "could not drive" in (out.reason or "")
	stored = out.runs[0].model_dump(mode="json")
	assert stored["audit"]["attempts"] == 2  # what the runner stores in Experiment.runs
