"""`autotuner manifest`: which configuration to serve (a task's best experiment, or a spec's first configuration),
rendered by deploy/k8s/render.py into the manifests that serve it."""

from __future__ import annotations

from typing import Any

from ..deploy.k8s.render import render, serving_manifests
from ..errors import AutotunerError
from ..explain import configurations
from ..space import build_task_space
from ..spec.models import TaskSpec
from ..store import Store
from .views import experiments_of, find_task


def best_params(store: Store, task_ref: str) -> tuple[TaskSpec, dict[str, Any]]:
	"""(spec, parameters) of a task's best experiment."""
	task = find_task(store, task_ref)
	best = next((e for e in experiments_of(store, task.id) if e.id == task.best_experiment_id), None)
	if best is None:
		raise AutotunerError(f"task '{task.name}' has no successful experiment yet", hint="autotuner show " + task.name)
	return TaskSpec.model_validate(task.spec), dict(best.params)


def first_params(spec: TaskSpec) -> dict[str, Any]:
	"""The spec's first configuration (the first grid point, or a seeded draw of a continuous space), fixed values in."""
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	configs = configurations(spec, space, 1)  # full parameter sets already
	return configs[0] if configs else dict(space.fixed)


def manifest_yaml(spec: TaskSpec, params: dict[str, Any], mode: str | None = None, *, benchmark: bool = False) -> str:
	"""The YAML of the manifests serving `params`; `mode` ome or kubernetes (default: the spec's, else kubernetes)."""
	chosen = mode or (spec.deployment_mode if spec.deployment_mode in ("ome", "kubernetes") else "kubernetes")
	return render(serving_manifests(spec, params, chosen, benchmark=benchmark))
