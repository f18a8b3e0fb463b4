"""One task's search shared by several workers on one database (docs/distributed.md).

Every worker that serves the task (the one that runs it, SharedTaskRunner, and any that join, join.JoinRunner) asks
the same Optuna study in the shared database, measures on its own host and tells. What one process keeps in memory
on a single host (experiments in flight, configurations being measured) is read from the database instead, under a
lock per task (a PostgreSQL advisory lock) that makes "count, ask, open the row" one step across processes:
- at most optimization.max_parallel experiments in flight over all workers, max_iterations never exceeded;
- a configuration being measured by any worker is not handed out again (the constant liar keeps TPE away from it;
  a proposal that still repeats one is failed at once, as on one host);
- every trial carries Optuna heartbeats (Heartbeat in store/db.py); the next worker to ask fails a trial whose
  worker went silent for the grace period (optuna.storages.fail_stale_trials) and its retry callback queues the same
  parameters again: the worker that gets them takes over the experiment's row (same number, its own name).
A worker that loses the database mid-experiment drops that measurement (its trial goes stale and is measured
again) and waits for the database; a result is written and told once.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..space import Space, params_key
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, Task, TaskStatus
from ..store.db import Heartbeat
from ..store.models import utcnow
from .base import FINAL, RunContext
from .resources import parallel_slots
from .search_loop import EXPLORE_AFTER_DUPLICATES, MAX_DUPLICATE_ASKS
from .task import TaskRunner
from .tell import tell

UNFINISHED = (ExperimentStatus.RUNNING, ExperimentStatus.INTERRUPTED)
STOPPED_ATTR = "autotuner_stopped"  # retried trials stopped by a cancel or shutdown (not lost: no retry used up)
WAIT = "wait"  # _pick: nothing to take right now, but the search is not over (others are measuring)
# asking a heartbeat study outside Study.optimize is what ask-and-tell across workers means: not a warning here
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
warnings.filterwarnings(
	"ignore",
	message=".*(heartbeat_interval|grace_period|RetryHeartbeatStaleTrialCallback|fail_stale_trials).*",
	category=optuna.exceptions.ExperimentalWarning,
)
Picked = tuple[optuna.trial.Trial, int, int, dict[str, Any], str]


@dataclass
class Cluster:
	"""This worker, as the task's runner sees it."""

	worker: str  # the worker's name (unique among the workers of the database)
	host: str
	heartbeat: Heartbeat = field(default_factory=Heartbeat)
	cpu_count: int | None = None  # CPU cores this worker's engines may use (its CPU affinity)
	gpus: int | None = None  # GPUs this worker offers
	on_search: Callable[[bool], None] = lambda _open: None  # the search phase opened (True) / closed: others may join
	poll: float = 0.5  # seconds between looks while other workers measure the rest


def task_lock(s: Session, task_id: int) -> None:
	"""Hold the task's lock until `s` commits (PostgreSQL advisory lock; other databases: one process only)."""
	if s.get_bind().dialect.name == "postgresql":
		s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 23_000_000_000 + task_id})


def db_gone(exc: BaseException) -> bool:
	"""A lost connection (refused, reset, invalidated), possibly wrapped by Optuna; not a bad statement."""
	cause = exc if isinstance(exc, DBAPIError) else exc.__cause__
	if not isinstance(cause, DBAPIError):
		return False
	return bool(cause.connection_invalidated) or "connect" in str(cause).lower()


class Beat:
	"""Optuna heartbeats of one trial from a thread that outlives a lost database (Optuna's own thread dies with its
	first error); the trial goes stale only when this worker is really gone or cut off for the grace period."""

	def __init__(self, study: optuna.Study, trial_id: int, interval: float) -> None:
		self._storage: Any = study._storage
		self._trial_id, self._interval = trial_id, interval
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, name=f"heartbeat-{trial_id}", daemon=True)

	def _run(self) -> None:
		while not self._stop.is_set():
			try:
				self._storage.record_heartbeat(self._trial_id)
			except Exception:  # noqa: BLE001 - the database is away: beat again when it is back
				pass
			self._stop.wait(self._interval)

	def __enter__(self) -> Beat:
		self._thread.start()
		return self

	def __exit__(self, *_: object) -> None:
		self._stop.set()
		self._thread.join(5)


