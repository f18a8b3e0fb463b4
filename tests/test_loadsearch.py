"""The pure max-load search (bench/loadsearch.py), the in-run early-stop checker and the Poisson schedule."""

from __future__ import annotations

import asyncio
import math
import statistics

import pytest

from inference_autotuner.bench.arrivals import poisson_offsets
from inference_autotuner.bench.early_stop import make_stopper, planned_seconds, saved_seconds
from inference_autotuner.bench.loadsearch import judge_run, search_max_load
from inference_autotuner.bench.metrics import RequestRecord, compute_run_metrics
from inference_autotuner.spec.models import EarlyStopSpec, SLOSpec


def search(answer: float, **kw):  # type: ignore[no-untyped-def]
	"""Search a synthetic monotone engine whose levels up to `answer` pass."""
	probed: list[float] = []

	async def probe(level: float) -> float:
		probed.append(level)
		return level

	def judge(level: float) -> str | None:
		return None if level <= answer else f"{level} > {answer}"

	args = {"start": 1, "limit": 256, "tolerance": 1, "max_probes": 50, "integer": True, **kw}
	return asyncio.run(search_max_load(probe, judge, **args)), probed


@pytest.mark.parametrize("answer", [1, 2, 3, 5, 7, 8, 13, 37, 100, 200])
def test_integer_search_finds_the_exact_answer_in_log_probes(answer: int) -> None:
	res, probed = search(answer)
	assert res.best == answer and res.first_fail == answer + 1
	assert len(probed) == len(set(probed)), "no level is measured twice"
	# doubling: floor(log2 answer) + 2 probes; bisection: at most ceil(log2(gap)) more
	bound = math.floor(math.log2(answer)) + 2 + math.ceil(math.log2(max(2, answer)))
	assert len(probed) <= bound
	assert len(probed) <= answer + 2, "at most one more probe than a sweep 1..answer+1"
	assert len(probed) < answer / 2 or answer < 30, "far fewer for larger answers"


def test_known_probe_sequence() -> None:
	res, probed = search(37)
	assert probed == [1, 2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]
	assert res.best == 37 and "tolerance" in res.stopped


def test_limit_passes_and_lowest_fails() -> None:
	res, probed = search(1000, limit=20)
	assert res.best == 20 and res.first_fail is None and probed == [1, 2, 4, 8, 16, 20]
	res, probed = search(0.5)
	assert res.best is None and probed == [1] and res.best_probe is None and "lowest" in res.stopped


def test_rate_search_stops_at_the_tolerance() -> None:
	res, probed = search(3.3, start=0.5, limit=64, tolerance=0.25, integer=False)
	assert res.best is not None and res.first_fail is not None
	assert res.best <= 3.3 < res.first_fail and res.first_fail - res.best <= 0.25
	assert probed[:4] == [0.5, 1.0, 2.0, 4.0]


def test_max_probes_and_keep_going_cap_the_search() -> None:
	res, probed = search(37, max_probes=5)
	assert len(probed) == 5 and res.best == 16 and "max_probes" in res.stopped
	calls = {"n": 0}

	def keep_going() -> bool:
		calls["n"] += 1
		return calls["n"] <= 3

	res, probed = search(37, keep_going=keep_going)
	assert probed == [1, 2, 4] and res.best == 4


def rec(t0: float, e2e: float, ttft: float = 0.01, out: int = 10) -> RequestRecord:
	return RequestRecord(
		scheduled=t0, sent=t0, first_token=t0 + ttft, end=t0 + e2e, chunk_times=[t0 + ttft], output_tokens=out
	)


def test_early_stopper_waits_for_min_requests_then_judges_hard_targets_only() -> None:
	slo = SLOSpec.model_validate(
		{"latency": {"p90": {"threshold": 1.0, "hard_fail": True, "fail_ratio": 0.5}}, "ttft": {"threshold": 0.001}}
	)
	es = EarlyStopSpec(min_requests=4, margin=0.2)
	stopper = make_stopper(slo, es)
	assert stopper is not None and [lim.metric for lim in stopper.limits] == ["latency.p90"]
	assert stopper.limits[0].limit == pytest.approx(1.0 * 1.5 * 1.2)
	for i in range(3):
		assert stopper.add(rec(i, 5.0)) is None, "fewer than min_requests completed"
	why = stopper.add(rec(3, 5.0))
	assert why is not None and "latency.p90" in why and "after 4 completed" in why
	# within the margin: never stopped
	ok = make_stopper(slo, es)
	assert ok is not None and all(ok.add(rec(i, 1.7)) is None for i in range(20))
	# a soft SLO alone never stops a run; a probe judges every target without fail_ratio
	soft = SLOSpec.model_validate({"ttft": {"threshold": 0.001}})
	assert make_stopper(soft, es) is None
	probe = make_stopper(soft, es, probe=True)
	assert probe is not None and probe.limits[0].limit == pytest.approx(0.0012)
	assert make_stopper(slo, EarlyStopSpec(enabled=False)) is None


def test_judge_and_saved_seconds() -> None:
	records = [rec(i * 0.5, 1.0) for i in range(10)]
	run = compute_run_metrics(records, scenario="D(8,8)", concurrency=2)
	slo = SLOSpec.model_validate({"latency": {"p50": {"threshold": 2.0}}})
	assert judge_run(run, slo) is None
	tight = SLOSpec.model_validate({"latency": {"p50": {"threshold": 0.5, "weight": 0.1}}})
	assert "latency.p50" in (judge_run(run, tight) or ""), "a soft violation fails a load level too"
	assert judge_run(run.model_copy(update={"stopped_early": "lost"}), slo) == "lost"
	assert "error rate" in (judge_run(run.model_copy(update={"error_rate": 0.5}), slo) or "")
	# 10 requests in 5.5 s, 40 planned: ~22 s planned, ~16.5 s saved; capped at max_time
	assert planned_seconds(run, max_requests=40, max_time=100) == pytest.approx(22.0)
	assert saved_seconds(run, max_requests=40, max_time=100) == pytest.approx(16.5)
	assert saved_seconds(run, max_requests=40, max_time=6) == pytest.approx(0.5)


def test_poisson_offsets_are_seeded_with_the_right_rate() -> None:
	a = poisson_offsets(4.0, 2000, seed=1)
	assert a == poisson_offsets(4.0, 2000, seed=1) and a != poisson_offsets(4.0, 2000, seed=2)
	gaps = [y - x for x, y in zip(a, a[1:], strict=False)]
	assert a[0] == 0 and all(g >= 0 for g in gaps)
	assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.1)
	assert statistics.stdev(gaps) == pytest.approx(0.25, rel=0.15), "exponential: std = mean"
