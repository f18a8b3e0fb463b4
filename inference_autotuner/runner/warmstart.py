"""Warm start: the best configurations of earlier tasks with the same engine and a similar model and hardware.

Similar (runner/similarity.py): the same model family and size (another quantization, format or name of it), on
the same hardware or the same GPU type; the closest tasks come first, then the newest.

A configuration is taken only when it fits this task's space whole (every searched dimension present, each value
allowed); it is enqueued as the study's first trials (origin `warm_start`, counted in max_iterations) and the log
says where it came from. Earlier tasks are read newest first, each task's configurations best score first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from sqlalchemy import select

from ..space import Space, params_key
from ..spec.models import TaskSpec
from ..store import Experiment, ExperimentStatus, Store, Task
from .similarity import Match, match


@dataclass
class WarmConfig:
	params: dict[str, Any]  # searched dimensions only (what the study is given)
	source_task: str
	source_experiment: int  # experiment number in that task
	match: Match = Match.SAME  # how alike that task's model and hardware are to this one's


def _fits(value: Any, dist: BaseDistribution) -> bool:
	if isinstance(dist, CategoricalDistribution):
		return any(value == c and type(value) is type(c) for c in dist.choices) or value in dist.choices
	try:
		internal = dist.to_internal_repr(value)
	except (TypeError, ValueError):
		return False
	return isinstance(internal, int | float) and math.isfinite(internal) and dist._contains(internal)


def warm_start_configs(store: Store, task_id: int, spec: TaskSpec, space: Space) -> list[WarmConfig]:
	"""Up to optimization.warm_start_top_k configurations of earlier similar tasks that fit this task's space."""
	opt = spec.optimization
	if not opt.warm_start or opt.warm_start_top_k <= 0:
		return []
	dists = space.distributions
	if not dists:
		return []
	found: list[WarmConfig] = []
	seen: set[str] = set()
	with store.session() as s:
		tasks = s.scalars(
			select(Task).where(Task.engine == spec.base_runtime, Task.id != task_id).order_by(Task.id.desc())
		).all()
		mine = spec.model_dump(mode="json", exclude_none=True)
		ranked = [(match(mine, t.spec), t) for t in tasks]  # tasks are newest first; sorted() keeps that per level
		for level, task in sorted((mt for mt in ranked if mt[0] > Match.NONE), key=lambda mt: -mt[0]):
			rows = s.scalars(
				select(Experiment)
				.where(Experiment.task_id == task.id, Experiment.status == ExperimentStatus.SUCCESS)
				.where(Experiment.score.is_not(None))
				.order_by(Experiment.score.asc(), Experiment.number.asc())
				.limit(opt.warm_start_top_k * 4)
			).all()
			for row in rows:
				searched = {k: row.params[k] for k in dists if k in row.params}
				if len(searched) != len(dists) or not all(_fits(v, dists[k]) for k, v in searched.items()):
					continue
				key = params_key(space.full(searched))
				if key in seen:
					continue
				seen.add(key)
				found.append(WarmConfig(searched, task.name, row.number, level))
				if len(found) >= opt.warm_start_top_k:
					return found
	return found