class SharedTaskRunner(TaskRunner):
	"""The task's runner when workers share it: baseline, the shared search, repeats once every worker is done."""

	def __init__(self, *args: Any, cluster: Cluster, **kw: Any) -> None:
		super().__init__(*args, **kw)
		self.cluster = cluster
		self._db_lost = False

	# -- hooks of TaskRunner ------------------------------------------------------------------------------------
	def _slots(self, space: Space) -> int:
		"""This worker's experiments at once: max_parallel as far as *its* cores or GPUs allow."""
		slots, why = parallel_slots(self.spec, space, cpu_count=self.cluster.cpu_count, gpus=self.cluster.gpus)
		if self.spec.engine_port is not None:
			slots, why = 1, "engine_port is fixed: one engine at a time"
		self._log(f"worker {self.cluster.worker} on {self.cluster.host}: {slots} experiment(s) at once ({why})")
		return slots

	def _open_study(self, space: Space, slots: int) -> optuna.Study:
		from ..search import make_sampler
		from .study import open_task_study

		opt = self.spec.optimization
		sampler = make_sampler(opt, space, parallel=max(2, opt.max_parallel))  # constant liar: other workers' too
		return open_task_study(self.store, self.task_id, sampler, opt, heartbeat=self.cluster.heartbeat)

	def _reconcile(self, study: optuna.Study) -> list[int]:
		"""A restarted runner leaves other workers' experiments alone (their heartbeats say whether they live):
		only rows stopped by a cancel or shutdown are measured again, and trials whose row finished are told."""
		with self.store.session() as s:
			rows = {
				e.trial_number: e
				for e in s.scalars(select(Experiment).where(Experiment.task_id == self.task_id))
				if e.trial_number is not None
			}
		for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
			row = rows.get(frozen.number)
			if row is not None and row.status in FINAL:
				trial = optuna.trial.Trial(study, frozen._trial_id)
				tell(
					study,
					trial,
					self.spec.optimization,
					status=row.status,
					score=row.score,
					figures=row.figures,
					scoring=row.scoring,
				)
		return []  # rows stopped by a cancel or shutdown: measured again by the search (_requeue)

	def _new_row(self, params: dict[str, Any], origin: str, trial_number: int | None) -> tuple[int, int]:
		exp_id, number = super()._new_row(params, origin, trial_number)
		self._stamp(exp_id)
		return exp_id, number

	def _stamp(self, exp_id: int, **fields: Any) -> None:
		with self.store.session() as s:
			exp = s.get(Experiment, exp_id)
			assert exp is not None
			exp.worker, exp.host = self.cluster.worker, self.cluster.host
			for k, v in fields.items():
				setattr(exp, k, v)

	# -- the shared search --------------------------------------------------------------------------------------
	def _search(self, ctx: RunContext, slots: int) -> None:
		"""The search, open to other workers while it lasts when max_parallel is more than this worker's slots."""
		shared = self.spec.optimization.max_parallel > slots
		if shared:
			self.cluster.on_search(True)
		try:
			super()._search(ctx, slots)
		finally:
			if shared:
				self.cluster.on_search(False)

	def _next_trial(self, ctx: RunContext) -> Picked | None:
		while True:
			try:
				with self._lock:
					picked = self._pick(ctx)
				if self._db_lost:
					self._db_lost = False
					self._log(f"worker {self.cluster.worker}: the database answers again")
			except (DBAPIError, optuna.exceptions.StorageInternalError) as exc:
				if not db_gone(exc):
					raise
				if not self._db_lost:
					self._db_lost = True
					self._log(f"worker {self.cluster.worker}: database unreachable; waiting for it")
				picked = WAIT
			if picked != WAIT:
				return picked  # type: ignore[return-value]
			if self.cancel.wait(self.cluster.poll):
				return None

	def _pick(self, ctx: RunContext) -> Picked | None | str:
		"""In the task's lock: the next experiment for this worker, None when the search is over, WAIT meanwhile."""
		opt, study = self.spec.optimization, ctx.study
		with self.store.session() as s:
			task_lock(s, self.task_id)
			if (
				self._stop
				or self.cancel.is_set()
				or s.scalar(select(Task.status).where(Task.id == self.task_id)) != TaskStatus.RUNNING
			):
				return None
			with warnings.catch_warnings():
				warnings.simplefilter("ignore")
				optuna.storages.fail_stale_trials(study)  # a silent worker's trials: failed, queued again
			rows = s.execute(
				select(
					Experiment.id, Experiment.trial_number, Experiment.params_key, Experiment.origin, Experiment.status
				).where(Experiment.task_id == self.task_id, Experiment.status.in_(UNFINISHED))
			).all()
			budgeted = [r for r in rows if r.origin in ExperimentOrigin.BUDGETED]
			live = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
			active = [r for r in budgeted if r.trial_number in live and r.status == ExperimentStatus.RUNNING]
			orphans = [r for r in budgeted if r.trial_number not in live]
			if orphans:
				orphans = self._requeue(s, study, orphans)
			finished = int(
				s.scalar(
					select(func.count()).where(
						Experiment.task_id == self.task_id,
						Experiment.status.in_(FINAL),
						Experiment.origin.in_(ExperimentOrigin.BUDGETED),
					)
				)
				or 0
			)
			if finished >= self.max_iterations:
				return None
			if len(active) >= opt.max_parallel:
				return WAIT
			if not orphans:
				if finished + len(active) >= self.max_iterations:
					return WAIT if active else None
				size = ctx.space.size()
				if size is not None and self._distinct_measured(ctx) + len(active) >= size:
					return WAIT if active else None
			return self._ask(ctx, {r.params_key for r in active})

	def _requeue(self, s: Session, study: optuna.Study, orphans: list[Any]) -> list[Any]:
		"""Rows still `running` whose trial ended unfinished (a lost worker, a worker that lost the database): each
		has a retry waiting (the heartbeat callback's), or gets one here; past Heartbeat.max_retry it fails, with
		the reason. Returns the rows that wait for a retry."""
		waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
		queued = {n for t in waiting for n in t.system_attrs.get("retry_history") or []}
		by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
		keep = []
		for row in orphans:
			if row.trial_number in queued:
				keep.append(row)
				continue
			old = by_number.get(row.trial_number)
			history = [*(old.system_attrs.get("retry_history") or []), row.trial_number] if old is not None else []
			stopped = [*(old.system_attrs.get(STOPPED_ATTR) or [])] if old is not None else []
			if row.status == ExperimentStatus.INTERRUPTED:
				stopped.append(row.trial_number)  # a cancel or shutdown: not a lost worker, not a retry used up
			if old is None or len(set(history) - set(stopped)) > self.cluster.heartbeat.max_retry:
				exp = s.get(Experiment, row.id)
				assert exp is not None
				exp.status = ExperimentStatus.FAILED
				exp.failure_reason = "its worker was lost (no heartbeat) more often than the retries allow"
				exp.finished_at = utcnow()
				continue
			attrs = {**old.system_attrs, "failed_trial": history[0], "retry_history": history, STOPPED_ATTR: stopped}
			study.add_trial(
				optuna.trial.create_trial(
					state=TrialState.WAITING,
					params=old.params,
					distributions=old.distributions,
					user_attrs=old.user_attrs,
					system_attrs=attrs,
				)
			)
			keep.append(row)
		return keep

	def _ask(self, ctx: RunContext, busy: set[str]) -> Picked | None | str:
		"""Ask the study until it proposes something to measure (as SearchLoop._next_trial, across workers)."""
		from ..search.stopping import patience_of, should_stop

		why = should_stop(ctx.study, patience_of(self.spec.optimization))
		if why is not None:
			self._log(why)
			self._stop = True
			return None
		distributions = ctx.space.distributions
		while True:
			trial = ctx.study.ask(distributions)
			params = ctx.space.full(trial.params)
			key = params_key(params)
			retried = self._taken_over(trial, params)
			if retried is not None:
				return retried
			earlier = self._measured(key)
			if earlier is None and key in busy:
				ctx.study.tell(trial, state=TrialState.FAIL)  # measured right now by another experiment
				self._duplicates += 1
				if self._duplicates >= MAX_DUPLICATE_ASKS:
					return WAIT
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
					self._duplicates = 0
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

	def _taken_over(self, trial: optuna.trial.Trial, params: dict[str, Any]) -> Picked | None:
		"""A retry of a lost worker's trial: this worker takes over that experiment's row (same number)."""
		history = trial.storage.get_trial_system_attrs(trial._trial_id).get("retry_history") or []
		if not history:
			return None
		with self.store.session() as s:
			exp = s.scalars(
				select(Experiment).where(
					Experiment.task_id == self.task_id,
					Experiment.trial_number.in_(history),
					Experiment.status.in_(UNFINISHED),
				)
			).first()
			if exp is None:
				return None
			lost, exp_id, number, origin, stopped = exp.worker, exp.id, exp.number, exp.origin, exp.status
			exp.trial_number = trial.number
		self._stamp(exp_id, started_at=utcnow(), status=ExperimentStatus.RUNNING, finished_at=None)
		if stopped == ExperimentStatus.INTERRUPTED:
			self._log(f"experiment {number} (stopped on worker {lost}): measuring it again here")
		else:
			grace = self.cluster.heartbeat.grace_period
			self._log(f"experiment {number}: worker {lost} was lost (no heartbeat for {grace} s); measured again here")
		self._inflight += 1
		return trial, exp_id, number, params, origin

	def _run_trial(
		self, ctx: RunContext, trial: optuna.trial.Trial, exp_id: int, number: int, params: dict[str, Any], origin: str
	) -> None:
		"""Measure with heartbeats. A trial failed meanwhile (this worker was cut off for the grace period) or a
		database lost mid-experiment: the measurement is dropped here; the experiment is measured again."""
		try:
			with Beat(ctx.study, trial._trial_id, self.cluster.heartbeat.interval):
				super()._run_trial(ctx, trial, exp_id, number, params, origin)
		except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:
			if ctx.study._storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
				raise
			self._log(f"experiment {number}: its trial was failed meanwhile ({exc}); measured again by a live worker")
		except (DBAPIError, optuna.exceptions.StorageInternalError) as exc:
			# Optuna wraps the driver's error in StorageInternalError (a tell after a failed write, while cut off)
			if not isinstance(exc, DBAPIError) and not db_gone(exc):
				raise
			cause = exc.orig if isinstance(exc, DBAPIError) else exc.__cause__
			self._log(f"experiment {number}: database lost ({type(cause).__name__}); it will be measured again")

	def _still_mine(self, s: Session, exp: Experiment, trial: optuna.trial.Trial | None) -> bool:
		"""The row still belongs to this trial: not taken over by a live worker while this one was cut off (its late
		result is then dropped, not written over the other's measurement)."""
		s.refresh(exp, with_for_update=True)
		return trial is None or exp.trial_number == trial.number
