"""Gains from rounds measured side by side: a two-way (round + configuration) fit of log values.

The repeat phase measures the baseline and the best configurations in rounds (B C1 C2, B C1 C2, ...). The machine
drifts between rounds, so a round is a block: within it the configurations meet the same conditions. Each measured
value is modelled as

    log(value) = round effect + configuration effect + error

and fitted by least squares over every round with two or more configurations (a randomized-block design with
missing cells: a runner-up left out of later rounds still counts where it was measured). The difference of two
configuration effects is the log of their ratio with drift cancelled, as with per-pair gains; unlike per-pair gains
its interval uses every round's residuals: the runner-up's rounds and the baseline's noise runs inform the noise of
the leader's gain. With R rounds of K configurations the residual has (R - 1)(K - 1) degrees of freedom where per-pair
gains of one configuration have R - 1: at 5 rounds of 3, t(0.975) = 2.31 instead of 2.78. Log values make the error
relative (a 5 % wobble is the same at 100 and at 200 tokens/s) and the gain exp(difference) - 1 a ratio.

Rounds are recovered from the order of the experiments: consecutive measurements (by experiment number) of distinct
configurations, at most MAX_PAIR_GAP experiments after the round's first, form a round; a configuration measured
again, or the baseline (the repeat rounds begin with it), starts the next one. Singletons (a search measurement far from any other of these configurations) carry no
information on differences and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .noise import MAX_PAIR_GAP, MIN_ROUNDS, ConfigStats, Direction, Gain, paired_gain, t95


def rounds_of(
	series: Mapping[str, Sequence[tuple[int, float]]], *, opens: str | None = None, max_gap: int = MAX_PAIR_GAP
) -> list[dict[str, float]]:
	"""The rounds (blocks) in measurements (experiment number, value) per configuration, in order; each round maps
	configuration -> value. A measurement of `opens` (the baseline: the repeat phase's rounds begin with it) opens a
	round. Only rounds of two or more configurations."""
	seq = sorted((n, key, v) for key, vals in series.items() for n, v in vals)
	blocks: list[dict[str, float]] = []
	cur: dict[str, float] = {}
	first = 0
	for n, key, v in seq:
		if cur and (key in cur or key == opens or n - first > max_gap):
			blocks.append(cur)
			cur = {}
		if not cur:
			first = n
		cur[key] = v
	if cur:
		blocks.append(cur)
	return [b for b in blocks if len(b) >= 2]


@dataclass
class BlockFit:
	"""Least-squares fit of log value = round + configuration over the rounds; see the module's docstring."""

	keys: list[str]
	effects: np.ndarray  # configuration effects (log scale), keys' order; keys[0] is the reference (0)
	cov: np.ndarray  # unscaled covariance (X'X)^+ of the configuration columns, keys[1:]
	sigma2: float  # residual variance (log scale)
	df: int  # residual degrees of freedom
	together: dict[tuple[str, str], int]  # rounds in which both of a pair were measured
	group: dict[str, int]  # connected configurations (through shared rounds) share a number

	def diff(self, a: str, b: str, direction: Direction) -> Gain | None:
		"""Gain of configuration `a` over `b` (+0.1 = 10 % better in the objective's direction) with its 95 %
		interval; None when the rounds do not connect them."""
		if a not in self.keys or b not in self.keys or a == b or self.group[a] != self.group[b]:
			return None
		c = np.zeros(len(self.keys) - 1)
		ia, ib = self.keys.index(a), self.keys.index(b)
		if ia:
			c[ia - 1] += 1.0
		if ib:
			c[ib - 1] -= 1.0
		var = float(c @ self.cov @ c) * self.sigma2
		if not math.isfinite(var) or var < 0:
			return None
		sign = 1.0 if direction == "maximize" else -1.0
		d = sign * float(self.effects[ia] - self.effects[ib])
		half = t95(self.df) * math.sqrt(var)
		return Gain(
			value=math.expm1(d),
			ci_low=math.expm1(d - half),
			ci_high=math.expm1(d + half),
			method="blocked",
			pairs=self.together.get((min(a, b), max(a, b)), 0),
			df=float(self.df),
		)


def block_fit(
	series: Mapping[str, Sequence[tuple[int, float]]], *, opens: str | None = None, max_gap: int = MAX_PAIR_GAP
) -> BlockFit | None:
	"""Fit the configurations' effects over their rounds (`rounds_of`); None without a residual degree of freedom,
	or when a value is not positive (no log)."""
	blocks = rounds_of(series, opens=opens, max_gap=max_gap)
	if any(v <= 0 or not math.isfinite(v) for b in blocks for v in b.values()):
		return None
	keys: list[str] = []
	for b in blocks:
		keys.extend(k for k in b if k not in keys)
	if len(keys) < 2:
		return None
	n_obs = sum(len(b) for b in blocks)
	x = np.zeros((n_obs, len(blocks) + len(keys) - 1))
	y = np.zeros(n_obs)
	row = 0
	for j, b in enumerate(blocks):
		for k, v in b.items():
			x[row, j] = 1.0
			i = keys.index(k)
			if i:
				x[row, len(blocks) + i - 1] = 1.0
			y[row] = math.log(v)
			row += 1
	rank = int(np.linalg.matrix_rank(x))
	df = n_obs - rank
	if df < 1:
		return None
	beta, *_ = np.linalg.lstsq(x, y, rcond=None)
	resid = y - x @ beta
	sigma2 = float(resid @ resid) / df
	full = np.linalg.pinv(x.T @ x)
	cov = full[len(blocks) :, len(blocks) :]
	effects = np.concatenate([[0.0], beta[len(blocks) :]])
	together: dict[tuple[str, str], int] = {}
	group = {k: i for i, k in enumerate(keys)}
	for b in blocks:
		ks = list(b)
		for i, a in enumerate(ks):
			for c in ks[i + 1 :]:
				pair = (min(a, c), max(a, c))
				together[pair] = together.get(pair, 0) + 1
		merged = {group[k] for k in ks}  # configurations measured in one round are connected
		low = min(merged)
		group = {k: (low if g in merged else g) for k, g in group.items()}
	return BlockFit(keys=keys, effects=effects, cov=cov, sigma2=sigma2, df=df, together=together, group=group)


def side_by_side(
	a: ConfigStats, b: ConfigStats, direction: Direction, fit: BlockFit | None, *, max_gap: int = MAX_PAIR_GAP
) -> Gain | None:
	"""Gain of `a` over `b` from measurements taken side by side: the rounds' fit when it connects them, else the
	mean of per-pair gains (`paired_gain`: the fit needs a residual degree of freedom and positive values). Like
	per-pair gains (2 pairs at least), the fit's difference is used only when the two share MIN_ROUNDS rounds:
	from one round the difference is that round's ratio, whatever the others say of the noise."""
	gain = fit.diff(a.params_key, b.params_key, direction) if fit is not None else None
	if gain is not None and gain.pairs < MIN_ROUNDS:
		gain = None
	return gain or paired_gain(a.values, b.values, direction, max_gap=max_gap)


def fit_configs(configs: Sequence[ConfigStats], baseline_key: str | None) -> BlockFit | None:
	"""The rounds' fit over every configuration's measurements (the baseline opens rounds)."""
	return block_fit({c.params_key: c.values for c in configs}, opens=baseline_key)
