"""A worker joining a running task's search (docs/distributed.md): the shared search on this host's resources.

The task's own runner (SharedTaskRunner, on the worker that took the task from the queue) does the baseline, the
repeats and the recommendation; a joining worker only asks, measures on its host and tells, until the search is
over, the task stops running, or its worker stops. Its events go to the task's log like the runner's.
"""

from __future__ import annotations

from ..engines import get_engine
from ..space import build_task_space
from ..store import Experiment
from .base import RunContext
from .quality import quality_guard
from .shared import SharedTaskRunner

__all__ = ["JoinRunner"]


class JoinRunner(SharedTaskRunner):
	def run(self) -> int:  # type: ignore[override]
		"""Measure experiments of the task until its search is over; returns how many this worker finished."""
		spec = self.spec
		engine = self.engine or get_engine(spec.base_runtime)
		self._check_host(engine)
		model_path = self._model_path(engine)
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		slots = self._slots(space)
		ctx = RunContext(self._open_study(space, slots), space, engine, model_path, [], slots=slots)
		ctx.quality = quality_guard(self, ctx)
		self._log(f"worker {self.cluster.worker} on {self.cluster.host} joined the search with {slots} slot(s)")
		self._search(ctx, slots)
		with self.store.session() as s:
			mine = s.query(Experiment).filter_by(task_id=self.task_id, worker=self.cluster.worker).count()
		self._log(f"worker {self.cluster.worker} left the search ({mine} experiment(s) measured there)")
		return mine
