"""Strategies are Optuna samplers; the study lives in the task's database, so resume continues it exactly.

Single objective: the study minimises the lower-is-better score (SLO penalties included). Several objectives: the
study has one direction per objective and is told the natural figures; SLOs, OOMs and crashes become constraints
(`trial.set_constraint`, see runner/tell.py), which NSGA-II and TPE use to learn the infeasible region.
"""

from __future__ import annotations

import logging
from typing import Literal

import optuna

from ..errors import AutotunerError
from ..limits import MAX_GRID
from ..scoring import OBJECTIVE_INFO
from ..space import Space
from ..spec.models import OptimizationSpec
from .structured import MAX_CANDIDATES, StructuredSampler

optuna.logging.set_verbosity(logging.WARNING)


class _AskTellGridSampler(optuna.samplers.GridSampler):
	"""GridSampler without its study.stop() at exhaustion (which only works inside optimize()); the runner stops
	by itself once every configuration is measured."""

	def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
		return None


def directions(opt: OptimizationSpec) -> list[Literal["minimize", "maximize"]]:
	"""The study's directions: ["minimize"] (the score) for one objective, each objective's own for several."""
	if not opt.multi_objective:
		return ["minimize"]
	return [OBJECTIVE_INFO[name].direction for name in opt.objective_list]


def uses_gp(opt: OptimizationSpec, space: Space) -> bool:
	"""gp: the structured Gaussian process (one objective). auto: gp where it is the measured winner (a finite space of
	at most MAX_CANDIDATES configurations, one objective), TPE / MO-TPE elsewhere."""
	if opt.multi_objective or opt.strategy not in ("gp", "auto"):
		return False
	size = space.size()
	return opt.strategy == "gp" or (size is not None and 0 < size <= MAX_CANDIDATES)


def make_sampler(opt: OptimizationSpec, space: Space, *, parallel: int = 1) -> optuna.samplers.BaseSampler:
	"""The sampler of `opt.strategy`. parallel > 1: TPE uses the constant liar, so that experiments suggested while
	others run are told apart (a running trial counts as a bad one until it is told)."""
	seed = opt.seed
	if uses_gp(opt, space):
		return StructuredSampler(space, seed=seed, n_startup=opt.n_initial_random)
	if opt.strategy == "grid_search":
		size = space.size()
		if size is not None and size > MAX_GRID:  # spec validation refuses it; a row stored before that rule fails here
			raise AutotunerError(
				f"a grid search over {size} configurations is more than the {MAX_GRID} a grid may list",
				hint="use strategy: bayesian or random, or narrow the ranges",
			)
		grid = space.grid()
		if grid is None:
			# a continuous range cannot be gridded: fall back to random sampling of it, and say so in the docs
			return optuna.samplers.RandomSampler(seed=seed)
		if not grid:
			return optuna.samplers.RandomSampler(seed=seed)  # nothing to search: one configuration
		return _AskTellGridSampler(grid, seed=seed)  # type: ignore[arg-type]
	if opt.strategy == "random":
		return optuna.samplers.RandomSampler(seed=seed)
	if opt.strategy == "nsga2":
		# a generation of ~a quarter of the budget (4..20): small budgets still see a few generations
		population = max(4, min(20, opt.max_iterations // 4))
		return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
	n_startup = opt.n_initial_random if opt.n_initial_random is not None else min(5, max(1, opt.max_iterations // 3))
	# bayesian (single objective), mo_tpe (several) and auto elsewhere: TPE handles both, by the study's directions
	return optuna.samplers.TPESampler(
		n_startup_trials=n_startup, seed=seed, multivariate=True, constant_liar=parallel > 1
	)


def make_pruner(opt: OptimizationSpec) -> optuna.pruners.BasePruner:
	"""Multi-fidelity for single-objective studies: the steps are an experiment's load levels (runs), so a
	configuration behind the others at its first levels is not measured at the rest."""
	if opt.pruner == "successive_halving":
		return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
	if opt.pruner == "hyperband":
		return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=2)
	if opt.pruner == "median":
		return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
	return optuna.pruners.NopPruner()


def open_study(
	storage: optuna.storages.BaseStorage,
	name: str,
	sampler: optuna.samplers.BaseSampler,
	*,
	opt: OptimizationSpec | None = None,
) -> optuna.Study:
	"""Create or load the task's study (directions and pruner from `opt`; one minimised score without it)."""
	dirs: list[Literal["minimize", "maximize"]] = directions(opt) if opt is not None else ["minimize"]
	pruner = make_pruner(opt) if opt is not None else None
	return optuna.create_study(
		storage=storage, study_name=name, sampler=sampler, directions=dirs, pruner=pruner, load_if_exists=True
	)
