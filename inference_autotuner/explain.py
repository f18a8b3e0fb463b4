"""`autotuner explain`: every experiment a spec implies, with its argv, world size and memory fit. Nothing starts.

Each row is what the runner would launch for that parameter set, built by the runner's own function
(runner/launch.py `launch_for`): the fixed flags included, quantization/parallel intent mapped, the container's argv in
docker mode, nothing for a prediction. The baseline comes first, as in a tuning.
"""

from __future__ import annotations

import itertools
from typing import Any

import optuna

from .engines import get_engine
from .engines.plan import hardware_for
from .runner.launch import DEFAULT_PORT, baseline_params, deployer_for, launch_for, model_location
from .space import Space, build_task_space
from .spec.models import TaskSpec


def configurations(spec: TaskSpec, space: Space, limit: int) -> list[dict[str, Any]]:
	"""Up to `limit` full parameter sets (searched + fixed) of the space: the grid in order (enumerated lazily, so a
	huge grid costs only what is shown), or seeded random draws of a continuous one."""
	if space.size() is not None:
		return [space.full(c) for c in itertools.islice(space.iter_combinations(), limit)]
	study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.optimization.seed or 0))
	out = []
	for _ in range(limit):
		trial = study.ask(space.distributions)
		out.append(space.full(trial.params))
		study.tell(trial, 0.0)
	return out


def explain(spec: TaskSpec, limit: int = 50, configs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
	"""The baseline and up to `limit` configurations of the space (or exactly `configs`, full parameter sets), each
	as the runner would launch it."""
	engine = get_engine(spec.base_runtime)
	deployer = deployer_for(spec)
	model = model_location(spec, deployer)
	hardware = hardware_for(spec)
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	port = spec.engine_port or DEFAULT_PORT
	rows = []
	todo: list[tuple[str, dict[str, Any]]] = []
	if configs is not None:
		todo = [("given", c) for c in configs]
	else:
		if spec.optimization.baseline is not False:
			todo.append(("baseline", baseline_params(spec, space)))
		todo += [("search", p) for p in configurations(spec, space, limit)]
	for i, (origin, params) in enumerate(todo, 1):
		launch = launch_for(spec, engine, deployer, model, params, port=port)
		plan = launch.plan
		rows.append(
			{
				"number": i,
				"origin": origin,
				"params": params,
				"status": plan.status,
				"reason": plan.reason,
				"argv": launch.argv,
				"serve_command": launch.serve_command,
				"env": launch.env if plan.status == "ok" else None,
				"world_size": launch.world_size,
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
		"deployment_mode": spec.deployment_mode,
		"model": str(model),
		"port": port if spec.engine_port else None,
		"hardware": {"gpus": hardware.gpu_count, "gpu_memory_gib": hardware.gpu_memory_gib, "gpu": hardware.gpu_model},
		"space_size": space.size(),
		"shown": sum(1 for r in rows if r["origin"] == "search"),
		"experiments": rows,
		"quality": _quality(spec),  # the quality guardrail (docs/quality.md): what each experiment is held to
	}


def _quality(spec: TaskSpec) -> dict[str, Any] | None:
	from .quality import quality_spec

	q = quality_spec(spec)
	if q is None:
		return None
	return {
		"thresholds": q.thresholds(),
		"reference": q.reference or "the baseline",
		"probe": f"{q.prompts} prompts x {q.max_tokens} tokens, top-{q.top_k}"
		+ (f", eval {q.eval.path}" if q.eval else ""),
	}
