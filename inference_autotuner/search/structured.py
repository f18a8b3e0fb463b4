"""A small-budget Bayesian sampler that knows the space's structure: a Gaussian process over ordered values.

Why not TPE alone: with 10-20 experiments TPE is close to random search (it models each value of a categorical on
its own, so `max-num-seqs: [8, 16, ..., 512]` has no order and 64 teaches nothing about 128). Here:

- ordinal parameters (numbers: tp, batch caps, token budgets, memory fractions) are positions on an ordered axis
  (log-spaced where the values span 4x or more, as 8..512 and 1..8 do), so neighbours inform each other;
  strings and booleans are categories (equal or not); ranges are their normalised interval;
- a finite space is enumerated once (up to MAX_CANDIDATES) and every unmeasured configuration is scored, so the
  sampler never proposes a configuration already measured or being measured;
- constraints are modelled: every told trial carries Optuna constraints (runner/tell.py: SLO, failure); a second
  process over feasible (+1) / infeasible (-1) gives the probability that a configuration is feasible, and the
  acquisition is expected improvement over the best feasible value times that probability, so OOM and SLO-breaking
  regions stop being sampled;
- a prior (predicted scores of configurations, search/prior.py) is the process's mean after a fitted scale and offset
  (ridge towards trusting it), so a good prediction speeds the search and a wrong one is unlearned as measurements
  come in; predicted-infeasible configurations start with a low probability of feasibility, never zero.

Hyperparameters (a length scale per dimension, the noise) are chosen by marginal likelihood among seeded random
draws; with a few dozen points it costs milliseconds. Pure numpy: no torch (Optuna's GPSampler needs it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from ..space import Space, params_key

MAX_CANDIDATES = 50_000  # finite spaces up to this size are enumerated; larger or continuous ones are sampled
RANDOM_CANDIDATES = 4096
HYPER_DRAWS = 48
# every LOCAL-th model-based pick looks only at the neighbours of the best (one value away on one axis): measured on
# benchmarks/landscapes, alternating global and local picks beat global ones alone (Matern 5/2, a linear trend and
# UCB were measured too and lost; docs/search.md)
LOCAL = 2


def _kernel(d2: np.ndarray) -> np.ndarray:
	return np.exp(-0.5 * d2)  # squared exponential over the scaled per-axis distances


class _Axis:
	"""One dimension as a coordinate: ordinal (position in [0, 1]) or categorical (a code, distance 0/1)."""

	def __init__(self, name: str, dist: BaseDistribution) -> None:
		self.name = name
		self.dist = dist
		self.categorical = False
		self.positions: dict[Any, float] = {}
		if isinstance(dist, CategoricalDistribution):
			choices = list(dist.choices)
			numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
			if numeric and len(choices) > 1:
				values = sorted(float(c) for c in choices)  # type: ignore[arg-type]
				lo, hi = values[0], values[-1]
				use_log = lo > 0 and hi / lo >= 4
				f = (lambda v: math.log(v)) if use_log else (lambda v: v)
				span = (f(hi) - f(lo)) or 1.0
				self.positions = {c: (f(float(c)) - f(lo)) / span for c in choices}  # type: ignore[arg-type]
			elif len(choices) == 2:  # two strings / booleans: one ordered step
				self.positions = {choices[0]: 0.0, choices[1]: 1.0}
			else:
				self.categorical = True
				self.positions = {c: float(i) for i, c in enumerate(choices)}
		elif isinstance(dist, IntDistribution | FloatDistribution):
			self.low, self.high, self.log = float(dist.low), float(dist.high), dist.log
		else:  # pragma: no cover - every distribution of a Space is one of the above
			raise TypeError(f"unsupported distribution {dist!r}")

	def encode(self, value: Any) -> float | None:
		if isinstance(self.dist, CategoricalDistribution):
			for c, p in self.positions.items():
				if type(c) is type(value) and c == value:
					return p
			for c, p in self.positions.items():
				if c == value:
					return p
			return None
		v = float(value)
		if self.log:
			lo, hi, v = math.log(self.low), math.log(self.high), math.log(max(v, 1e-300))
		else:
			lo, hi = self.low, self.high
		return (v - lo) / ((hi - lo) or 1.0)

	def random(self, rng: random.Random) -> Any:
		d = self.dist
		if isinstance(d, CategoricalDistribution):
			return rng.choice(list(d.choices))
		if isinstance(d, IntDistribution):
			if d.log:
				return int(round(math.exp(rng.uniform(math.log(d.low), math.log(d.high)))))
			return rng.randrange(d.low, d.high + 1, d.step)
		assert isinstance(d, FloatDistribution)
		if d.log:
			return math.exp(rng.uniform(math.log(d.low), math.log(d.high)))
		if d.step:
			n = int(round((d.high - d.low) / d.step))
			return d.low + rng.randint(0, n) * d.step
		return rng.uniform(d.low, d.high)


def _goodness(values: np.ndarray) -> np.ndarray:
	"""Told scores (lower is better) -> a higher-is-better figure on a log scale when they share a sign (throughput
	and latency span orders of magnitude across tp and batch sizes)."""
	if len(values) and np.all(values < 0):
		return np.log(-values)
	if len(values) and np.all(values > 0):
		return -np.log(values)
	return -values


def _norm_cdf(z: np.ndarray) -> np.ndarray:
	return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def _norm_pdf(z: np.ndarray) -> np.ndarray:
	return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class _GP:
	"""A zero-mean Gaussian process, squared-exponential over per-axis distances, fitted by marginal likelihood."""

	def __init__(self, cat: np.ndarray, rng: np.random.Generator) -> None:
		self.cat = cat  # which axes are categorical
		self.rng = rng
		self.x: np.ndarray = np.zeros((0, len(cat)))
		self.ls: np.ndarray = np.ones(len(cat))
		self.noise = 1e-2
		self.chol: np.ndarray = np.zeros((0, 0))
		self.alpha: np.ndarray = np.zeros(0)

	def _dist2(self, a: np.ndarray, b: np.ndarray, ls: np.ndarray) -> np.ndarray:
		d = np.abs(a[:, None, :] - b[None, :, :])
		d = np.where(self.cat[None, None, :], (d > 0).astype(float), d)
		return np.sum((d / ls) ** 2, axis=2)

	def fit(self, x: np.ndarray, y: np.ndarray, *, noise_floor: float = 1e-4) -> None:
		n, dims = x.shape
		best: tuple[float, tuple[np.ndarray, float, np.ndarray, np.ndarray] | None] = (-np.inf, None)
		draws = [(np.full(dims, 0.5), 1e-2)]
		for _ in range(HYPER_DRAWS):
			ls = np.exp(self.rng.uniform(math.log(0.15), math.log(3.0), size=dims))
			noise = float(np.exp(self.rng.uniform(math.log(noise_floor), math.log(0.2))))
			draws.append((ls, noise))
		for ls, noise in draws:
			k = _kernel(self._dist2(x, x, ls)) + (noise + 1e-8) * np.eye(n)
			try:
				chol = np.linalg.cholesky(k)
			except np.linalg.LinAlgError:
				continue
			alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
			ll = -0.5 * float(y @ alpha) - float(np.sum(np.log(np.diag(chol))))
			ll -= 0.5 * float(np.sum(np.log(ls / 0.7) ** 2))  # weak prior: length scales near the axis' width
			if ll > best[0]:
				best = (ll, (ls, noise, chol, alpha))
		assert best[1] is not None
		self.ls, self.noise, self.chol, self.alpha = best[1]
		self.x = x

	def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
		ks = _kernel(self._dist2(xs, self.x, self.ls))
		mean = ks @ self.alpha
		v = np.linalg.solve(self.chol, ks.T)
		var = np.clip(1.0 - np.sum(v * v, axis=0), 1e-9, None)
		return mean, np.sqrt(var)


class StructuredSampler(optuna.samplers.BaseSampler):
	"""GP-based, constraint-aware sampler over ordered values; see the module docstring. Single objective."""

	def __init__(self, space: Space, *, seed: int | None = None, n_startup: int | None = None) -> None:
		self._space = space
		self._dists = space.distributions
		self._axes = [_Axis(n, d) for n, d in self._dists.items()]
		self._seed = seed
		self._n_startup = n_startup
		self._random = optuna.samplers.RandomSampler(seed=seed)
		self._prior: dict[str, float | None] = {}
		self._held: dict[str, Any] = {}  # dimensions that cannot matter: held at one value
		self._candidates: list[dict[str, Any]] | None = None
		self._cx: np.ndarray | None = None
		size = space.size()
		if size is not None and size <= MAX_CANDIDATES:
			self._candidates = [dict(c) for c in space.iter_combinations()]

	# -- what search/prior.py hands over ----------------------------------------------------------------------
	def set_prior(self, prior: dict[str, float | None]) -> None:
		"""Predicted scores (lower is better, as told to the study) by params_key of the full configuration;
		None: predicted infeasible."""
		self._prior = dict(prior)

	def hold(self, held: dict[str, Any]) -> None:
		"""Dimensions that cannot change the result: every proposal keeps them at the given value."""
		self._held = dict(held)
		if self._candidates is not None:
			self._candidates = [c for c in self._candidates if all(c.get(k) == v for k, v in held.items())]
			self._cx = None

	def exclude(self, keys: Any) -> bool:
		"""Never propose these configurations (params_key of the full configuration): the launch plan refuses them.
		Kept when every configuration would go (the runner then records the refusals). True when applied."""
		if self._candidates is None:
			return False
		left = [c for c in self._candidates if self._key(c) not in keys]
		if not left:
			return False
		self._candidates, self._cx = left, None
		return True

	@property
	def startup(self) -> int:
		if self._n_startup is not None:
			return self._n_startup
		return 2 if self._prior else 3

	# -- Optuna's sampler protocol ----------------------------------------------------------------------------
	def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
		return dict(self._dists)

	def sample_independent(
		self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
	) -> Any:
		return self._random.sample_independent(study, trial, param_name, param_distribution)

	def sample_relative(
		self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
	) -> dict[str, Any]:
		if not search_space or trial.system_attrs.get("fixed_params"):
			return {}
		if any(search_space.get(a.name) != a.dist for a in self._axes) or len(study.directions) != 1:
			return {}
		rng = random.Random(f"{self._seed}-{trial.number}")
		trials = study.get_trials(deepcopy=False)
		told = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
		busy = {self._key(t.params) for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)}
		done = {self._key(t.params) for t in told} | busy
		pool = self._pool(rng, done)
		if not pool:
			return {}
		xs_told = [self._encode(t.params) for t in told]
		rows = [(x, t) for x, t in zip(xs_told, told, strict=True) if x is not None]
		startup = self._startup_pick(rows, pool, rng)
		if startup is not None:
			return startup
		return self._model_pick(rows, pool, rng)

	# -- the parts --------------------------------------------------------------------------------------------
	def _key(self, params: dict[str, Any]) -> str:
		return params_key(self._space.full(params))

	def _encode(self, params: dict[str, Any]) -> list[float] | None:
		out = []
		for a in self._axes:
			if a.name not in params:
				return None
			v = a.encode(params[a.name])
			if v is None:
				return None
			out.append(v)
		return out

	def _pool(self, rng: random.Random, done: set[str]) -> list[dict[str, Any]]:
		if self._candidates is not None:
			return [c for c in self._candidates if self._key(c) not in done]
		pool = []
		for _ in range(RANDOM_CANDIDATES):
			c = {a.name: a.random(rng) for a in self._axes}
			c.update({k: v for k, v in self._held.items() if k in c})
			if self._key(c) not in done:
				pool.append(c)
		return pool

	def _prior_of(self, c: dict[str, Any]) -> float | None:
		return self._prior.get(self._key(c)) if self._prior else None

	def _startup_pick(
		self, rows: list[tuple[list[float], FrozenTrial]], pool: list[dict[str, Any]], rng: random.Random
	) -> dict[str, Any] | None:
		if len(rows) >= self.startup:
			return None
		if self._prior:
			ranked = [(p, i) for i, c in enumerate(pool) if (p := self._prior_of(c)) is not None]
			if ranked:
				return pool[min(ranked)[1]]  # the best predicted configuration not yet measured
		# spread the first points: each as far as possible from those measured (seeded draw among the farthest)
		if not rows:
			return rng.choice(pool)
		x = np.array([r[0] for r in rows])
		px = np.array([self._encode(c) for c in pool], dtype=float)
		cat = np.array([a.categorical for a in self._axes])
		d = np.abs(px[:, None, :] - x[None, :, :])
		d = np.where(cat[None, None, :], (d > 0).astype(float), d)
		nearest = np.min(np.sum(d * d, axis=2), axis=1)
		far = np.flatnonzero(nearest >= np.quantile(nearest, 0.8))
		return pool[int(rng.choice(list(far)))]

	def _model_pick(
		self, rows: list[tuple[list[float], FrozenTrial]], pool: list[dict[str, Any]], rng: random.Random
	) -> dict[str, Any]:
		cat = np.array([a.categorical for a in self._axes])
		gen = np.random.default_rng(rng.randrange(2**32))
		x = np.array([r[0] for r in rows], dtype=float)
		feasible = np.array([_is_feasible(t) for _, t in rows])
		px = np.array([self._encode(c) for c in pool], dtype=float)
		prior_pool = [self._prior_of(c) for c in pool]
		prior_told = [self._prior_of(t.params) for _, t in rows]

		# probability of feasibility
		pof = np.ones(len(pool))
		prior_feas_pool = np.array([0.0 if not self._prior else (0.5 if p is not None else -0.5) for p in prior_pool])
		prior_feas_told = np.array([0.0 if not self._prior else (0.5 if p is not None else -0.5) for p in prior_told])
		if not feasible.all() or self._prior:
			labels = np.where(feasible, 1.0, -1.0) - prior_feas_told
			gp_c = _GP(cat, gen)
			gp_c.fit(x, labels, noise_floor=1e-3)
			m, s = gp_c.predict(px)
			pof = _norm_cdf((m + prior_feas_pool) / np.maximum(s, 1e-6))
		if not feasible.any():
			score = pof + 1e-6 * gen.random(len(pool))
			return pool[int(np.argmax(score))]

		# objective on the feasible points, higher is better
		xf = x[feasible]
		vals = np.array([t.value for (_, t), ok in zip(rows, feasible, strict=True) if ok], dtype=float)
		g = _goodness(vals)
		mean_pool = np.zeros(len(pool))
		mean_told = np.zeros(len(g))
		if self._prior:
			gp_prior = self._prior_goodness(prior_pool, prior_told, feasible, vals)
			if gp_prior is not None:
				p_told, p_pool = gp_prior
				b, a = _ridge(p_told, g)
				mean_told, mean_pool = a + b * p_told, a + b * p_pool
		resid = g - mean_told
		shift = float(np.mean(resid)) if not self._prior else 0.0
		scale = float(np.std(g)) or 1.0
		r = (resid - shift) / scale
		gp = _GP(cat, gen)
		gp.fit(xf, r)
		m, s = gp.predict(px)
		mu = (m * scale + shift) + mean_pool
		sd = s * scale
		best = float(np.max(g))
		z = (mu - best) / np.maximum(sd, 1e-9)
		ei = (mu - best) * _norm_cdf(z) + sd * _norm_pdf(z)
		acq = np.maximum(ei, 1e-12) * pof
		acq = acq * (1 + 1e-9 * gen.random(len(pool)))
		if LOCAL and len(rows) % LOCAL == 0:
			near = self._neighbours(xf[int(np.argmax(g))], px)
			if near.any():
				acq = np.where(near, acq, -1.0)
		return pool[int(np.argmax(acq))]

	def _neighbours(self, best: np.ndarray, px: np.ndarray) -> np.ndarray:
		"""Candidates one step from `best`: one categorical changed, or one ordinal moved to an adjacent value."""
		changed = np.zeros(len(px), dtype=int)
		ok = np.ones(len(px), dtype=bool)
		for j, a in enumerate(self._axes):
			changed += np.abs(px[:, j] - best[j]) > 1e-9
			if not a.categorical and a.positions:
				ordered = sorted(set(a.positions.values()))
				i = ordered.index(min(ordered, key=lambda v: abs(v - best[j])))
				lo, hi = ordered[max(0, i - 1)], ordered[min(len(ordered) - 1, i + 1)]
				ok &= (px[:, j] >= lo - 1e-9) & (px[:, j] <= hi + 1e-9)
		return ok & (changed == 1)

	def _prior_goodness(
		self,
		prior_pool: Sequence[float | None],
		prior_told: Sequence[float | None],
		feasible: np.ndarray,
		vals: np.ndarray,
	) -> tuple[np.ndarray, np.ndarray] | None:
		"""The prior on the objective's scale (higher is better); predicted-infeasible ones at the worst predicted."""
		known = [p for p in self._prior.values() if p is not None]
		if not known:
			return None
		worst = float(min(_prior_goodness(p) for p in known))

		def conv(ps: Sequence[float | None]) -> np.ndarray:
			return np.array([worst if p is None else _prior_goodness(p) for p in ps], dtype=float)

		return conv([p for p, ok in zip(prior_told, feasible, strict=True) if ok]), conv(prior_pool)


def _prior_goodness(p: float) -> float:
	"""One predicted score as _goodness turns a told one (log scale; the sign says the direction)."""
	if p < 0:
		return math.log(-p)
	if p > 0:
		return -math.log(p)
	return 0.0


def _ridge(p: np.ndarray, g: np.ndarray, lam: float = 2.0) -> tuple[float, float]:
	"""g ~ a + b p, b pulled towards 1 (trust the prediction) by `lam` pseudo-points' worth."""
	if len(p) == 0:
		return 1.0, 0.0
	pm, gm = float(np.mean(p)), float(np.mean(g))
	dp, dg = p - pm, g - gm
	spread = lam * max(float(np.var(p)), 0.05)
	b = max(0.0, (float(dp @ dg) + spread) / (float(dp @ dp) + spread))
	return b, gm - b * pm


def _is_feasible(t: FrozenTrial) -> bool:
	return all(c <= 0 for c in (t.constraints or {}).values())
