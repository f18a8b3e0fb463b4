"""Measurement noise: per-configuration statistics over repeated experiments, the recommendation, the gain.

Pure functions over plain values (no store): experiments with the same params_key are measurements of one
configuration; a configuration measured n >= 2 times gets a sample standard deviation and a 95 % Student-t
confidence interval of its mean. Scores are lower-is-better; objective values are in the objective's natural units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

Direction = Literal["maximize", "minimize"]

# Two-sided 95 % Student t quantiles (t_{0.975, df}); between listed df the next smaller df is used (a slightly
# wider, conservative interval); beyond 120 the normal quantile.
T95: dict[int, float] = {
	1: 12.706,
	2: 4.303,
	3: 3.182,
	4: 2.776,
	5: 2.571,
	6: 2.447,
	7: 2.365,
	8: 2.306,
	9: 2.262,
	10: 2.228,
	11: 2.201,
	12: 2.179,
	13: 2.160,
	14: 2.145,
	15: 2.131,
	16: 2.120,
	17: 2.110,
	18: 2.101,
	19: 2.093,
	20: 2.086,
	21: 2.080,
	22: 2.074,
	23: 2.069,
	24: 2.064,
	25: 2.060,
	26: 2.056,
	27: 2.052,
	28: 2.048,
	29: 2.045,
	30: 2.042,
	40: 2.021,
	60: 2.000,
	120: 1.980,
}
Z95 = 1.960


def t95(df: float) -> float:
	"""The two-sided 95 % Student t quantile for df degrees of freedom (df >= 1; fractional df round down)."""
	if df < 1 or math.isnan(df):
		raise ValueError(f"degrees of freedom must be >= 1, got {df}")
	if df > 120:
		return Z95
	d = int(df)
	return T95[max(k for k in T95 if k <= d)]


class ValueStats(BaseModel):
	"""n measurements of one value: mean, sample standard deviation and 95 % confidence interval (n >= 2 only)."""

	n: int = Field(ge=1, description="Measurements")
	mean: float
	std: float | None = Field(None, description="Sample standard deviation (n - 1 denominator); None when n == 1")
	ci_low: float | None = Field(None, description="Lower end of the 95 % confidence interval of the mean")
	ci_high: float | None = Field(None, description="Upper end of the 95 % confidence interval of the mean")

	@property
	def half_width(self) -> float | None:
		return None if self.ci_high is None else self.ci_high - self.mean


def value_stats(values: Sequence[float]) -> ValueStats | None:
	"""Mean, sample std and t-based 95 % CI of the finite values; None when there is none."""
	vals = [float(v) for v in values if v is not None and math.isfinite(v)]
	if not vals:
		return None
	n = len(vals)
	mean = sum(vals) / n
	if n == 1:
		return ValueStats(n=1, mean=mean)
	std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
	half = t95(n - 1) * std / math.sqrt(n)
	return ValueStats(n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half)


class Measurement(BaseModel):
	"""One experiment, as far as noise statistics are concerned."""

	experiment_id: int
	number: int
	params_key: str
	params: dict[str, Any] = Field(default_factory=dict)
	status: str = "success"
	origin: str = "search"
	objective_value: float | None = None
	score: float | None = None
	penalty: float | None = Field(None, description="SLO penalty sum (0: every SLO met; None: not recorded)")


class ConfigStats(BaseModel):
	"""One configuration (params_key) over its successful experiments."""

	params_key: str
	params: dict[str, Any]
	experiment_id: int = Field(description="The experiment to show: the configuration's first successful one")
	number: int = Field(description="Number of that experiment within its task")
	n: int = Field(description="Successful experiments (measurements) of this configuration")
	experiment_ids: list[int] = Field(description="Every successful experiment of this configuration, in order")
	origins: list[str] = Field(description="Origin of each of those experiments")
	objective: ValueStats | None = Field(None, description="Objective value, natural units")
	score: ValueStats | None = Field(None, description="Score, lower is better (SLO penalties included)")
	slo_met: bool = Field(True, description="Every measurement met every SLO (no penalty)")
	values: list[tuple[int, float]] = Field(
		default_factory=list, description="(experiment number, objective value) of each measurement, in order"
	)


def group_configs(measurements: Iterable[Measurement]) -> list[ConfigStats]:
	"""Statistics per params_key over the successful measurements, in order of each configuration's first one."""
	groups: dict[str, list[Measurement]] = {}
	for m in sorted(measurements, key=lambda m: m.number):
		if m.status == "success":
			groups.setdefault(m.params_key, []).append(m)
	out: list[ConfigStats] = []
	for key, ms in groups.items():
		first = ms[0]
		out.append(
			ConfigStats(
				params_key=key,
				params=first.params,
				experiment_id=first.experiment_id,
				number=first.number,
				n=len(ms),
				experiment_ids=[m.experiment_id for m in ms],
				origins=[m.origin for m in ms],
				objective=value_stats([m.objective_value for m in ms if m.objective_value is not None]),
				score=value_stats([m.score for m in ms if m.score is not None]),
				slo_met=all(not m.penalty for m in ms),
				values=[(m.number, m.objective_value) for m in ms if m.objective_value is not None],
			)
		)
	return out


