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
			)
		)
	return out


def pessimistic_bound(stats: ValueStats, direction: Direction) -> float:
	"""The worse end of the interval (maximize: lower end, minimize: upper end); the mean when n == 1."""
	if direction == "maximize":
		return stats.ci_low if stats.ci_low is not None else stats.mean
	return stats.ci_high if stats.ci_high is not None else stats.mean


def recommend(
	stats: Sequence[ConfigStats],
	direction: Direction,
	*,
	by: Literal["objective", "score"] = "objective",
	baseline_key: str | None = None,
) -> ConfigStats | None:
	"""The configuration with the best pessimistic bound of `by` (objective value or score).

	maximize: the highest lower end of the 95 % CI; minimize: the lowest upper end. A configuration measured once
	(n == 1) has no interval: such configurations compete, on their single point value, only when no configuration
	was measured twice or more; otherwise only those with an interval are considered. The baseline (params_key
	`baseline_key`) is measured several times to be a reference, not because it ranked high, so its repeats alone
	do not shut out single measurements: then every configuration competes on its point value (the baseline on its
	mean). Ties go to the better mean, then to the configuration measured first. None when no configuration has a
	value for `by`.
	"""
	valued = [(c, getattr(c, by)) for c in stats if getattr(c, by) is not None]
	if not valued:
		return None
	repeated = [(c, v) for c, v in valued if v.n >= 2]
	if all(c.params_key == baseline_key for c, _ in repeated):
		repeated = []
	pool = repeated or valued
	sign = -1.0 if direction == "maximize" else 1.0  # lower key is better

	def key(item: tuple[ConfigStats, ValueStats]) -> tuple[float, float, int]:
		c, v = item
		bound = pessimistic_bound(v, direction) if repeated else v.mean
		return (sign * bound, sign * v.mean, c.number)

	return min(pool, key=key)[0]


class Gain(BaseModel):
	"""Relative gain of a configuration over the baseline in the objective's direction (+0.12 = 12 % better)."""

	value: float = Field(description="(best - baseline) / |baseline|, sign flipped for minimised objectives")
	ci_low: float | None = Field(None, description="Rough 95 % interval (Welch); None unless both have n >= 2")
	ci_high: float | None = None


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
		return Gain(value=value)
	vb, v0 = best.std**2 / best.n, baseline.std**2 / baseline.n
	se = math.sqrt(vb + v0)
	if se == 0:
		return Gain(value=value, ci_low=value, ci_high=value)
	df = (vb + v0) ** 2 / (vb**2 / (best.n - 1) + v0**2 / (baseline.n - 1))
	half = t95(df) * se / scale
	return Gain(value=value, ci_low=value - half, ci_high=value + half)
