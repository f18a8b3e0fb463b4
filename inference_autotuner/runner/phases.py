"""The task's measured phases around the search: the baseline first (its spread is the noise floor), the best
configurations again at the end (repeats, interleaved with the baseline). TaskRunner.run composes them with the
search (runner/task.py `_phases`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..space import params_key
from ..store import Experiment, ExperimentOrigin, ExperimentStatus, TaskStatus
from .base import FINAL, RunContext
from .launch import baseline_params

if TYPE_CHECKING:
	from ..scoring.noise import Gain
	from .search_loop import SearchLoop as TaskRunner  # what the phases use of the task's runner


def measure_times(
	runner: TaskRunner, ctx: RunContext, params: dict[str, Any], origin: str, times: int, *, keep_origin: bool = False
) -> None:
	"""Measure `params` until it has `times` finished measurements (any origin): unfinished rows of this
	configuration first (a killed run's), then new rows of `origin` (the first baseline row keeps its origin,
	later ones are repeats)."""
	key = params_key(params)
	with runner.store.session() as s:
		unfinished = s.scalars(
			select(Experiment)
			.where(Experiment.task_id == runner.task_id, Experiment.params_key == key)
			.where(Experiment.origin.in_((ExperimentOrigin.BASELINE, ExperimentOrigin.REPEAT)))
			.where(Experiment.status.in_((ExperimentStatus.RUNNING, ExperimentStatus.INTERRUPTED)))
			.order_by(Experiment.number)
		).all()
		todo = [(e.id, e.number, e.origin) for e in unfinished]
	while not runner.cancel.is_set():
		if todo:
			exp_id, number, row_origin = todo.pop(0)
		else:
			done = count_finished(runner, params)
			with runner.store.session() as s:
				has_baseline = bool(
					s.scalar(
						select(func.count()).where(
							Experiment.task_id == runner.task_id,
							Experiment.origin == ExperimentOrigin.BASELINE,
						)
					)
				)
			if done >= times:
				return
			row_origin = origin
			if origin == ExperimentOrigin.BASELINE and has_baseline and not keep_origin:
				row_origin = ExperimentOrigin.REPEAT
			exp_id, number = runner._new_row(params, row_origin, None)
		outcome = runner._measure(exp_id, number, params, ctx, origin=row_origin, trial=None)
		if outcome.status == "interrupted":
			runner._status = TaskStatus.INTERRUPTED
			return


def count_finished(runner: TaskRunner, params: dict[str, Any]) -> int:
	"""Finished measurements of a configuration, any origin."""
	with runner.store.session() as s:
		q = select(func.count()).where(
			Experiment.task_id == runner.task_id,
			Experiment.params_key == params_key(params),
			Experiment.status.in_(FINAL),
		)
		return int(s.scalar(q) or 0)


def count_before_repeats(runner: TaskRunner, params: dict[str, Any]) -> int:
	"""Finished measurements of a configuration before the repeat phase (origin other than repeat): the same
	number on a resume, so the rounds' targets are too."""
	with runner.store.session() as s:
		q = select(func.count()).where(
			Experiment.task_id == runner.task_id,
			Experiment.params_key == params_key(params),
			Experiment.status.in_(FINAL),
			Experiment.origin != ExperimentOrigin.REPEAT,
		)
		return int(s.scalar(q) or 0)


def noise_phase(runner: TaskRunner, ctx: RunContext) -> None:
	"""The baseline, `noise_runs` times, first: its spread is the noise floor, logged before the search."""
	from .summary import noise_of

	opt = runner.spec.optimization
	times = 1 if runner.spec.deployment_mode == "predict" else opt.noise_runs
	if times > 1:
		runner._log(f"measuring the baseline {times} times first: its spread is the noise floor")
	measure_times(
		runner, ctx, baseline_params(runner.spec, ctx.space), ExperimentOrigin.BASELINE, times, keep_origin=True
	)
	if times > 1 and not runner.cancel.is_set():
		noise = noise_of(runner.store, runner.task_id)
		if noise is None:
			runner._log("noise floor: unknown (fewer than 2 successful baseline measurements)")
		else:
			runner._log(
				f"noise floor: ±{noise.floor:.1%} at 95% (baseline cv {noise.cv:.1%}, n={noise.n}): differences "
				"under it are ties" + ("; a noisy machine (see each run's audit)" if noise.floor > 0.1 else "")
			)


