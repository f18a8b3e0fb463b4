"""The search phase: ask the study, measure, tell; up to max_parallel experiments at once (threads)."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy import select

from ..search.prior import prepare
from ..search.stopping import patience_of, should_stop
from ..space import Space, params_key
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, TaskStatus
from .base import FINAL, SPACE_KEYS_MAX, RunContext, RunnerBase
from .tell import tell

MAX_DUPLICATE_ASKS = 50  # continuous spaces: stop when the sampler only proposes what was measured
EXPLORE_AFTER_DUPLICATES = 3  # finite spaces: after this many repeats in a row, measure an unmeasured configuration


class SearchLoop(RunnerBase):
	# -- search -------------------------------------------------------------------------------------------------
	def _search(self, ctx: RunContext, slots: int) -> None:
		# prior, held dimensions, configurations the launch plan refuses (search/prior.py)
		prepare(ctx.study, self.spec, ctx.space, ctx.engine, self._log, model_path=ctx.model_path)
		if slots <= 1:
			self._search_worker(ctx)
		else:
			threads = [
				threading.Thread(target=self._search_worker, args=(ctx,), name=f"experiment-{i}", daemon=True)
				for i in range(slots)
			]
			for t in threads:
				t.start()
			try:
				for t in threads:
					while t.is_alive():
						t.join(0.2)
			except BaseException:
				self.cancel.set()
				for t in threads:
					t.join()
				raise
		if self._error is not None:
			raise self._error

	def _search_worker(self, ctx: RunContext) -> None:
		try:
			while True:
				picked = self._next_trial(ctx)
				if picked is None:
					return
				self._run_trial(ctx, *picked)
		except BaseException as exc:
			with self._lock:
				self._stop = True
				if self._error is None and threading.current_thread() is not threading.main_thread():
					self._error = exc
			if threading.current_thread() is threading.main_thread():
				raise

	def _next_trial(self, ctx: RunContext) -> tuple[optuna.trial.Trial, int, int, dict[str, Any], str] | None:
		"""Ask the study for the next unmeasured configuration and open its row; None when the search is over."""
		distributions = ctx.space.distributions
		with self._lock:
			while True:
				if self._stop or self.cancel.is_set():
					return None
				if self._final_count() + self._inflight >= self.max_iterations:
					return None
				why = should_stop(ctx.study, patience_of(self.spec.optimization))
				if why is not None:
					self._log(why)
					self._stop = True
					return None
				size = ctx.space.size()
				if size is not None and self._distinct_measured(ctx) + self._inflight >= size:
					if self._inflight == 0:
						self._log(f"all {size} configurations measured; the space is exhausted")
					return None
				if ctx.redo:
					exp_id = ctx.redo.pop(0)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						searched = {k: v for k, v in exp.params.items() if k in distributions}
						origin = exp.origin
					ctx.study.enqueue_trial(searched, skip_if_exists=False)
					trial = ctx.study.ask(distributions)
					params = ctx.space.full(trial.params)
					with self.store.session() as s:
						exp = s.get(Experiment, exp_id)
						assert exp is not None
						exp.trial_number = trial.number
						exp.status = ExperimentStatus.RUNNING
						number = exp.number
					self._inflight += 1
					return trial, exp_id, number, params, origin
				trial = ctx.study.ask(distributions)
				params = ctx.space.full(trial.params)
				key = params_key(params)
				earlier = self._measured(key)
				if earlier is None and any(params_key(p) == key for p in ctx.running):
					ctx.study.tell(trial, state=TrialState.FAIL)  # measured right now by another experiment
					self._duplicates += 1
					if self._duplicates >= MAX_DUPLICATE_ASKS:
						return None
					continue
				if earlier is not None:
					self._duplicates += 1
					tell(
						ctx.study,
						trial,
						self.spec.optimization,
						status=earlier.status,
						score=earlier.score,
						figures=earlier.figures,
						scoring=earlier.scoring,
					)
					if self._duplicates >= EXPLORE_AFTER_DUPLICATES and self._explore(ctx.study, ctx.space):
						self._duplicates = 0  # the next ask gets an unmeasured configuration
					elif self._duplicates >= MAX_DUPLICATE_ASKS:
						self._log("the search keeps proposing measured configurations; stopping")
						self._stop = True
						return None
					continue
				self._duplicates = 0
				origin = str(trial.user_attrs.get("origin", ExperimentOrigin.SEARCH))
				exp_id, number = self._new_row(params, origin, trial.number)
				ctx.running.append(params)
				self._inflight += 1
				return trial, exp_id, number, params, origin

	def _run_trial(
		self, ctx: RunContext, trial: optuna.trial.Trial, exp_id: int, number: int, params: dict[str, Any], origin: str
	) -> None:
		t_iter = time.monotonic()
		try:
			outcome = self._measure(exp_id, number, params, ctx, origin=origin, trial=trial)
		except BaseException:
			with self._lock:
				self._inflight -= 1
				if params in ctx.running:
					ctx.running.remove(params)
				ctx.study.tell(trial, state=TrialState.FAIL)
			raise
		with self._lock:
			self._inflight -= 1
			if params in ctx.running:
				ctx.running.remove(params)
			self.timings.append(
				{
					"wall": time.monotonic() - t_iter,
					"startup": outcome.startup_seconds,
					"bench": outcome.bench_seconds,
					"stop": outcome.stop_seconds,
					"ask_to_tell": 0.0,
					"t_iter": t_iter,
				}
			)
			if outcome.status == "interrupted":
				ctx.study.tell(trial, state=TrialState.FAIL)
				self._status = TaskStatus.INTERRUPTED
				self._stop = True
				return
			score = outcome.score
			tell(
				ctx.study,
				trial,
				self.spec.optimization,
				status=outcome.status,
				score=score.score if score else None,
				figures=score.figures if score else None,
				scoring=score.model_dump(mode="json", exclude={"figures"}) if score else None,
			)
			self._update_best()
			self.timings[-1]["ask_to_tell"] = time.monotonic() - t_iter

	def _explore(self, study: optuna.Study, space: Space) -> bool:
		"""Enqueue one unmeasured configuration of a finite space (seeded draw); False when there is none.

		A converged sampler (TPE) keeps proposing the best configurations it has seen; each repeat is answered with
		the stored score, and after a few in a row the search measures something new instead of stopping early."""
		if space.size() is None:
			return False
		with self.store.session() as s:
			measured = set(
				s.scalars(
					select(Experiment.params_key).where(
						Experiment.task_id == self.task_id, Experiment.status.in_(FINAL)
					)
				)
			)
		rng = random.Random(f"{self.spec.optimization.seed}-{len(measured)}")
		size = space.size() or 0
		if size <= SPACE_KEYS_MAX:
			todo = [c for c in space.iter_combinations() if params_key(space.full(c)) not in measured]
		else:  # too many to list: seeded draws (almost all of such a space is unmeasured)
			draws = (space.combination_at(rng.randrange(size)) for _ in range(1000))
			todo = [c for c in draws if params_key(space.full(c)) not in measured][:1]
		if not todo:
			return False
		distributions = space.distributions
		study.enqueue_trial({k: v for k, v in rng.choice(todo).items() if k in distributions}, skip_if_exists=False)
		return True

	def _distinct_measured(self, ctx: RunContext) -> int:
		"""Configurations of the space measured so far, whatever proposed them (a baseline inside the space too)."""
		with self.store.session() as s:
			keys = set(
				s.scalars(
					select(Experiment.params_key).where(
						Experiment.task_id == self.task_id, Experiment.status.in_(FINAL)
					)
				)
			)
		if ctx.space_keys is None:
			return len(keys)
		return len(keys & ctx.space_keys)
