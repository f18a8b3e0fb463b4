"""The rounds' fit (scoring/blocks.py): log value = round + configuration, by hand and on a recorded quick start."""

from __future__ import annotations

import math
import statistics

import pytest

from inference_autotuner.scoring.blocks import block_fit, fit_configs, rounds_of, side_by_side
from inference_autotuner.scoring.noise import Measurement, group_configs, paired_gain, t95


def test_rounds_follow_the_experiment_order() -> None:
	series = {
		"base": [(1, 100.0), (2, 101.0), (11, 102.0), (14, 103.0)],
		"a": [(3, 120.0), (12, 121.0), (15, 122.0)],
		"b": [(9, 118.0), (13, 119.0)],
	}
	# 1 alone (2 is the baseline again: a new round); 2 and 3; 9 alone (11, the baseline, opens a round of its
	# own); 11 12 13; 14 15
	assert rounds_of(series, opens="base") == [
		{"base": 101.0, "a": 120.0},
		{"base": 102.0, "a": 121.0, "b": 119.0},
		{"base": 103.0, "a": 122.0},
	]
	# without `opens`, 9 and 11 (2 apart) share a round, and 12 13 14 15 split where a configuration repeats
	assert rounds_of(series) == [
		{"base": 101.0, "a": 120.0},
		{"b": 118.0, "base": 102.0, "a": 121.0},
		{"b": 119.0, "base": 103.0, "a": 122.0},
	]
	# far apart: no round
	assert rounds_of({"a": [(1, 1.0)], "b": [(10, 1.0)]}) == []


def test_two_configurations_in_full_rounds_are_the_paired_t_on_log_ratios() -> None:
	base = [(1, 100.0), (3, 110.0), (5, 90.0), (7, 104.0)]
	cand = [(2, 120.0), (4, 130.0), (6, 112.0), (8, 119.0)]
	fit = block_fit({"base": base, "a": cand}, opens="base")
	assert fit is not None and fit.df == 3
	g = fit.diff("a", "base", "maximize")
	d = [math.log(c / b) for (_, c), (_, b) in zip(cand, base, strict=True)]
	half = t95(3) * statistics.stdev(d) / 2
	assert g is not None and g.method == "blocked" and g.pairs == 4 and g.df == 3
	assert g.value == pytest.approx(math.expm1(statistics.mean(d)))
	assert g.ci_low == pytest.approx(math.expm1(statistics.mean(d) - half))
	assert g.ci_high == pytest.approx(math.expm1(statistics.mean(d) + half))
	# minimised (a latency): the same ratio the other way round
	lat = fit.diff("a", "base", "minimize")
	assert lat is not None and lat.value == pytest.approx(math.expm1(-statistics.mean(d)))


def test_drift_cancels_exactly() -> None:
	# the machine slows 10 % a round; a is 20 % and b 10 % better than the baseline in every round
	series = {
		"base": [(1, 100.0), (4, 90.0), (7, 81.0)],
		"a": [(2, 120.0), (5, 108.0), (8, 97.2)],
		"b": [(3, 110.0), (6, 99.0), (9, 89.1)],
	}
	fit = block_fit(series, opens="base")
	assert fit is not None and fit.df == 4 and fit.sigma2 == pytest.approx(0.0, abs=1e-20)
	g = fit.diff("a", "base", "maximize")
	assert g is not None and g.value == pytest.approx(0.2) and g.ci_low == pytest.approx(0.2)
	ab = fit.diff("b", "a", "maximize")
	assert ab is not None and ab.value == pytest.approx(110 / 120 - 1)


def test_recorded_quick_start_the_runner_up_rounds_narrow_the_leaders_gain() -> None:
	"""Recorded on the quick start (2026-12-03, llama.cpp SmolLM2-135M, 2 cores): the baseline (b) twice first, the
	search's leader (a, #7) and runner-up (c, #9), then repeat rounds B a c / B c a / B a c / B a / B a / B c. Per-pair
	gains of a over the baseline: +38.2 % (+29.7 % to +46.8 %, 4 pairs, t(3) = 3.18). The rounds' fit uses the
	runner-up's rounds too (6 residual degrees of freedom): +38.1 % (+33.3 % to +43.1 %)."""
	b = [(1, 171.4), (2, 168.1), (11, 162.8), (14, 171.6), (17, 169.8), (19, 170.2), (21, 162.9)]
	a = [(7, 227.9), (13, 236.7), (15, 232.0), (18, 236.0), (20, 226.7)]
	c = [(9, 233.6), (12, 230.4), (16, 231.8), (22, 230.2)]
	others = {"s3": [(3, 115.3)], "s4": [(4, 160.7)], "s5": [(5, 130.7)], "s6": [(6, 160.9)], "s8": [(8, 130.7)]}
	fit = block_fit({"b": b, "a": a, "c": c, **others, "s10": [(10, 211.3)]}, opens="b")
	assert fit is not None and fit.df == 6
	g = fit.diff("a", "b", "maximize")
	assert g is not None and g.ci_low is not None and g.ci_high is not None
	assert g.value == pytest.approx(0.381, abs=1e-3)
	assert g.ci_low == pytest.approx(0.333, abs=1e-3) and g.ci_high == pytest.approx(0.431, abs=1e-3)
	paired = paired_gain(a, b, "maximize")
	assert paired is not None and paired.pairs == 4 and paired.ci_low is not None and paired.ci_high is not None
	assert (g.ci_high - g.ci_low) < 0.6 * (paired.ci_high - paired.ci_low)
	# the runner-up against the leader: a tie known to +-4 points
	tie = fit.diff("c", "a", "maximize")
	assert tie is not None and tie.ci_low is not None and tie.ci_high is not None
	assert tie.ci_low < 0 < tie.ci_high and (tie.ci_high - tie.ci_low) / 2 < 0.04


def _m(n: int, key: str, value: float) -> Measurement:
	return Measurement(experiment_id=n, number=n, params_key=key, objective_value=value, score=-value)


def test_side_by_side_falls_back_to_pairs_and_says_none_when_unconnected() -> None:
	rows = [_m(1, "base", 100.0), _m(2, "a", 120.0), _m(3, "base", 102.0), _m(4, "a", 125.0), _m(20, "z", 300.0)]
	configs = group_configs(rows)
	by = {c.params_key: c for c in configs}
	fit = fit_configs(configs, "base")
	assert fit is not None and fit.df == 1
	assert fit.diff("z", "base", "maximize") is None  # z shares no round with anything
	g = side_by_side(by["a"], by["base"], "maximize", fit)
	assert g is not None and g.method == "blocked"
	# zero or negative values have no log: per-pair gains instead
	assert block_fit({"base": [(1, 0.0), (3, 1.0)], "a": [(2, 1.0), (4, 1.0)]}, opens="base") is None
	rows = [
		_m(1, "base", 0.0),
		_m(2, "a", 1.0),
		_m(3, "base", 1.0),
		_m(4, "a", 1.2),
		_m(5, "base", 1.0),
		_m(6, "a", 1.1),
	]
	configs = group_configs(rows)
	by = {c.params_key: c for c in configs}
	g = side_by_side(by["a"], by["base"], "maximize", fit_configs(configs, "base"))
	assert g is not None and g.method == "paired" and g.pairs == 2
	# one round only: no residual degree of freedom, no fit
	assert block_fit({"base": [(1, 100.0)], "a": [(2, 120.0)]}, opens="base") is None