def repeat_phase(runner: TaskRunner, ctx: RunContext) -> None:
	"""The top `repeat_top_k` configurations (by their best score) measured again in rounds interleaved with the
	baseline (B, C1, C2, B, C1, C2, ...: a round is a block, drift cancels), up to `repeats` rounds. A runner-up
	races the leader until their difference, from the rounds' fit (scoring.blocks), is settled (it excludes 0, or
	is known to ±`gain_precision`: scoring.noise.settled_by) or their unpaired intervals separate; then the loser
	leaves the race for good (the leader does not flip back to a configuration no longer measured). The leader and
	the baseline go on until the leader's gain is known to `gain_precision` (gain_known); rounds without a gain to
	narrow leave the baseline out."""
	from ..scoring.blocks import fit_configs, side_by_side
	from ..scoring.noise import gain_known, leader_of, separated, settled_by
	from ..scoring.objectives import OBJECTIVE_INFO
	from .summary import _baseline_key, _load, _measurements, group_configs

	opt = runner.spec.optimization
	if opt.repeats <= 0:
		return
	if runner.spec.deployment_mode == "predict":
		runner._log("predicted figures do not vary: no repeats")
		return
	top = _top_configs(runner, opt.repeat_top_k)
	base = baseline_params(runner.spec, ctx.space) if opt.baseline is not False else None
	if base is not None:
		top = [p for p in top if params_key(p) != params_key(base)]
	if not top:
		return
	start = {params_key(p): count_before_repeats(runner, p) for p in top}
	base_start = count_before_repeats(runner, base) if base is not None else 0
	with_base = " interleaved with the baseline" if base is not None else ""
	runner._log(
		f"measuring the {len(top)} best configuration(s) again{with_base}: up to {opt.repeats} round(s), "
		"while their 95% intervals overlap"
		+ (f" or the gain is not known to ±{opt.gain_precision:.0%}" if base is not None and opt.gain_precision else "")
	)
	direction = OBJECTIVE_INFO[(opt.objectives or [opt.objective])[0]].direction
	precision = opt.gain_precision
	keys = {params_key(p): p for p in top}
	out: set[str] = set()  # runner-ups (or former leaders) settled: not measured again
	active, measure_base = list(top), base is not None
	for round_ in range(1, opt.repeats + 1):
		order = ([base] if measure_base and base is not None else []) + active
		for params in order:
			if runner.cancel.is_set():
				return
			is_base = base is not None and params_key(params) == params_key(base)
			# this round's measurement: the round's target on a resume (what a killed run already measured is not
			# measured again), at most one more than it has (a configuration left out of a round is measured once
			# in a later one, never caught up back to back with no baseline beside it)
			target = (base_start if is_base else start.get(params_key(params), 1)) + round_
			target = min(target, count_finished(runner, params) + 1)
			measure_times(runner, ctx, params, ExperimentOrigin.REPEAT, target)
			if runner._status == TaskStatus.INTERRUPTED:
				return
		_task, rows_ = _load(runner.store, runner.task_id)
		configs = group_configs(_measurements(rows_))
		bkey = _baseline_key(rows_)
		fit = fit_configs(configs, bkey)
		by_key = {c.params_key: c for c in configs}
		while True:  # drop runner-ups whose race with the leader is settled, one at a time
			racing = [by_key[k] for k in keys if k in by_key and k not in out]
			leader = leader_of(racing, direction, baseline_key=bkey)
			loser = None
			for c in racing:
				if leader is None or c is leader:
					continue
				diff = side_by_side(c, leader, direction, fit)
				if separated(c, leader) or settled_by(diff, precision):
					loser = leader if diff is not None and diff.ci_low is not None and diff.ci_low > 0 else c
					break
			if loser is None:
				break
			out.add(loser.params_key)
		cands = [c.params_key for c in racing if c is not leader]
		basec = by_key.get(bkey) if bkey is not None else None
		gain = side_by_side(leader, basec, direction, fit) if leader is not None and basec is not None else None
		need_base = basec is not None and leader is not None and not gain_known(gain, precision)
		if precision is None and need_base and leader is not None and basec is not None:
			need_base = not separated(leader, basec)  # only while the intervals overlap
		if not cands and not need_base:
			runner._log(f"repeats: decided after {round_} round(s)" + _gain_said(gain))
			return
		active = [keys[c.params_key] for c in racing if c.params_key in keys]
		measure_base = need_base
	runner._log(f"repeats: {opt.repeats} round(s) spent, still undecided (see `autotuner best`)")


def _top_configs(runner: TaskRunner, k: int) -> list[dict[str, Any]]:
	"""The k configurations with the best score measured by the search (budgeted origins), best first."""
	with runner.store.session() as s:
		rows = s.execute(
			select(Experiment.params_key, func.min(Experiment.score), func.min(Experiment.number))
			.where(Experiment.task_id == runner.task_id, Experiment.status == ExperimentStatus.SUCCESS)
			.where(Experiment.score.is_not(None), Experiment.origin.in_(ExperimentOrigin.BUDGETED))
			.group_by(Experiment.params_key)
			.order_by(func.min(Experiment.score), func.min(Experiment.number))
			.limit(k)
		).all()
		top = []
		for key, _, number in rows:
			row = s.scalar(select(Experiment).where(Experiment.task_id == runner.task_id, Experiment.number == number))
			if row is not None and row.params_key == key:
				top.append(dict(row.params))
			else:
				first = s.scalars(
					select(Experiment).where(Experiment.task_id == runner.task_id, Experiment.params_key == key)
				).first()
				if first is not None:
					top.append(dict(first.params))
	return top


def _gain_said(gain: Gain | None) -> str:
	if gain is None or gain.ci_low is None or gain.ci_high is None:
		return ""
	ci = f"95% CI {gain.ci_low:+.1%} to {gain.ci_high:+.1%}"
	if gain.method == "blocked":
		return f": gain {gain.value:+.1%} ({ci}, {gain.pairs} rounds side by side)"
	return f": paired gain {gain.value:+.1%} ({ci}, {gain.pairs} pairs)"
