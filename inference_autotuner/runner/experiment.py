"""One experiment, in phases: prepare (the launch plan; a refused configuration is never launched), measure (a
measurer launches, warms up and drives the load runs, or predicts: runner/measure.py), judge (the runs' audit, the
score, the status), and the runner records it (runner/base.py). A check against the running engine (a quality
probe) is a measure.py `Probe`, run after the load runs and before the engine stops; its findings reach `judge`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..deploy.base import Deployer
from ..engines import Engine
from ..engines.plan import LaunchPlan, plan_for
from ..errors import AutotunerError
from ..quality import QualityGuard
from ..scoring import ScoreResult, score_experiment
from ..spec.models import TaskSpec
from .events import EventSink
from .measure import DeployAndLoad, Job, Measurer
from .outcome import Outcome, RunHook

__all__ = ["Outcome", "RunHook", "judge", "run_experiment"]


def run_experiment(
	*,
	spec: TaskSpec,
	engine: Engine,
	deployer: Deployer | None = None,
	measurer: Measurer | None = None,
	model_path: Path,
	params: dict[str, Any],
	log_path: Path,
	cancel: threading.Event,
	emit: EventSink,
	number: int,
	port: int | None = None,
	labels: dict[str, str] | None = None,
	plan: LaunchPlan | None = None,
	on_run: RunHook | None = None,
	quality: QualityGuard | None = None,
) -> Outcome:
	"""Measure `params` with `measurer` (or deploy + load on `deployer`) and judge it; never raises for the
	experiment's own failures (they are its status and reason)."""
	t0 = time.monotonic()
	# prepare: quant_config / parallel_config -> engine flags; a refused or non-fitting config is recorded, not run
	plan = plan or plan_for(engine, params, spec, model_path)
	if plan.status != "ok":
		return Outcome(status=plan.status, reason=plan.reason, gpu_info={"plan": plan.record()})
	if measurer is None:
		if deployer is None:
			raise ValueError("run_experiment needs a measurer or a deployer")
		measurer = DeployAndLoad(deployer)
	job = Job(
		spec=spec,
		engine=engine,
		plan=plan,
		model_path=model_path,
		log_path=log_path,
		cancel=cancel,
		emit=emit,
		number=number,
		port=port,
		labels=dict(labels or {}),
		on_run=on_run,
	)
	if quality is not None:  # probed while the engine is up (quality/guard.py), judged with the score below
		flags = dict(plan.flags)
		job.probes.append(lambda running: quality.collect(running.out, running.deployment.base_url, flags, cancel))
	out = measurer.measure(job)  # launch, warm-up, load runs, probes, stop (or a prediction)
	if out.measured:
		try:
			# a configuration below a quality threshold: infeasible, reason `quality: ...`
			on_score = None if quality is None else quality.apply
			judge(spec, out, plan.world_size, log_path, on_score=on_score)
		except AutotunerError as exc:
			out.status, out.reason = "failed", str(exc)
		except Exception as exc:  # a bug in scoring must not lose the task
			out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"
	out.duration = time.monotonic() - t0
	out.gpu_info = {**(out.gpu_info or {}), "plan": plan.record()}
	return out


def judge(
	spec: TaskSpec,
	out: Outcome,
	world_size: int,
	log_path: Path,
	on_score: Callable[[Outcome], None] | None = None,
) -> None:
	"""The verdict on measured (or predicted) runs: interrupted, crashed, timed out, client-bound (never scored),
	or scored: success, infeasible (an SLO), failed (nothing completed), pruned."""
	if out.cancelled:
		out.status, out.reason = "interrupted", "cancelled during the load run"
	elif out.exit_code is not None:
		out.reason = f"engine exited with code {out.exit_code} during the load run (log: {log_path})"
	elif out.timed_out:
		out.reason = f"timed out after {spec.optimization.timeout_per_iteration:.0f} s (timeout_per_iteration)"
	elif bound := [r for r in out.runs if r.audit is not None and r.audit.client_bound]:
		# what a run the client could not drive measured is the client, not the engine: never scored
		a = bound[0].audit
		assert a is not None
		out.reason = (
			f"the load generator could not drive the load ({bound[0].scenario}, after {a.attempts} attempt(s)): "
			+ "; ".join(r for r in a.reasons)
		)
	else:
		out.score = _score(spec, out, world_size)
		if on_score is not None:  # e.g. the quality guardrail's verdict, before the status is decided
			on_score(out)
		if not out.score.feasible:
			completed = sum(r.completed for r in out.runs)
			out.status = "infeasible" if completed else "failed"
			errors = sorted({e for r in out.runs for e in r.errors})
			out.reason = out.score.reason or "infeasible"
			if not completed and errors:
				out.reason = f"no request completed: {errors[0][:300]}"
			elif out.stopped_early and spec.benchmark.load_search is None:
				out.reason = f"{out.reason}; stopped early: {out.stopped_early[0]}"
		elif out.pruned:
			out.status = "pruned"
			out.reason = out.notes[-1]
		else:
			out.status = "success"


def _price(spec: TaskSpec) -> float | None:
	"""The price of one GPU-hour (spec.cost), for the cost figure and objective."""
	return spec.cost.gpu_hour_usd if spec.cost is not None else None


def _score(spec: TaskSpec, out: Outcome, world_size: int) -> ScoreResult:
	"""Score the sweep's runs; with a load search, the run at each scenario's max passing load (max_load figure)."""
	objective, slo = spec.optimization.objective, spec.slo
	found = out.levels
	if spec.benchmark.load_search is None or found is None:
		return score_experiment(out.runs, objective, slo, world_size=world_size, gpu_hour_usd=_price(spec))
	if found.no_pass is not None or not found.score_runs:
		shown = score_experiment(out.runs, objective, slo, world_size=world_size, gpu_hour_usd=_price(spec))
		reason = found.no_pass or "load search: no level was measured"
		return shown.model_copy(update={"feasible": False, "score": None, "reason": reason})
	score = score_experiment(
		found.score_runs, objective, slo, world_size=world_size, max_load=found.max_load, gpu_hour_usd=_price(spec)
	)
	score.notes += found.notes
	return score
