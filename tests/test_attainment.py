"""Tail SLOs (slo.attainment, docs/workloads.md): the share of a run's requests within every threshold, a hard
constraint for scoring and a failed level for the max-load search."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inference_autotuner.bench.loadsearch import judge_run
from inference_autotuner.bench.metrics import RequestRecord, compute_run_metrics
from inference_autotuner.scoring.slo import evaluate_slo, goodput_slo_from
from inference_autotuner.spec.models import SLOSpec


def _rec(start: float, ttft: float, e2e: float, error: str | None = None) -> RequestRecord:
	return RequestRecord(
		scheduled=start, sent=start, first_token=start + ttft, end=start + e2e, chunk_times=[start + ttft],
		input_tokens=8, output_tokens=4, error=error,
	)  # fmt: skip


def test_attainment_is_the_share_of_requests_within_every_threshold() -> None:
	slo = SLOSpec(ttft={"threshold": 0.5}, attainment=0.9)
	# 20 requests: 18 fast, 1 slow (TTFT 0.8 s), 1 failed -> 90 % attained
	records = [_rec(i, 0.1, 1.0) for i in range(18)] + [_rec(18, 0.8, 1.5), _rec(19, 0.1, 1.0, error="HTTP 500")]
	run = compute_run_metrics(records, scenario="D(8,4)", concurrency=1, goodput_slo=goodput_slo_from(slo))
	assert run.attainment == pytest.approx(0.9)
	assert evaluate_slo(run, slo).violations == []  # the mean TTFT (0.135 s) and 90 % both pass
	assert judge_run(run, slo) is None

	strict = SLOSpec(ttft={"threshold": 0.5}, attainment=0.95)
	result = evaluate_slo(run, strict)
	assert result.hard_violation and result.violations[0].metric == "attainment"
	assert judge_run(run, strict) == "SLO attainment 90.0% < 95% of requests within every threshold"


def test_attainment_needs_a_threshold_and_a_share() -> None:
	with pytest.raises(ValidationError, match="needs a threshold"):
		SLOSpec(attainment=0.95)
	for bad in (0, 1.5):
		with pytest.raises(ValidationError):
			SLOSpec(ttft={"threshold": 1}, attainment=bad)
	assert SLOSpec(latency={"p99": {"threshold": 2}}, attainment=1.0).attainment == 1.0
