"""Noise statistics (scoring.noise), checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from inference_autotuner.runner.events import LogMessage, TaskEvent
from inference_autotuner.scoring.noise import (
	T95,
	ConfigStats,
	Measurement,
	ValueStats,
	gain_over,
	group_configs,
	noise_floor,
	paired_gain,
	pessimistic_bound,
	recommend,
	separated,
	t95,
	value_stats,
	verdict,
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


def test_issue_7_a_collapsed_score_never_beats_a_4x_better_objective() -> None:
	"""Recorded case (issue 18 part 7): goodput objective, a soft TTFT SLO both missed, the baseline badly (its
	score crushed to about -3e-5 by the exponential penalty), the candidate with 4x its goodput measured 3 times."""

	def g(eid: int, key: str, goodput: float, score: float, penalty: float) -> Measurement:
		return Measurement(
			experiment_id=eid,
			number=eid,
			params_key=key,
			status="success",
			origin="baseline" if key == "base" else "search",
			objective_value=goodput,
			score=score,
			penalty=penalty,
		)

	rows = [
		g(1, "base", 0.10, -1e-5, 9999.0),
		g(2, "base", 0.11, -3e-5, 3666.0),
		g(3, "base", 0.09, -5e-5, 1799.0),
		g(4, "cand", 0.42, -0.05, 7.4),
		g(5, "cand", 0.40, -0.09, 3.4),
		g(6, "cand", 0.44, -0.04, 10.0),
	]
	configs = group_configs(rows)
	base, cand = configs
	assert base.score is not None and cand.score is not None and not base.slo_met and not cand.slo_met
	# the old rule, the pessimistic (upper) bound of the score: the baseline's +2e-5 beats the candidate's +0.0058
	# base: mean -3e-5, std 2e-5, half 4.303 * 2e-5 / sqrt(3) = 4.97e-5; cand: mean -0.06, std 0.026458, half 0.06573
	assert pessimistic_bound(base.score, "minimize") == pytest.approx(1.9687e-5, rel=1e-3)
	assert pessimistic_bound(cand.score, "minimize") == pytest.approx(0.005730, rel=1e-3)
	assert min(configs, key=lambda c: pessimistic_bound(c.score, "minimize")).params_key == "base"  # type: ignore[arg-type]
	# the rule now: neither met the SLO, so the mean score ranks them (no bound): the candidate
	best = recommend(configs, "maximize", baseline_key="base")
	assert best is not None and best.params_key == "cand"
	assert cand.objective is not None and base.objective is not None
	gain = gain_over(cand.objective, base.objective, "maximize")  # 0.42 vs 0.10: +320 %, interval well above 0
	assert gain is not None and gain.value == pytest.approx(3.2) and gain.ci_low is not None and gain.ci_low > 2.5
	said = verdict(gain, noise_floor([0.10, 0.11, 0.09]))
	assert said is not None and said.kind == "better"


def test_recommend_slo_attainment_is_a_constraint() -> None:
	# b has the higher objective but missed an SLO (penalty > 0) in one measurement: a, which met every SLO, wins
	rows = [m(1, "a", 100.0), m(2, "a", 101.0), m(3, "b", 150.0), m(4, "b", 152.0)]
	rows[3] = rows[3].model_copy(update={"penalty": 0.4})
	best = recommend(group_configs(rows), "maximize")
	assert best is not None and best.params_key == "a"


def test_recommend_overlapping_intervals_are_a_tie_that_goes_to_the_safer_interval() -> None:
	# a: 100, 110 (mean 105, half 12.706 * 7.071068 / 1.414214 = 63.53 -> low 41.47); b: 103, 104, 105 (mean 104,
	# low 104 - 2.484 = 101.52): the intervals overlap, a tie: b's better pessimistic bound wins
	rows = [m(1, "a", 100.0), m(2, "a", 110.0), m(3, "b", 103.0), m(4, "b", 104.0), m(5, "b", 105.0)]
	best = recommend(group_configs(rows), "maximize")
	assert best is not None and best.params_key == "b"
	# intervals apart: the higher mean, which then also has the better bound
	rows = [m(1, "a", 102.0), m(2, "a", 102.2), m(3, "b", 100.0), m(4, "b", 100.1), m(5, "b", 99.9)]
	best = recommend(group_configs(rows), "maximize", noise=0.05)
	assert best is not None and best.params_key == "a"


def test_noise_floor_by_hand() -> None:
	# 100, 102, 98: mean 100, std 2, cv 0.02; floor = t(2) * sqrt(2) * 0.02 = 4.303 * 1.414214 * 0.02 = 0.121707
	nf = noise_floor([100.0, 102.0, 98.0])
	assert nf is not None and nf.n == 3 and nf.cv == pytest.approx(0.02)
	assert nf.floor == pytest.approx(0.1217072, abs=1e-6)
	assert noise_floor([100.0]) is None and noise_floor([0.0, 0.0]) is None


def test_paired_gain_by_hand_cancels_drift() -> None:
	# the machine slows down 10 % per round; the candidate is 20 % better in every round (ABAB)
	base = [(1, 100.0), (3, 90.0), (5, 81.0)]
	cand = [(2, 120.0), (4, 108.0), (6, 97.2)]
	g = paired_gain(cand, base, "maximize")
	assert g is not None and g.method == "paired" and g.pairs == 3
	assert g.value == pytest.approx(0.2) and g.ci_low == pytest.approx(0.2) and g.ci_high == pytest.approx(0.2)
	# the same figures as independent means: the drift swamps the gain (Welch interval includes 0)
	w = gain_over(value_stats([v for _, v in cand]), value_stats([v for _, v in base]), "maximize")  # type: ignore[arg-type]
	assert w is not None and w.ci_low is not None and w.ci_low < 0 < w.value
	# latencies (minimise): 0.8 s vs 1.0 s in each pair: +20 %
	g = paired_gain([(2, 0.8), (4, 0.88)], [(1, 1.0), (3, 1.1)], "minimize")
	assert g is not None and g.value == pytest.approx(0.2)
	# measurements far apart do not pair; one pair is not enough
	assert paired_gain([(20, 1.0), (30, 1.0)], [(1, 1.0), (2, 1.0)], "maximize") is None
	assert paired_gain([(2, 1.0)], [(1, 1.0)], "maximize") is None


def test_paired_gain_pairs_each_round_with_its_own_baseline() -> None:
	"""Recorded on the quick start (2026-12-02): baseline at 1, 2 (noise runs) and in each repeat round B C (11/12,
	13/14, ...); the candidate's search measurement (8) came 3 before the first round's B. Paired greedily in
	candidate order, 8 took 11 and every round's C paired with the NEXT round's B: +12.5% (-15.4% to +40.5%). Closest
	first, each C pairs with its own B: +9.8% (+1.9% to +17.8%), and 8 (no baseline within 4 left) pairs with none."""
	base = [(1, 112.816), (2, 120.147), (11, 114.545), (13, 130.712), (15, 102.528), (17, 145.784), (19, 117.862)]
	cand = [(8, 141.769), (12, 132.699), (14, 133.8), (16, 113.756), (18, 151.798), (20, 136.594)]
	g = paired_gain(cand, base, "maximize")
	assert g is not None and g.pairs == 5
	by_round = [(c - b) / b for (_, b), (_, c) in zip(base[2:], cand[1:], strict=True)]
	assert g.value == pytest.approx(sum(by_round) / 5)
	assert g.value == pytest.approx(0.0984, abs=1e-3) and g.ci_low is not None and g.ci_high is not None
	assert g.ci_low == pytest.approx(0.0192, abs=1e-3) and g.ci_high == pytest.approx(0.1775, abs=1e-3)
	# equally far before and after: the baseline measured before the candidate (its round's) wins
	assert paired_gain([(2, 110.0), (4, 120.0)], [(1, 100.0), (3, 100.0), (5, 50.0)], "maximize").value == (  # type: ignore[union-attr]
		pytest.approx(0.15)
	)


def test_verdict_statements() -> None:
	nf = noise_floor([100.0, 102.0, 98.0])
	better = verdict(gain_over(value_stats([128, 126, 130]), value_stats([100, 102, 98]), "maximize"), nf)  # type: ignore[arg-type]
	assert better is not None and better.kind == "better"
	assert better.text.startswith("better than baseline by 28.0% (95% CI +23.5% to +32.5%")
	same = verdict(gain_over(value_stats([101, 99, 103]), value_stats([100, 102, 98]), "maximize"), nf)  # type: ignore[arg-type]
	assert same is not None and same.kind == "no_difference"
	assert same.text.startswith("no detectable difference (noise ±12.2%")
	worse = verdict(gain_over(value_stats([80, 81, 79]), value_stats([100, 102, 98]), "maximize"), nf)  # type: ignore[arg-type]
	assert worse is not None and worse.kind == "worse" and worse.text.startswith("worse than baseline by 20.0%")
	# single measurements: the noise floor decides
	single = verdict(gain_over(ValueStats(n=1, mean=105), ValueStats(n=1, mean=100), "maximize"), nf)
	assert single is not None and single.kind == "no_difference" and "noise ±12.2%" in single.text
	single = verdict(gain_over(ValueStats(n=1, mean=130), ValueStats(n=1, mean=100), "maximize"), nf)
	assert single is not None and single.kind == "better" and "above the noise ±12.2%" in single.text
	kept = verdict(None, nf, is_baseline=True)
	assert kept is not None and kept.kind == "baseline"


def test_separated_only_when_intervals_part() -> None:
	def pair(rows: list[Measurement]) -> tuple[ConfigStats, ConfigStats, ConfigStats]:
		by = {c.params_key: c for c in group_configs(rows)}
		return by["a"], by["b"], by["base"]

	base = [m(1, "base", 100.0), m(2, "base", 102.0), m(3, "base", 98.0)]
	# a (120, 130: 125 +- 63.5) overlaps b (118, 126) and the baseline (100 +- 4.97): nothing separated
	a, b, bs = pair(base + [m(4, "a", 120.0), m(5, "a", 130.0), m(6, "b", 118.0), m(7, "b", 126.0)])
	assert not separated(a, b) and not separated(b, a) and not separated(a, bs)
	# a far ahead of b and of the baseline, intervals apart: separated both ways
	a, b, bs = pair(base + [m(4, "a", 200.0), m(5, "a", 201.0), m(6, "b", 150.0), m(7, "b", 151.0)])
	assert separated(a, b) and separated(b, a) and separated(a, bs) and separated(b, bs)
	# one measurement each: nothing is separated yet, however far apart
	a, b, bs = pair(base + [m(4, "a", 200.0), m(6, "b", 150.0)])
	assert not separated(a, b) and not separated(a, bs)


def test_gain_known_to_the_asked_precision() -> None:
	from inference_autotuner.scoring.noise import Gain, gain_known, settled_by

	wide_but_decided = Gain(value=0.3, ci_low=0.12, ci_high=0.48, method="paired", pairs=3)
	narrow_no_difference = Gain(value=0.02, ci_low=-0.06, ci_high=0.10, method="paired", pairs=5)
	assert not gain_known(wide_but_decided, 0.10)  # better, but only to +-18 points: measure more pairs
	assert gain_known(wide_but_decided, None)  # no precision asked: a decided verdict is enough
	assert gain_known(narrow_no_difference, 0.10)  # "no detectable difference" to +-8 points: an answer
	assert not gain_known(narrow_no_difference, None)
	assert not gain_known(None, 0.10) and not gain_known(Gain(value=0.1, method="single"), 0.10)
	# recorded (the CPU-hog tuning, 2026-12-03): +42.1 % (+40.0 % to +44.3 %) after one round, from a fit with one
	# residual degree of freedom: narrow by luck as often as not; known from 2 rounds and 3 degrees of freedom on
	lucky = Gain(value=0.421, ci_low=0.400, ci_high=0.443, method="blocked", pairs=1, df=1)
	assert not gain_known(lucky, 0.10) and not gain_known(lucky, None)
	assert not gain_known(lucky.model_copy(update={"pairs": 2, "df": 2}), 0.10)
	assert gain_known(lucky.model_copy(update={"pairs": 2, "df": 3}), 0.10)
	assert not settled_by(lucky, 0.10) and settled_by(lucky.model_copy(update={"pairs": 2, "df": 3}), 0.10)


def test_settled_by_paired_differences_where_unpaired_intervals_still_overlap() -> None:
	"""Two candidates that drift together (the machine slows down over the rounds): measured side by side, b is
	7-8 % below a every round, yet their unpaired intervals overlap widely; the paired difference settles it."""
	from inference_autotuner.scoring.noise import Direction, leader_of, settled_by

	def settled(c: ConfigStats, leader: ConfigStats, direction: Direction, precision: float | None) -> bool:
		return settled_by(paired_gain(c.values, leader.values, direction), precision)

	rows = [
		m(1, "a", 150.0), m(2, "b", 139.0),  # search
		m(3, "base", 120.0), m(4, "a", 140.0), m(5, "b", 130.0),  # round 1
		m(6, "base", 110.0), m(7, "a", 128.0), m(8, "b", 118.0),  # round 2
		m(9, "base", 100.0), m(10, "a", 117.0), m(11, "b", 108.0),  # round 3
	]  # fmt: skip
	configs = group_configs(rows)
	a, b = (next(c for c in configs if c.params_key == k) for k in ("a", "b"))
	assert not separated(a, b)  # unpaired: 123.8 +- 21.6 vs 133.8 +- 22.8
	assert leader_of(configs, "maximize", baseline_key="base") is a
	# pairs (1,2) -7.33 %, (4,5) -7.14 %, (7,8) -7.81 %, (10,11) -7.69 %: mean -7.50 %, interval -7.99 % to -7.00 %
	assert settled(b, a, "maximize", 0.10) and settled(b, a, "maximize", None)
	# two pairs only, -5 % and +4 %: mean -0.5 %, t(1) = 12.7: +-57 points, not settled
	wide = group_configs([m(1, "a", 100.0), m(2, "b", 95.0), m(3, "a", 100.0), m(4, "b", 104.0)])
	assert not settled(wide[1], wide[0], "maximize", 0.10)
	# a tie known to +-10 points (pairs -2 %, +3 %, -1 %, +1 %, 0 %: interval -2.2 % to +2.6 %): settled as a tie,
	# but only when a precision is asked (without one, only an interval that excludes 0 settles)
	tie = group_configs(
		[m(i, k, v) for i, (k, v) in enumerate(
			[("a", 100.0), ("b", 98.0), ("a", 100.0), ("b", 103.0), ("a", 100.0), ("b", 99.0), ("a", 100.0),
			 ("b", 101.0), ("a", 100.0), ("b", 100.0)], 1)]
	)  # fmt: skip
	assert settled(tie[1], tie[0], "maximize", 0.10) and not settled(tie[1], tie[0], "maximize", None)


def test_leader_of_leaves_out_the_baseline() -> None:
	from inference_autotuner.scoring.noise import leader_of

	rows = [m(1, "base", 300.0), m(2, "a", 120.0), m(3, "b", 130.0), m(4, "c", 130.0)]
	leader = leader_of(group_configs(rows), "maximize", baseline_key="base")
	assert leader is not None and leader.params_key == "b"  # the earliest of the tied best
	low = leader_of(group_configs(rows), "minimize", baseline_key="base")
	assert low is not None and low.params_key == "a"
	assert leader_of(group_configs(rows[:1]), "maximize", baseline_key="base") is None


@pytest.mark.engine
def test_a_real_task_measures_its_noise_floor_first_and_interleaves_the_repeats(tmp_path, model_path) -> None:  # type: ignore[no-untyped-def]
	"""Real llama.cpp: the baseline twice at the start (noise floor logged before the search), the search, then one
	round of repeats interleaved with the baseline (B then C); the summary states the result in one sentence."""
	import threading

	from sqlalchemy import select

	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.services.summary import task_summary
	from inference_autotuner.services.validate import parse_spec
	from inference_autotuner.store import Experiment, Store

	spec = parse_spec(
		{
			"task_name": "noise-floor",
			"model": {"id_or_path": str(model_path)},
			"base_runtime": "llama.cpp",
			"parameters": {"parallel": [1, 2], "threads": [1]},
			"optimization": {
				"strategy": "grid_search",
				"max_iterations": 2,
				"repeat_top_k": 1,
				"repeats": 1,
				"noise_runs": 2,
				"warm_start": False,
				"timeout_per_iteration": 300,
			},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"num_concurrency": [2],
				"max_requests_per_iteration": 6,
				"audit_retries": 0,
			},
		}
	)
	store = Store(f"sqlite:///{tmp_path / 'noise.db'}")
	task_id = get_or_create_task(store, spec)
	events: list[TaskEvent] = []
	TaskRunner(store, task_id, emit=events.append, cancel=threading.Event()).run()
	with store.session() as s:
		rows = [
			(e.number, e.origin, e.params_key, e.status)
			for e in s.scalars(select(Experiment).order_by(Experiment.number))
		]
	assert [r[1] for r in rows[:4]] == ["baseline", "baseline", "search", "search"], rows
	logs = [e.message for e in events if isinstance(e, LogMessage)]
	floor_at = next(i for i, m in enumerate(logs) if m.startswith("noise floor:"))
	assert floor_at < next(i for i, m in enumerate(logs) if "best configuration(s) again" in m)
	summary = task_summary(store, task_id)
	assert summary.noise is not None and summary.noise.n == 3 and summary.noise.floor >= 0  # 2 at the start + 1
	# one round: the baseline measured right before the candidate
	repeats = [r for r in rows if r[1] == "repeat"]
	assert len(repeats) == 2 and repeats[0][2] == rows[0][2] and repeats[1][2] != rows[0][2], rows
	assert repeats[1][0] == repeats[0][0] + 1
	assert summary.verdict is not None
	assert summary.verdict.text.startswith(
		("better than baseline by", "no detectable difference", "worse than baseline by", "the baseline is")
	)
	assert summary.gain is not None and summary.gain.method in ("blocked", "paired", "welch", "single")
	run = next(r for r in summary.model_dump()["baseline"]["experiment_ids"])
	assert run is not None
	with store.session() as s:
		exp = s.get(Experiment, run)
		assert exp is not None and exp.runs and exp.runs[0]["audit"]["status"] in ("valid", "suspect")  # stored
