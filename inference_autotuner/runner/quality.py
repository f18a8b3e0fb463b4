"""The runner's side of the quality guardrail (quality/guard.py): build it for a task run, and start the reference
configuration's engine once when its probe is not at hand (reference flags, no baseline, or a resumed task)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from ..deploy.ports import free_port
from ..engines.plan import plan_for
from ..errors import AutotunerError
from ..paths import logs_dir, safe_name
from ..quality import QualityGuard, quality_spec
from ..store import Experiment, ExperimentOrigin, ExperimentStatus
from .launch import baseline_params, launch_for

if TYPE_CHECKING:
	from .base import RunContext, RunnerBase


def quality_guard(runner: RunnerBase, ctx: RunContext) -> QualityGuard | None:
	"""The task's guardrail with its reference probe ready (or due from the baseline about to run); None when off."""
	spec = runner.spec
	q = quality_spec(spec)
	if q is None:
		return None
	reference = {**baseline_params(spec, ctx.space), **(q.reference or {})}
	plan = plan_for(ctx.engine, reference, spec, ctx.model_path)
	if plan.status != "ok":
		raise AutotunerError(f"quality.reference: the reference configuration cannot launch: {plan.reason}")
	guard = QualityGuard(
		spec,
		q,
		task_id=runner.task_id,
		engine=spec.base_runtime,
		reference_params=reference,
		reference_flags=dict(plan.flags),
		model=str(ctx.model_path),
		log=runner._log,
		defaults={name: f.default for name, f in ctx.engine.catalogue().items()},
	)
	with runner.store.session() as s:
		measured = s.scalar(
			select(func.count()).where(
				Experiment.task_id == runner.task_id,
				Experiment.origin == ExperimentOrigin.BASELINE,
				Experiment.status == ExperimentStatus.SUCCESS,
			)
		)
	baseline_first = spec.optimization.baseline is not False and not measured

	@contextmanager
	def start(params: dict[str, Any]) -> Iterator[str]:
		ref_plan = plan_for(ctx.engine, params, spec, ctx.model_path)
		deployer = runner.deployer
		if deployer is None:
			raise AutotunerError("quality: the reference needs an engine; a prediction has no quality to probe")
		labels = {"task": str(runner.task_id), "experiment": "quality-reference"}
		launched = launch_for(
			spec, ctx.engine, deployer, ctx.model_path, params, port=free_port(), plan=ref_plan, labels=labels
		)
		assert launched.launch is not None
		log = logs_dir() / f"task_{runner.task_id}_{safe_name(runner.name)}" / "quality_reference.log"
		dep = deployer.start(launched.launch, log_path=log, timeout=spec.startup_timeout)
		try:
			yield dep.base_url
		finally:
			deployer.stop(dep)

	guard.prepare(start, baseline_first=baseline_first)
	return guard
