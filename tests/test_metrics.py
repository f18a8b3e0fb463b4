"""Metric definitions (docs/metrics.md) checked against hand-computed numbers."""

from __future__ import annotations

import pytest

from inference_autotuner.bench.metrics import GoodputSLO, RequestRecord, compute_run_metrics, percentile, summarize


def test_percentile_linear_interpolation() -> None:
	vals = [1.0, 2.0, 3.0, 4.0]
	# rank = (n-1) * q/100: p50 -> 1.5 -> 2 + 0.5*(3-2) = 2.5; p90 -> 2.7 -> 3 + 0.7*1 = 3.7; p99 -> 2.97 -> 3.97
	assert percentile(vals, 50) == pytest.approx(2.5)
	assert percentile(vals, 90) == pytest.approx(3.7)
	assert percentile(vals, 99) == pytest.approx(3.97)
	assert percentile([5.0], 99) == 5.0
	s = summarize([4.0, 1.0, 3.0, 2.0])
	assert (s.mean, s.min, s.max, s.count) == (2.5, 1.0, 4.0, 4)
	assert s.p95 == pytest.approx(3.85)  # rank 2.85 -> 3 + 0.85


def rec(
	sent: float, first: float, chunks: list[float], out: int, inp: int = 10, error: str | None = None
) -> RequestRecord:
	return RequestRecord(
		scheduled=sent,
		sent=sent,
		first_token=first,
		end=chunks[-1] if chunks else None,
		chunk_times=chunks,
		input_tokens=inp,
		output_tokens=out,
		error=error,
	)


def test_request_level_definitions() -> None:
	r = rec(0.0, 0.5, [0.5, 0.7, 1.0, 1.5], out=4)
	assert r.ttft == 0.5
	assert r.e2e == 1.5
	assert r.tpot == pytest.approx((1.5 - 0.5) / 3)  # (E2E - TTFT) / (out - 1)
	assert r.itls == pytest.approx([0.2, 0.3, 0.5])
	assert rec(0.0, 0.5, [0.5], out=1).tpot is None  # one token: no TPOT


def test_run_figures() -> None:
	records = [
		rec(0.0, 0.5, [0.5, 1.0], out=2),  # ttft .5, e2e 1.0, tpot .5
		rec(0.0, 1.0, [1.0, 1.5, 2.0], out=3),  # ttft 1, e2e 2, tpot .5
		rec(1.0, 1.2, [], out=0, error="HTTP 500: boom"),
	]
	records[2].end = None
	m = compute_run_metrics(records, scenario="D(10,2)", concurrency=2, goodput_slo=GoodputSLO(ttft=0.8))
	# duration: first send 0.0 -> last end 2.0
	assert m.duration == pytest.approx(2.0)
	assert (m.total_requests, m.completed, m.errored) == (3, 2, 1)
	assert m.error_rate == pytest.approx(1 / 3)
	assert m.errors == ["HTTP 500: boom"]
	assert m.output_tokens == 5 and m.input_tokens == 20
	assert m.output_throughput == pytest.approx(5 / 2.0)
	assert m.total_throughput == pytest.approx(25 / 2.0)
	assert m.request_throughput == pytest.approx(1.0)
	assert m.ttft.mean == pytest.approx(0.75) and m.e2e.mean == pytest.approx(1.5)
	assert m.tpot.mean == pytest.approx(0.5)
	assert m.itl.count == 3
	assert m.goodput == pytest.approx(1 / 2.0)  # only the first request had TTFT <= 0.8


def test_no_slo_means_no_goodput_figure() -> None:
	m = compute_run_metrics([rec(0.0, 0.1, [0.1, 0.2], out=2)], scenario="D(1,2)", concurrency=1)
	assert m.goodput is None
