"""Load levels on the real llama.cpp engine: max load under SLO (one engine start), Poisson arrivals, early stop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from inference_autotuner.bench.arrivals import poisson_offsets
from inference_autotuner.bench.client import run_load
from inference_autotuner.bench.loadsearch import judge_run
from inference_autotuner.bench.metrics import RequestRecord
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.traffic import parse_scenario
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.engines import get_engine
from inference_autotuner.runner.events import LoadSearchFinished, RunStoppedEarly, TaskEvent
from inference_autotuner.runner.experiment import Outcome, run_experiment
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.spec.models import SLOSpec

pytestmark = pytest.mark.engine


class CountingDeployer(LocalProcessDeployer):
	"""The real local deployer, counting engine starts."""

	def __init__(self) -> None:
		super().__init__()
		self.starts = 0

	def start(self, *args: Any, **kwargs: Any) -> Any:
		self.starts += 1
		return super().start(*args, **kwargs)


def experiment(model: Path, tmp_path: Path, benchmark: dict, slo: dict, **opt: Any) -> tuple[Outcome, int, list]:
	spec = parse_spec(
		{
			"task_name": "levels-test",
			"model": {"id_or_path": str(model)},
			"base_runtime": "llama.cpp",
			"optimization": {"objective": "maximize_goodput", "timeout_per_iteration": 300, **opt},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"max_time_per_iteration": 60,
				"warmup_requests": 1,
				**benchmark,
			},
			"slo": slo,
		}
	)
	deployer = CountingDeployer()
	events: list[TaskEvent] = []
	out = run_experiment(
		spec=spec,
		engine=get_engine("llamacpp"),
		deployer=deployer,
		model_path=model,
		params={"parallel": 1, "threads": 1, "ctx-size": 1024},
		log_path=tmp_path / "exp.log",
		cancel=threading.Event(),
		emit=events.append,
		number=1,
	)
	return out, deployer.starts, events


def test_load_search_finds_max_concurrency_on_one_engine(model_path: Path, tmp_path: Path) -> None:
	"""One llama.cpp slot: TTFT grows with concurrency (requests queue), so a mean-TTFT SLO caps the load."""
	slo = {"ttft": {"threshold": 1.0}}
	search = {"mode": "concurrency", "start": 1, "limit": 8, "tolerance": 1, "max_probes": 8}
	out, starts, events = experiment(
		model_path, tmp_path, {"max_requests_per_iteration": 8, "load_search": search}, slo
	)
	assert starts == 1, "load levels never restart the engine"
	levels = [r.concurrency for r in out.runs]
	assert len(levels) == len(set(levels)) and levels[0] == 1, levels
	assert len(levels) < 8, f"fewer probes than a sweep 1..8: {levels}"
	assert out.status == "success", out.reason
	assert out.score is not None
	best = out.score.figures["max_load"]
	assert best in levels and [e.type for e in events].count("run_started") == len(levels)
	verdicts = {r.concurrency: judge_run(r, SLOSpec.model_validate(slo)) for r in out.runs}
	assert verdicts[best] is None
	assert all(v is not None for c, v in verdicts.items() if c is not None and c > best), verdicts
	assert best == 8 or (best + 1) in levels, "the search ends with pass and fail 1 apart (or the limit passed)"
	best_run = next(r for r in out.runs if r.concurrency == best)
	assert out.score.objective_value == pytest.approx(best_run.goodput), "goodput per GPU of the max-load run"
	finished = [e for e in events if isinstance(e, LoadSearchFinished)]
	assert finished and finished[0].max_load == best


def test_poisson_arrivals_follow_the_seeded_schedule(llama_server: str) -> None:
	"""Sends follow the seeded exponential gaps exactly, and the run's request throughput is near the rate: seed 2's
	schedule of 8 requests at 0.5 req/s ends at 13.0 s (realized 0.54 req/s); the last request's latency adds to
	the wall time, so the band is wide (this machine's timings vary a lot under load)."""
	rate, n = 0.5, 8
	records: list[RequestRecord] = []
	m = asyncio.run(
		run_load(
			RunRequest(
				llama_server,
				scenario=parse_scenario("D(8,4)"),
				concurrency=1,
				max_requests=n,
				max_duration_s=120,
				request_rate=rate,
				seed=2,
			),
			records=records,
		)
	)
	assert m.request_rate == rate and m.concurrency is None and m.completed == n
	planned = poisson_offsets(rate, n, seed=2)
	sched = sorted(r.scheduled for r in records)
	assert [s - sched[0] for s in sched] == pytest.approx(planned, abs=1e-6), "sent on the seeded Poisson schedule"
	realized = (n - 1) / planned[-1]
	assert m.request_throughput < 1.2 * realized
	assert 0.6 * rate < m.request_throughput < 1.4 * rate, m.request_throughput


def test_early_stop_ends_a_lost_run_and_skips_higher_levels(model_path: Path, tmp_path: Path) -> None:
	slo = {"latency": {"p50": {"threshold": 0.001, "hard_fail": True, "fail_ratio": 0}}}
	bench = {"num_concurrency": [1, 2, 4], "max_requests_per_iteration": 40}
	out, starts, events = experiment(model_path, tmp_path, bench, slo, early_stop={"min_requests": 4})
	assert starts == 1
	assert len(out.runs) == 1, "c=2 and c=4 skipped"
	run = out.runs[0]
	assert run.stopped_early and "latency.p50" in run.stopped_early and run.completed == 4
	assert out.status == "infeasible" and "stopped early" in (out.reason or ""), out.reason
	assert out.saved_seconds > 0
	stop_ev = [e for e in events if isinstance(e, RunStoppedEarly)]
	assert stop_ev and stop_ev[0].skipped_levels == [2.0, 4.0]


def test_a_tool_run_lost_in_full_still_skips_the_higher_levels(model_path: Path, tmp_path: Path) -> None:
	"""GuideLLM's requests are not seen one by one, so its run goes to its end; judged then, the lost SLO spares
	the higher levels all the same."""
	import os

	from inference_autotuner.bench.drivers import get_driver

	why = get_driver("guidellm").missing()
	if why is not None:
		if "guidellm" in os.environ.get("AUTOTUNER_TEST_DRIVERS", "").split(","):
			pytest.fail(why)
		pytest.skip(why)
	slo = {"latency": {"p50": {"threshold": 0.001, "hard_fail": True, "fail_ratio": 0}}}
	bench = {"driver": "guidellm", "num_concurrency": [1, 2, 4], "max_requests_per_iteration": 4}
	out, starts, events = experiment(model_path, tmp_path, bench, slo, early_stop={"min_requests": 2})
	assert starts == 1
	assert len(out.runs) == 1, "c=2 and c=4 skipped"
	run = out.runs[0]
	assert run.stopped_early is None and run.completed >= 2, "the tool ran its run in full"
	assert out.status == "infeasible" and "SLO clearly lost over" in (out.reason or ""), out.reason
	stop_ev = [e for e in events if isinstance(e, RunStoppedEarly)]
	assert stop_ev and stop_ev[0].skipped_levels == [2.0, 4.0]