def pessimistic_bound(stats: ValueStats, direction: Direction) -> float:
	"""The worse end of the interval (maximize: lower end, minimize: upper end); the mean when n == 1."""
	if direction == "maximize":
		return stats.ci_low if stats.ci_low is not None else stats.mean
	return stats.ci_high if stats.ci_high is not None else stats.mean


def _tied(a: ValueStats, b: ValueStats, noise: float | None) -> bool:
	"""Two measured values that cannot be told apart: their 95 % intervals overlap, or their means differ by less
	than the noise floor (relative)."""
	if a.ci_low is not None and a.ci_high is not None and b.ci_low is not None and b.ci_high is not None:
		if a.ci_low <= b.ci_high and b.ci_low <= a.ci_high:
			return True
	scale = max(abs(a.mean), abs(b.mean))
	return noise is not None and scale > 0 and abs(a.mean - b.mean) / scale <= noise


def recommend(
	stats: Sequence[ConfigStats],
	direction: Direction,
	*,
	by: Literal["objective", "score"] = "objective",
	baseline_key: str | None = None,
	noise: float | None = None,
) -> ConfigStats | None:
	"""The configuration to recommend, ranked on what the user asked for.

	1. SLO attainment is a constraint: configurations whose every measurement met every SLO come first; only when
	   none did are the others ranked, on their mean score (lower is better: the SLO penalty weighs in). A bound of
	   the score is never used: near zero (an exponential penalty crushes it) its scale collapses and the bound of
	   a bad configuration can beat a good one's.
	2. Among them, the best mean of `by` (the objective, in its direction; or the score, lower is better).
	3. Configurations tied with that one (intervals overlap, or means closer than the noise floor `noise`, a
	   relative difference) are one choice: the tie goes to the best pessimistic bound (the narrower, safer
	   interval), then the better mean, then the one measured first.

	A configuration measured once has no interval: such configurations compete only when no configuration was
	measured twice or more (the baseline's repeats alone, made as a reference, do not shut them out). None when no
	configuration has a value for `by`.
	"""
	valued = [(c, getattr(c, by)) for c in stats if getattr(c, by) is not None]
	if not valued:
		return None
	repeated = [(c, v) for c, v in valued if v.n >= 2]
	if all(c.params_key == baseline_key for c, _ in repeated):
		repeated = []
	pool = repeated or valued
	met = [(c, v) for c, v in pool if c.slo_met]
	if met:
		pool, sign = met, (-1.0 if direction == "maximize" and by == "objective" else 1.0)
	else:  # none met every SLO: the mean score (penalty included) ranks them, never its bound (see above)
		scored = [(c, c.score) for c, _ in pool if c.score is not None]
		if scored:
			return min(scored, key=lambda cv: (cv[1].mean, cv[0].number))[0]
		sign = -1.0 if direction == "maximize" and by == "objective" else 1.0
	top = min(pool, key=lambda cv: (sign * cv[1].mean, cv[0].number))
	tied = [cv for cv in pool if cv is top or _tied(cv[1], top[1], noise)]
	way: Direction = "maximize" if sign < 0 else "minimize"

	def key(item: tuple[ConfigStats, ValueStats]) -> tuple[float, float, int]:
		c, v = item
		bound = pessimistic_bound(v, way) if repeated else v.mean
		return (sign * bound, sign * v.mean, c.number)

	return min(tied, key=key)[0]


class NoiseFloor(BaseModel):
	"""How much two single measurements of one configuration differ by chance, from its repeated measurements."""

	n: int = Field(description="Measurements it comes from (the baseline's)")
	mean: float
	cv: float = Field(description="Coefficient of variation: sample std / |mean|")
	floor: float = Field(
		description="± relative difference two single measurements of one configuration stay within, 95 % of the "
		"time: t(0.975, n-1) x sqrt(2) x cv; differences under it are ties"
	)


def noise_floor(values: Sequence[float]) -> NoiseFloor | None:
	"""The noise floor from repeated measurements of one configuration; None under two finite values or mean 0."""
	stats = value_stats(values)
	if stats is None or stats.n < 2 or stats.std is None or stats.mean == 0:
		return None
	cv = stats.std / abs(stats.mean)
	return NoiseFloor(n=stats.n, mean=stats.mean, cv=cv, floor=t95(stats.n - 1) * math.sqrt(2) * cv)


