"""Strategies are Optuna samplers; the study lives in the task's database, so resume continues it exactly."""

from __future__ import annotations

import logging

import optuna

from ..space import Space
from ..spec.models import OptimizationSpec

optuna.logging.set_verbosity(logging.WARNING)


class _AskTellGridSampler(optuna.samplers.GridSampler):
	"""GridSampler without its study.stop() at exhaustion (which only works inside optimize()); the runner stops
	by itself once every configuration is measured."""

	def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
		return None


def make_sampler(opt: OptimizationSpec, space: Space) -> optuna.samplers.BaseSampler:
	seed = opt.seed
	if opt.strategy == "grid_search":
		grid = space.grid()
		if grid is None:
			# a continuous range cannot be gridded: fall back to random sampling of it, and say so in the docs
			return optuna.samplers.RandomSampler(seed=seed)
		if not grid:
			return optuna.samplers.RandomSampler(seed=seed)  # nothing to search: one configuration
		return _AskTellGridSampler(grid, seed=seed)  # type: ignore[arg-type]
	if opt.strategy == "random":
		return optuna.samplers.RandomSampler(seed=seed)
	n_startup = opt.n_initial_random if opt.n_initial_random is not None else min(5, max(1, opt.max_iterations // 3))
	return optuna.samplers.TPESampler(n_startup_trials=n_startup, seed=seed, multivariate=True)


def open_study(storage: optuna.storages.BaseStorage, name: str, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
	"""Create or load the task's study (one direction: minimize the lower-is-better score)."""
	return optuna.create_study(
		storage=storage, study_name=name, sampler=sampler, direction="minimize", load_if_exists=True
	)
