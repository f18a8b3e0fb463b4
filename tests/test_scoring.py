"""Scoring: the seed's SLO penalty formula, aggregation over runs, per-GPU figures and the Pareto front, checked
against numbers computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import json
import math

import pytest

from inference_autotuner.bench.metrics import GoodputSLO, RequestRecord, RunMetrics, Stats, compute_run_metrics
from inference_autotuner.scoring import (
	FIGURE_KEYS,
	OBJECTIVE_INFO,
	apply_penalty,
	evaluate_slo,
	goodput_slo_from,
	pareto_front,
	score_experiment,
)
from inference_autotuner.scoring.objectives import QUALITY_FIGURE_KEYS
from inference_autotuner.spec.models import OBJECTIVES, LatencySLO, SLOSpec, SLOTarget

E = math.e  # 2.718281828459045


def make_run(
	*,
	concurrency: int = 1,
	e2e_mean: float = 1.0,
	e2e_p50: float | None = None,
	e2e_p90: float | None = None,
	e2e_p99: float | None = None,
	ttft_mean: float = 0.1,
	tpot_mean: float | None = 0.01,
	total_throughput: float = 1000.0,
	output_throughput: float = 500.0,
	request_throughput: float = 2.0,
	goodput: float | None = None,
	completed: int = 10,
	errored: int = 0,
) -> RunMetrics:
	"""A run built directly from its figures (seconds, tokens/s, requests/s)."""
	total = completed + errored
	has_data = completed > 0
	return RunMetrics(
		scenario="D(100,100)",
		concurrency=concurrency,
		duration=5.0,
		total_requests=total,
		completed=completed,
		errored=errored,
		error_rate=errored / total if total else 0.0,
		errors=["HTTP 500"] if errored else [],
		ttft=Stats(mean=ttft_mean, count=completed) if has_data else Stats(),
		tpot=Stats(mean=tpot_mean, count=completed) if has_data and tpot_mean is not None else Stats(),
		itl=Stats(mean=tpot_mean, count=completed) if has_data and tpot_mean is not None else Stats(),
		e2e=Stats(
			mean=e2e_mean,
			p50=e2e_p50 if e2e_p50 is not None else e2e_mean,
			p90=e2e_p90 if e2e_p90 is not None else e2e_mean,
			p99=e2e_p99 if e2e_p99 is not None else e2e_mean,
			count=completed,
		)
		if has_data
		else Stats(),
		input_tokens=1000 if has_data else 0,
		output_tokens=1000 if has_data else 0,
		output_throughput=output_throughput if has_data else 0.0,
		total_throughput=total_throughput if has_data else 0.0,
		request_throughput=request_throughput if has_data else 0.0,
		goodput=goodput,
	)


def p90_slo(threshold: float = 2.0, weight: float = 1.0, hard_fail: bool = False, fail_ratio: float = 0.5) -> SLOSpec:
	target = SLOTarget(threshold=threshold, weight=weight, hard_fail=hard_fail, fail_ratio=fail_ratio)
	return SLOSpec(latency=LatencySLO(p90=target), steepness=0.1)


# --- evaluate_slo -----------------------------------------------------------------------------------------------


def test_soft_penalty_matches_hand_computation() -> None:
	# threshold 2.0, actual p90 2.2: r = (2.2 - 2.0) / 2.0 = 0.1; penalty = 2 * exp(0.1 / 0.1) = 2e = 5.43656365...
	res = evaluate_slo(make_run(e2e_p90=2.2), p90_slo(threshold=2.0, weight=2.0))
	assert not res.hard_violation
	assert len(res.violations) == 1
	v = res.violations[0]
	assert v.metric == "latency.p90"
	assert v.actual == pytest.approx(2.2)
	assert v.threshold == 2.0
	assert v.ratio == pytest.approx(0.1)
	assert v.penalty == pytest.approx(5.43656365691809)
	assert res.penalty_sum == pytest.approx(2 * E)


def test_met_slo_costs_nothing() -> None:
	# actual 1.9 <= 2.0: r = -0.05 <= 0, no penalty, not even listed; exactly at the threshold: r = 0, no penalty
	assert evaluate_slo(make_run(e2e_p90=1.9), p90_slo()).violations == []
	res = evaluate_slo(make_run(e2e_p90=2.0), p90_slo())
	assert res.penalty_sum == 0.0 and not res.hard_violation and res.violations == []


def test_no_slo_means_no_penalty() -> None:
	res = evaluate_slo(make_run(e2e_p90=100.0), None)
	assert res.penalty_sum == 0.0 and not res.hard_violation


def test_hard_fail_past_fail_ratio_is_a_hard_violation() -> None:
	# threshold 2.0, actual 2.5: r = 0.5 / 2.0 = 0.25 > fail_ratio 0.2 -> hard violation, no soft penalty added
	res = evaluate_slo(make_run(e2e_p90=2.5), p90_slo(hard_fail=True, fail_ratio=0.2))
	assert res.hard_violation
	assert res.violations[0].hard
	assert res.violations[0].ratio == pytest.approx(0.25)
	assert res.penalty_sum == 0.0


def test_hard_fail_within_fail_ratio_is_soft() -> None:
	# actual 2.3: r = 0.3 / 2.0 = 0.15 <= 0.2 -> soft; penalty = 1 * exp(0.15 / 0.1) = e^1.5 = 4.48168907...
	res = evaluate_slo(make_run(e2e_p90=2.3), p90_slo(hard_fail=True, fail_ratio=0.2))
	assert not res.hard_violation
	assert res.penalty_sum == pytest.approx(4.4816890703380645)


def test_latency_uses_percentiles_ttft_and_tpot_use_means() -> None:
	slo = SLOSpec(
		latency=LatencySLO(
			p50=SLOTarget(threshold=1.0), p90=SLOTarget(threshold=2.0), p99=SLOTarget(threshold=4.0, weight=3.0)
		),
		ttft=SLOTarget(threshold=0.5),
		tpot=SLOTarget(threshold=0.05),
		steepness=0.2,
	)
	# p50 1.0 (met), p90 2.0 (met), p99 4.4: r = 0.1, penalty = 3 * e^(0.1/0.2) = 3 * e^0.5 = 4.94616381...
	# mean TTFT 0.6: r = 0.1 / 0.5 = 0.2, penalty = e^(0.2/0.2) = e = 2.71828183...
	# mean TPOT 0.04: met
	run = make_run(e2e_mean=1.2, e2e_p50=1.0, e2e_p90=2.0, e2e_p99=4.4, ttft_mean=0.6, tpot_mean=0.04)
	res = evaluate_slo(run, slo)
	by_metric = {v.metric: v for v in res.violations}
	assert set(by_metric) == {"latency.p99", "ttft"}
	assert by_metric["latency.p99"].penalty == pytest.approx(4.946163812100385)
	assert by_metric["ttft"].actual == pytest.approx(0.6)
	assert by_metric["ttft"].penalty == pytest.approx(E)
	# sum = 4.94616381 + 2.71828183 = 7.66444564
	assert res.penalty_sum == pytest.approx(7.664445640559431)


def test_slo_without_a_figure_is_unevaluated() -> None:
	# no request had 2+ output tokens: there is no TPOT to check
	res = evaluate_slo(make_run(tpot_mean=None), SLOSpec(tpot=SLOTarget(threshold=0.01)))
	assert res.unevaluated == ["tpot"]
	assert res.penalty_sum == 0.0 and not res.hard_violation


def test_huge_violation_stays_finite() -> None:
	# r = (2000 - 2) / 2 = 999; exp(999 / 0.1) would overflow: the exponent is capped, so the penalty stays finite
	res = evaluate_slo(make_run(e2e_p90=2000.0), p90_slo())
	assert math.isfinite(res.penalty_sum) and res.penalty_sum > 1e40
	result = score_experiment([make_run(e2e_mean=2000.0, e2e_p90=2000.0)], "minimize_latency", p90_slo())
	assert result.score is not None and math.isfinite(result.score)


# --- goodput thresholds -----------------------------------------------------------------------------------------


def test_goodput_slo_picks_loosest_latency_threshold() -> None:
	slo = SLOSpec(
		latency=LatencySLO(p50=SLOTarget(threshold=1.0), p90=SLOTarget(threshold=2.0), p99=SLOTarget(threshold=4.0)),
		ttft=SLOTarget(threshold=0.3),
		tpot=SLOTarget(threshold=0.05),
	)
	# max(1.0, 2.0, 4.0) = 4.0
	assert goodput_slo_from(slo) == GoodputSLO(ttft=0.3, tpot=0.05, e2e=4.0)
	only_p50 = SLOSpec(latency=LatencySLO(p50=SLOTarget(threshold=1.5)))
	assert goodput_slo_from(only_p50) == GoodputSLO(e2e=1.5)
	assert goodput_slo_from(SLOSpec(ttft=SLOTarget(threshold=0.2))) == GoodputSLO(ttft=0.2)
	assert goodput_slo_from(None) is None
	assert goodput_slo_from(SLOSpec()) is None


# --- score_experiment -------------------------------------------------------------------------------------------


def test_objective_info_covers_every_objective() -> None:
	assert set(OBJECTIVE_INFO) == set(OBJECTIVES)
	for info in OBJECTIVE_INFO.values():
		assert info.direction in ("minimize", "maximize")
		assert info.figure in FIGURE_KEYS + QUALITY_FIGURE_KEYS


def test_minimize_latency_with_penalty() -> None:
	# base = mean E2E 1.0 s; p90 2.2 vs 2.0 (weight 2): penalty 2e = 5.43656366; score = 1.0 * (1 + 2e) = 6.43656366
	result = score_experiment([make_run(e2e_mean=1.0, e2e_p90=2.2)], "minimize_latency", p90_slo(weight=2.0))
	assert result.feasible and result.direction == "minimize"
	assert result.objective_value == pytest.approx(1.0)
	assert result.penalty == pytest.approx(2 * E)
	assert result.score == pytest.approx(6.43656365691809)
	assert result.violations[0].run == "D(100,100) c=1"


def test_penalty_is_the_mean_over_kept_runs() -> None:
	# c=1: p90 2.2 vs 2.0, weight 2 -> 2e; c=4: p90 1.5, met -> 0. penalty = (2e + 0) / 2 = e = 2.71828183
	# base = mean E2E (1.0 + 3.0) / 2 = 2.0; score = 2.0 * (1 + e) = 7.43656366
	runs = [make_run(concurrency=1, e2e_mean=1.0, e2e_p90=2.2), make_run(concurrency=4, e2e_mean=3.0, e2e_p90=1.5)]
	result = score_experiment(runs, "minimize_latency", p90_slo(weight=2.0))
	assert result.penalty == pytest.approx(E)
	assert result.objective_value == pytest.approx(2.0)
	assert result.score == pytest.approx(7.43656365691809)
	assert result.runs_kept == 2 and result.runs_dropped == 0


def test_hard_violating_level_is_dropped_from_the_average() -> None:
	slo = p90_slo(threshold=2.0, hard_fail=True, fail_ratio=0.2)
	runs = [
		# c=1: p90 1.5, met; mean E2E 1.0, 1200 tokens/s
		make_run(concurrency=1, e2e_mean=1.0, e2e_p90=1.5, total_throughput=1200.0),
		# c=8: p90 3.0: r = 0.5 > 0.2 -> hard violation, dropped
		make_run(concurrency=8, e2e_mean=2.5, e2e_p90=3.0, total_throughput=4000.0),
	]
	result = score_experiment(runs, "maximize_throughput", slo)
	assert result.feasible
	assert result.runs_kept == 1 and result.runs_dropped == 1
	# only c=1 counts: 1200 tokens/s/GPU (not (1200 + 4000) / 2 = 2600); no penalty -> score -1200
	assert result.objective_value == pytest.approx(1200.0)
	assert result.score == pytest.approx(-1200.0)
	assert result.figures["mean_e2e_latency"] == pytest.approx(1.0)
	assert any("c=8" in n and "hard" in n for n in result.notes)
	assert any(v.hard and v.run == "D(100,100) c=8" for v in result.violations)


def test_every_level_hard_violating_is_infeasible() -> None:
	slo = p90_slo(threshold=2.0, hard_fail=True, fail_ratio=0.2)
	# p90 2.5 and 3.0: r = 0.25 and 0.5, both > 0.2
	runs = [make_run(concurrency=1, e2e_p90=2.5), make_run(concurrency=8, e2e_p90=3.0)]
	result = score_experiment(runs, "minimize_latency", slo)
	assert not result.feasible
	assert result.score is None
	assert result.reason is not None and "hard SLO" in result.reason and "latency.p90" in result.reason
	assert result.runs_kept == 0 and result.runs_dropped == 2
	assert result.objective_value == pytest.approx(1.0)  # still shown, for display


def test_throughput_is_divided_by_world_size() -> None:
	# total throughput (1000 + 3000) / 2 = 2000 tokens/s over 4 GPUs -> 500 tokens/s/GPU; score = -500
	runs = [make_run(total_throughput=1000.0, output_throughput=400.0), make_run(total_throughput=3000.0)]
	result = score_experiment(runs, "maximize_throughput", None, world_size=4)
	assert result.direction == "maximize"
	assert result.figures["total_throughput"] == pytest.approx(2000.0)
	assert result.objective_value == pytest.approx(500.0)
	assert result.figures["per_gpu_throughput"] == pytest.approx(500.0)
	# output (400 + 500) / 2 = 450 tokens/s over 4 GPUs -> 112.5
	assert result.figures["per_gpu_output_throughput"] == pytest.approx(112.5)
	assert result.score == pytest.approx(-500.0)
	assert result.unit == "tokens/s/GPU"


def test_maximize_with_penalty_scores_worse() -> None:
	slo = SLOSpec(ttft=SLOTarget(threshold=0.5), steepness=0.1)
	clean = score_experiment([make_run(total_throughput=1000.0, ttft_mean=0.4)], "maximize_throughput", slo)
	# mean TTFT 0.55: r = 0.05 / 0.5 = 0.1, penalty = e; score = -1000 / (1 + e) = -268.94142137
	penalised = score_experiment([make_run(total_throughput=1000.0, ttft_mean=0.55)], "maximize_throughput", slo)
	assert clean.score == pytest.approx(-1000.0)
	assert penalised.penalty == pytest.approx(E)
	assert penalised.score == pytest.approx(-268.9414213699951)
	assert penalised.score is not None and clean.score is not None
	assert penalised.score > clean.score  # lower is better: the penalised config ranks worse
	assert penalised.objective_value == pytest.approx(1000.0)  # the figure itself carries no penalty


def test_apply_penalty_directions() -> None:
	assert apply_penalty(2.0, 0.5, "minimize") == pytest.approx(3.0)  # 2 * 1.5
	assert apply_penalty(300.0, 2.0, "maximize") == pytest.approx(-100.0)  # -300 / 3
	assert apply_penalty(0.0, 1.0, "maximize") == 0.0 and math.copysign(1, apply_penalty(0.0, 1.0, "maximize")) == 1


def _record(sent: float, ttft: float, e2e: float, out: int, inp: int = 10) -> RequestRecord:
	chunks = [sent + ttft + (e2e - ttft) * i / (out - 1) for i in range(out)]
	return RequestRecord(
		scheduled=sent,
		sent=sent,
		first_token=sent + ttft,
		end=sent + e2e,
		chunk_times=chunks,
		input_tokens=inp,
		output_tokens=out,
	)


def test_figures_from_request_records() -> None:
	slo = SLOSpec(ttft=SLOTarget(threshold=0.2))
	records = [
		# TTFT 0.1, E2E 1.1, 11 tokens: TPOT = (1.1 - 0.1) / 10 = 0.1
		_record(0.0, 0.1, 1.1, 11),
		# TTFT 0.3, E2E 2.3, 11 tokens: TPOT = (2.3 - 0.3) / 10 = 0.2
		_record(0.0, 0.3, 2.3, 11),
	]
	run = compute_run_metrics(records, scenario="D(10,11)", concurrency=2, goodput_slo=goodput_slo_from(slo))
	# duration 2.3 s; tokens (10 + 11) * 2 = 42 -> 42 / 2.3 = 18.26086957 tokens/s
	# goodput: only the first request has TTFT <= 0.2 -> 1 / 2.3 = 0.43478261 req/s; over 2 GPUs 0.21739130
	result = score_experiment([run], "maximize_goodput", slo, world_size=2)
	assert result.feasible
	assert result.figures["mean_ttft"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2
	assert result.figures["mean_e2e_latency"] == pytest.approx(1.7)  # (1.1 + 2.3) / 2
	assert result.figures["mean_tpot"] == pytest.approx(0.15)  # (0.1 + 0.2) / 2
	assert result.figures["total_throughput"] == pytest.approx(18.26086956521739)
	assert result.figures["goodput"] == pytest.approx(0.43478260869565216)
	assert result.objective_value == pytest.approx(0.21739130434782608)
	# mean TTFT 0.2 <= 0.2: no penalty; score = -0.21739130
	assert result.score == pytest.approx(-0.21739130434782608)
	ttft = score_experiment([run], "minimize_ttft", slo)
	assert ttft.score == pytest.approx(0.2)
	tpot = score_experiment([run], "minimize_tpot", slo)
	assert tpot.score == pytest.approx(0.15)
	assert set(result.figures) == set(FIGURE_KEYS)


def test_goodput_without_slo_is_request_throughput() -> None:
	# no SLO: every completed request meets "every given SLO" -> goodput = 2.0 req/s; over 2 GPUs 1.0
	result = score_experiment([make_run(request_throughput=2.0)], "maximize_goodput", None, world_size=2)
	assert result.objective_value == pytest.approx(1.0)
	assert result.score == pytest.approx(-1.0)


def test_goodput_not_measured_with_slo_is_infeasible() -> None:
	slo = SLOSpec(ttft=SLOTarget(threshold=0.2))
	result = score_experiment([make_run(goodput=None)], "maximize_goodput", slo)
	assert not result.feasible and result.reason is not None and "goodput" in result.reason


def test_runs_without_completed_requests() -> None:
	failed = make_run(concurrency=16, completed=0, errored=10)
	# no run with data: infeasible, figures None, error rate 10 / 10 = 1.0
	result = score_experiment([failed], "minimize_latency", None)
	assert not result.feasible and result.score is None
	assert result.reason is not None and "no run completed" in result.reason and "HTTP 500" in result.reason
	assert result.figures["mean_e2e_latency"] is None
	assert result.figures["error_rate"] == pytest.approx(1.0)
	# beside a good run: dropped from the averages, but its errors count: 10 / (10 + 10) = 0.5
	good = make_run(concurrency=1, e2e_mean=0.8)
	mixed = score_experiment([good, failed], "minimize_latency", None)
	assert mixed.feasible and mixed.score == pytest.approx(0.8)
	assert mixed.runs_kept == 1 and mixed.runs_dropped == 1
	assert mixed.figures["error_rate"] == pytest.approx(0.5)
	empty = score_experiment([], "minimize_latency", None)
	assert not empty.feasible and empty.reason == "no run was measured"


def test_bad_arguments() -> None:
	with pytest.raises(ValueError, match="unknown objective"):
		score_experiment([make_run()], "maximize_fun", None)
	with pytest.raises(ValueError, match="world_size"):
		score_experiment([make_run()], "maximize_throughput", None, world_size=0)


def test_score_result_serialises() -> None:
	result = score_experiment([make_run(e2e_p90=2.2)], "minimize_latency", p90_slo())
	data = json.loads(result.model_dump_json())
	assert data["feasible"] is True and data["violations"][0]["metric"] == "latency.p90"


# --- pareto_front -----------------------------------------------------------------------------------------------


def test_pareto_front_minimize() -> None:
	points = [(1.0, 5.0), (2.0, 2.0), (3.0, 1.0), (3.0, 3.0), (2.0, 2.0)]
	# (3, 3) is dominated by (2, 2); the two equal (2, 2) do not dominate each other
	assert pareto_front(points, ["minimize", "minimize"]) == [0, 1, 2, 4]


def test_pareto_front_mixed_directions() -> None:
	# (throughput up, latency down): (200, 1.5) dominates (200, 2.0) and (150, 2.5); (100, 1.0) has the best latency
	points = [(100.0, 1.0), (200.0, 2.0), (150.0, 2.5), (200.0, 1.5)]
	assert pareto_front(points, ["maximize", "minimize"]) == [0, 3]


def test_pareto_front_edge_cases() -> None:
	assert pareto_front([], ["minimize"]) == []
	assert pareto_front([(1.0,)], ["minimize"]) == [0]
	assert pareto_front([(1.0,), (float("nan"),), (2.0,)], ["minimize"]) == [0]
	with pytest.raises(ValueError, match="direction"):
		pareto_front([(1.0,)], ["sideways"])
	with pytest.raises(ValueError, match="coordinate"):
		pareto_front([(1.0, 2.0)], ["minimize"])
