"""How many experiments a task runs in all: its search budget, the baseline and the repeats (one rule for the runner,
the API, the CLI and the web app's progress)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..space import build_task_space
from ..spec.models import OptimizationSpec


def planned_experiments(
	opt: OptimizationSpec, deployment_mode: str, max_iterations: int | None = None, space_size: int | None = None
) -> int:
	"""Experiments a task will run in all: the search budget, the baseline, the repeats (at most).

	The baseline is measured `noise_runs` times at the start (once in predict mode); repeats (of the
	`repeat_top_k` best, interleaved with the baseline) are skipped in predict mode. `max_iterations`
	overrides the spec's search budget (e.g. `--max-trials`); a finite space of `space_size` configurations caps it.
	"""
	baseline = int(opt.baseline is not False)
	budget = opt.max_iterations if max_iterations is None else max_iterations
	if space_size is not None:
		budget = min(budget, space_size)
	top = min(opt.repeat_top_k, budget)
	predict = deployment_mode == "predict"
	repeats = 0 if predict else opt.repeats * (top + baseline)
	noise = baseline * (1 if predict else opt.noise_runs)  # the baseline's noise-floor measurements at the start
	return budget + noise + repeats


def planned_for_spec(spec: dict[str, Any], deployment_mode: str | None = None) -> int:
	"""planned_experiments for a stored spec (a dict); its max_iterations when today's rules refuse the spec."""
	optimization = dict(spec.get("optimization") or {})
	try:
		opt = OptimizationSpec.model_validate(optimization)
		size = build_task_space(
			spec.get("parameters") or {}, spec.get("quant_config"), spec.get("parallel_config")
		).size()
	except (ValidationError, ValueError, TypeError, ArithmeticError):  # a row stored before today's rules
		return int(optimization.get("max_iterations") or 0)
	return planned_experiments(opt, deployment_mode or str(spec.get("deployment_mode") or "local"), space_size=size)
