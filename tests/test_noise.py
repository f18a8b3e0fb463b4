"""Noise statistics (scoring.noise), checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from inference_autotuner.scoring.noise import (
	T95,
	Measurement,
	ValueStats,
	gain_over,
	group_configs,
	pessimistic_bound,
	recommend,
	t95,
	value_stats,
)


def m(eid: int, key: str, value: float | None, *, status: str = "success", origin: str = "search") -> Measurement:
	"""A measurement of a maximised objective: score = -value, as scoring gives without SLO penalty."""
	return Measurement(
		experiment_id=eid,
		number=eid,
		params_key=key,
		params={"k": key},
		status=status,
		origin=origin,
		objective_value=value,
		score=None if value is None else -value,
	)


def test_t_table() -> None:
	assert t95(1) == 12.706 and t95(2) == 4.303 and t95(30) == 2.042
	assert t95(35) == 2.042  # between listed df: the next smaller one (wider, conservative)
	assert t95(2.9) == 4.303  # Welch's fractional df round down
	assert t95(1000) == 1.96
	with pytest.raises(ValueError):
		t95(0)
	scipy_stats = pytest.importorskip("scipy.stats")
	for df, t in T95.items():
		assert t == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=6e-4)


def test_value_stats_by_hand() -> None:
	# 10, 12, 14: mean 12, deviations -2 0 2, sum of squares 8, sample var 8/2 = 4, std 2;
	# half width = t(0.975, 2) * 2 / sqrt(3) = 4.303 * 1.154701 = 4.968676
	s = value_stats([10, 12, 14])
	assert s is not None and s.n == 3 and s.mean == 12 and s.std == pytest.approx(2.0)
	assert s.ci_low == pytest.approx(12 - 4.968676, abs=1e-5) and s.ci_high == pytest.approx(16.968676, abs=1e-5)
	assert s.half_width == pytest.approx(4.968676, abs=1e-5)
	# 1, 3: mean 2, sample var ((-1)^2 + 1^2) / 1 = 2, std 1.414214; half = 12.706 * 1.414214 / 1.414214 = 12.706
	s = value_stats([1.0, 3.0])
	assert s is not None and s.ci_low == pytest.approx(2 - 12.706) and s.ci_high == pytest.approx(14.706)
	one = value_stats([5.0, float("nan")])
	assert one == ValueStats(n=1, mean=5.0) and one.half_width is None
	assert value_stats([]) is None
	same = value_stats([7.0, 7.0])
	assert same is not None and same.std == 0 and same.ci_low == same.ci_high == 7.0


def test_group_configs_only_successes_in_first_seen_order() -> None:
	rows = [
		m(3, "b", 20.0),
		m(1, "a", 10.0, origin="baseline"),
		m(2, "a", 14.0, origin="baseline"),
		m(4, "c", None, status="failed"),
		m(5, "a", 12.0, origin="repeat"),
		m(6, "b", 99.0, status="pruned"),
	]
	configs = group_configs(rows)
	assert [c.params_key for c in configs] == ["a", "b"]
	a, b = configs
	assert a.experiment_id == 1 and a.number == 1 and a.n == 3 and a.experiment_ids == [1, 2, 5]
	assert a.origins == ["baseline", "baseline", "repeat"] and a.params == {"k": "a"}
	assert a.objective is not None and a.objective.mean == 12 and a.objective.std == pytest.approx(2.0)
	assert a.score is not None and a.score.mean == -12 and a.score.ci_high == pytest.approx(-12 + 4.968676, abs=1e-5)
	assert b.n == 1 and b.objective == ValueStats(n=1, mean=20.0)


def test_pessimistic_bound() -> None:
	s = ValueStats(n=3, mean=10, std=1, ci_low=8, ci_high=12)
	assert pessimistic_bound(s, "maximize") == 8 and pessimistic_bound(s, "minimize") == 12
	assert pessimistic_bound(ValueStats(n=1, mean=4), "maximize") == 4


def test_recommend_prefers_the_safer_configuration() -> None:
	# a: 100, 102 -> mean 101, std 1.414214, half = 12.706 * 1.414214 / 1.414214 = 12.706 -> low 88.294
	# b: 95, 96, 97 -> mean 96, std 1, half = 4.303 / sqrt(3) = 2.484337 -> low 93.515663: b is safer
	# c: 150 once: ignored, since some configurations have an interval
	rows = [m(1, "a", 100.0), m(2, "a", 102.0), m(3, "b", 95.0), m(4, "b", 96.0), m(5, "b", 97.0), m(6, "c", 150.0)]
	configs = group_configs(rows)
	best = recommend(configs, "maximize")
	assert best is not None and best.params_key == "b"
	# On the score (lower is better): pessimistic = upper end; b: -96 + 2.484 = -93.52 < a: -101 + 12.706 = -88.29
	best = recommend(configs, "minimize", by="score")
	assert best is not None and best.params_key == "b"
	# minimise the value itself: upper ends a 113.706, b 98.484 -> b
	best = recommend(configs, "minimize")
	assert best is not None and best.params_key == "b"


def test_recommend_single_measurements_rank_on_points_and_ties() -> None:
	configs = group_configs([m(1, "a", 10.0), m(2, "b", 30.0), m(3, "c", 30.0)])
	best = recommend(configs, "maximize")
	assert best is not None and best.params_key == "b"  # tie with c: measured first wins
	best = recommend(configs, "minimize")
	assert best is not None and best.params_key == "a"
	assert recommend([], "maximize") is None
	assert recommend(group_configs([m(1, "a", None)]), "maximize") is None


def test_gain_over_baseline() -> None:
	# maximize: best mean 120 vs baseline 100: +20 %
	best = ValueStats(n=1, mean=120.0)
	base = ValueStats(n=1, mean=100.0)
	g = gain_over(best, base, "maximize")
	assert g is not None and g.value == pytest.approx(0.2) and g.ci_low is None and g.ci_high is None
	# minimize: latency 0.8 s vs 1.0 s: +20 % (better), 1.25 s: -25 %
	g = gain_over(ValueStats(n=1, mean=0.8), ValueStats(n=1, mean=1.0), "minimize")
	assert g is not None and g.value == pytest.approx(0.2)
	g = gain_over(ValueStats(n=1, mean=1.25), ValueStats(n=1, mean=1.0), "minimize")
	assert g is not None and g.value == pytest.approx(-0.25)
	assert gain_over(best, ValueStats(n=1, mean=0.0), "maximize") is None


def test_gain_interval_welch_by_hand() -> None:
	# best 118, 120, 122 (std 2, n 3); baseline 99, 101 (std 1.414214, n 2)
	# var/n: 4/3 = 1.333333, 2/2 = 1; se = sqrt(2.333333) = 1.527525
	# df = 2.333333^2 / (1.333333^2 / 2 + 1^2 / 1) = 5.444444 / 1.888889 = 2.882353 -> t(2) = 4.303
	# diff = 120 - 100 = 20; half = 4.303 * 1.527525 = 6.572940; / 100 -> 0.2 +- 0.0657294
	best = value_stats([118, 120, 122])
	base = value_stats([99, 101])
	assert best is not None and base is not None
	g = gain_over(best, base, "maximize")
	assert g is not None and g.value == pytest.approx(0.2)
	assert g.ci_low == pytest.approx(0.2 - 0.0657294, abs=1e-6) and g.ci_high == pytest.approx(0.2657294, abs=1e-6)
	# Same numbers as latencies (minimise): the gain turns negative, the interval flips around it
	g = gain_over(best, base, "minimize")
	assert g is not None and g.value == pytest.approx(-0.2) and g.ci_low == pytest.approx(-0.2657294, abs=1e-6)
	# No spread at all: a zero-width interval
	g = gain_over(ValueStats(n=2, mean=3, std=0, ci_low=3, ci_high=3), ValueStats(n=2, mean=2, std=0), "maximize")
	assert g is not None and g.ci_low == g.ci_high == pytest.approx(0.5)
	assert not math.isnan(g.value)


def test_recommend_baseline_repeats_alone_do_not_shut_out_single_measurements() -> None:
	# The baseline (a) measured 3 times, every other configuration once: all compete on point values (a on its mean)
	rows = [m(1, "a", 100.0), m(2, "a", 102.0), m(3, "a", 98.0), m(4, "b", 130.0), m(5, "c", 150.0)]
	configs = group_configs(rows)
	best = recommend(configs, "maximize", baseline_key="a")
	assert best is not None and best.params_key == "c"
	best = recommend(configs, "maximize")  # without knowing the baseline: only a has an interval
	assert best is not None and best.params_key == "a"
	# Once another configuration is repeated, single measurements are out again (the baseline stays in)
	rows += [m(6, "b", 128.0)]
	best = recommend(group_configs(rows), "maximize", baseline_key="a")
	# b: 130, 128 -> mean 129, std 1.414214, low 129 - 12.706 = 116.294 > a: 100 - 4.968676 = 95.031; c (n=1) is out
	assert best is not None and best.params_key == "b"