class Gain(BaseModel):
	"""Relative gain of a configuration over the baseline in the objective's direction (+0.12 = 12 % better)."""

	value: float = Field(description="(best - baseline) / |baseline|, sign flipped for minimised objectives")
	ci_low: float | None = Field(None, description="95 % interval; None without enough measurements")
	ci_high: float | None = None
	method: Literal["blocked", "paired", "welch", "single"] = Field(
		"welch",
		description="blocked: from the rounds in which configurations were measured side by side (a fit of "
		"log value = round + configuration over every such round: drift cancels, and every configuration's "
		"measurements inform the noise); paired: mean of per-pair gains, each measurement paired with the baseline "
		"measured next to it (drift cancels); welch: difference of the two means; single: one measurement each, "
		"no interval",
	)
	pairs: int = Field(0, description="Rounds (blocked) or pairs (paired) in which both were measured side by side")
	df: float | None = Field(None, description="Degrees of freedom of the interval (blocked, paired)")


def gain_over(best: ValueStats, baseline: ValueStats, direction: Direction) -> Gain | None:
	"""Gain of `best` over `baseline`; None when the baseline mean is 0.

	The interval is rough: the difference of the means gets a Welch t interval (Welch-Satterthwaite degrees of
	freedom), then is divided by |baseline mean| as if that mean were exact.
	"""
	if baseline.mean == 0:
		return None
	sign = 1.0 if direction == "maximize" else -1.0
	scale = abs(baseline.mean)
	diff = sign * (best.mean - baseline.mean)
	value = diff / scale
	if best.std is None or baseline.std is None:
		return Gain(value=value, method="single")
	vb, v0 = best.std**2 / best.n, baseline.std**2 / baseline.n
	se = math.sqrt(vb + v0)
	if se == 0:
		return Gain(value=value, ci_low=value, ci_high=value)
	df = (vb + v0) ** 2 / (vb**2 / (best.n - 1) + v0**2 / (baseline.n - 1))
	half = t95(df) * se / scale
	return Gain(value=value, ci_low=value - half, ci_high=value + half)


MAX_PAIR_GAP = 4
"""A candidate and a baseline measurement pair up when at most this many experiments apart (interleaved)."""


def paired_gain(
	candidate: Sequence[tuple[int, float]],
	baseline: Sequence[tuple[int, float]],
	direction: Direction,
	*,
	max_gap: int = MAX_PAIR_GAP,
) -> Gain | None:
	"""Gain from paired measurements: candidate and baseline measurements (experiment number, value) are paired
	closest first, when at most `max_gap` experiments apart (measured just before or after: slow drift of the machine
	cancels); on equal distance the baseline measured just before the candidate wins, so in interleaved rounds
	(B C B C) each C pairs with its own round's B. Each measurement serves one pair at most. Per pair g = ±(c - b) /
	|b|; the gain is the mean of g with a Student t 95 % interval over the pairs. None with fewer than 2 pairs (then
	the Welch interval of the two means is the one to use)."""
	sign = 1.0 if direction == "maximize" else -1.0
	# closest pairs first (then the baseline measured before the candidate, then earlier ones): in rounds B C B C the
	# C of each round pairs with its own B, and a lone earlier measurement (the search's) cannot take a round's B
	options = sorted(
		(abs(b[0] - c[0]), b[0] > c[0], c[0], b[0], c[1], b[1])
		for c in candidate
		for b in baseline
		if abs(b[0] - c[0]) <= max_gap
	)
	used_c: set[int] = set()
	used_b: set[int] = set()
	gains: list[float] = []
	for _gap, _after, cn, bn, cv, bv in options:
		if cn in used_c or bn in used_b:
			continue
		used_c.add(cn)
		used_b.add(bn)
		if bv != 0:
			gains.append(sign * (cv - bv) / abs(bv))
	stats = value_stats(gains)
	if stats is None or stats.n < 2:
		return None
	return Gain(
		value=stats.mean, ci_low=stats.ci_low, ci_high=stats.ci_high, method="paired", pairs=stats.n, df=stats.n - 1
	)


MIN_ROUNDS = 2
"""A difference measured side by side settles nothing from fewer rounds (pairs) with both in them."""
MIN_DF = 3
"""... nor from an interval with fewer degrees of freedom: the repeats stop on the interval's width, and a width from
1 or 2 degrees of freedom is narrow by luck too often (a stop on a lucky draw: the interval then covers less than
95 % of the time)."""


def enough_rounds(gain: Gain) -> bool:
	"""Whether a difference rests on MIN_ROUNDS rounds and MIN_DF degrees of freedom (df unknown: the rounds)."""
	return gain.pairs >= MIN_ROUNDS and (gain.df is None or gain.df >= MIN_DF)


