"""`autotuner explain`: every experiment a spec implies, with its argv, world size and memory fit. Nothing starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from .engines import get_engine
from .engines.plan import hardware_for, plan_launch
from .models import KNOWN_MODELS, cached_path
from .space import build_task_space
from .spec.models import TaskSpec


def model_reference(spec: TaskSpec) -> str:
	"""What the engine is pointed at, without downloading anything (a known model's cache path)."""
	ref = spec.model.ref
	if ref in KNOWN_MODELS:
		return str(cached_path(ref))
	local = Path(ref).expanduser()
	return str(local.resolve()) if local.exists() else ref


def configurations(spec: TaskSpec, limit: int) -> tuple[list[dict[str, Any]], int | None]:
	"""Up to `limit` parameter sets of the spec's space (all of a grid, or seeded random draws of a continuous one)."""
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	size = space.size()
	if size is not None:
		return space.combinations()[:limit], size
	study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.optimization.seed or 0))
	out = []
	for _ in range(limit):
		trial = study.ask(space.distributions)
		out.append(space.full(trial.params))
		study.tell(trial, 0.0)
	return out, None


def explain(spec: TaskSpec, limit: int = 50) -> dict[str, Any]:
	engine = get_engine(spec.base_runtime)
	model = model_reference(spec)
	hardware = hardware_for(spec)
	params_list, size = configurations(spec, limit)
	rows = []
	for i, params in enumerate(params_list, 1):
		plan = plan_launch(engine, params, model_ref=model, hardware=hardware)
		argv = engine.launch_argv(model, plan.flags, host="127.0.0.1", port=8000) if plan.status == "ok" else None
		rows.append(
			{
				"number": i,
				"params": params,
				"status": plan.status,
				"reason": plan.reason,
				"argv": argv,
				"world_size": plan.world_size,
				"quant": plan.quant,
				"parallel": plan.parallel,
				"memory": plan.memory.model_dump() if plan.memory else None,
				"notes": plan.notes,
			}
		)
	return {
		"task_name": spec.task_name,
		"engine": engine.name,
		"engine_version": engine.version,
		"model": model,
		"hardware": {"gpus": hardware.gpu_count, "gpu_memory_gib": hardware.gpu_memory_gib, "gpu": hardware.gpu_model},
		"space_size": size,
		"shown": len(rows),
		"experiments": rows,
	}