def gain_known(gain: Gain | None, precision: float | None) -> bool:
	"""Whether more paired measurements would not change the answer's precision: the paired gain's 95 % interval is
	at most ±`precision` wide (whatever it says: better, worse or no detectable difference); with no precision, once
	the interval excludes 0 (the verdict is decided). Never from fewer than MIN_ROUNDS rounds or MIN_DF degrees of
	freedom (`enough_rounds`)."""
	if gain is None or gain.ci_low is None or gain.ci_high is None or not enough_rounds(gain):
		return False
	if precision is None:
		return gain.ci_low > 0 or gain.ci_high < 0
	return (gain.ci_high - gain.ci_low) / 2 <= precision


class Verdict(BaseModel):
	"""The recommendation in one statement."""

	kind: Literal["better", "no_difference", "worse", "baseline"] = Field(
		description="better / worse: the gain's 95 % interval (or, measured once, the noise floor) excludes 0; "
		"no_difference: it does not; baseline: the recommended configuration is the baseline"
	)
	text: str


def verdict(gain: Gain | None, noise: NoiseFloor | None, *, is_baseline: bool = False) -> Verdict | None:
	"""'better than baseline by X% (95% CI ...)', 'no detectable difference (noise ±Y%)' or 'worse than ...'."""
	if is_baseline:
		return Verdict(kind="baseline", text="the baseline is the best configuration measured: keep it")
	if gain is None:
		return None
	pct = f"{abs(gain.value):.1%}"
	floor = f"noise ±{noise.floor:.1%}" if noise is not None else None
	if gain.ci_low is not None and gain.ci_high is not None:
		ci = f"95% CI {gain.ci_low:+.1%} to {gain.ci_high:+.1%}"
		how = {
			"paired": f"{ci}, {gain.pairs} paired measurements",
			"blocked": f"{ci}, {gain.pairs} rounds side by side",
		}.get(gain.method, ci)
		if gain.ci_low > 0:
			return Verdict(kind="better", text=f"better than baseline by {pct} ({how})")
		if gain.ci_high < 0:
			return Verdict(kind="worse", text=f"worse than baseline by {pct} ({how})")
		half = (gain.ci_high - gain.ci_low) / 2
		return Verdict(
			kind="no_difference",
			text=f"no detectable difference ({floor or f'noise ±{half:.1%}'}; gain {gain.value:+.1%}, {how})",
		)
	if noise is None:
		word = "better" if gain.value > 0 else "worse"
		return Verdict(
			kind="better" if gain.value > 0 else ("worse" if gain.value < 0 else "no_difference"),
			text=f"{word} than baseline by {pct} (single measurements, no noise floor: not confirmed)",
		)
	if abs(gain.value) <= noise.floor:
		return Verdict(kind="no_difference", text=f"no detectable difference ({floor}; gain {gain.value:+.1%})")
	word = "better" if gain.value > 0 else "worse"
	return Verdict(
		kind="better" if gain.value > 0 else "worse", text=f"{word} than baseline by {pct} (above the {floor})"
	)


def leader_of(stats: Sequence[ConfigStats], direction: Direction, *, baseline_key: str | None) -> ConfigStats | None:
	"""The configuration (not the baseline) with the best mean objective; the earliest on a tie."""
	cands = [c for c in stats if c.objective is not None and c.params_key != baseline_key]
	if not cands:
		return None
	sign = -1.0 if direction == "maximize" else 1.0
	return min(cands, key=lambda c: (sign * c.objective.mean, c.number))  # type: ignore[union-attr]


def settled_by(diff: Gain | None, precision: float | None) -> bool:
	"""Whether a difference measured side by side (candidate over leader: drift cancels, as for the gain over the
	baseline) is settled: its 95 % interval excludes 0 (one is better), or it is at most ±`precision` wide (a tie
	known to that precision: either is as good, and their gains over the baseline agree to it); never from fewer
	than MIN_ROUNDS rounds or MIN_DF degrees of freedom. Unpaired intervals (`separated`) need far more measurements
	to separate two configurations whose runs drift together."""
	if diff is None or diff.ci_low is None or diff.ci_high is None or not enough_rounds(diff):
		return False
	return diff.ci_high < 0 or diff.ci_low > 0 or (precision is not None and gain_known(diff, precision))


def separated(a: ConfigStats, b: ConfigStats) -> bool:
	"""Both measured twice or more and their 95 % intervals of the objective do not overlap."""
	if a.objective is None or b.objective is None or a.objective.n < 2 or b.objective.n < 2:
		return False
	return not _overlap(a.objective, b.objective)


def _overlap(a: ValueStats, b: ValueStats) -> bool:
	if a.ci_low is None or a.ci_high is None or b.ci_low is None or b.ci_high is None:
		return True
	return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high
