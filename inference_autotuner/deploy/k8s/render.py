"""The manifests that serve a given configuration on a cluster (`autotuner manifest`, the report's deploy section).

Pure rendering from its inputs (a spec and a parameter set): which configuration to serve (a task's best, a spec's
first) is chosen above, in services/manifests.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...engines import get_engine
from ...engines.plan import hardware_for, plan_launch
from ...errors import AutotunerError
from .manifests import dns_name, dump


def serving_manifests(
	spec: Any, params: dict[str, Any], mode: str, *, name: str | None = None, benchmark: bool = False
) -> list[dict[str, Any]]:
	"""Manifests that run `params` (mapped through engines/plan.py, so quant/parallel become the engine's flags)."""
	from ..kubernetes import KubernetesDeployer
	from . import ome
	from .manifests import K8sTarget

	if mode not in ("ome", "kubernetes"):
		raise AutotunerError(f"unknown mode '{mode}'", hint="--mode ome or --mode kubernetes")
	engine = get_engine(spec.base_runtime)
	plan = plan_launch(engine, params, model_ref=spec.model.ref, hardware=hardware_for(spec))
	if plan.status != "ok":
		raise AutotunerError(f"this configuration is not launchable ({plan.status}): {plan.reason}")
	target = K8sTarget.from_spec(spec)
	deployer = KubernetesDeployer(target, mode=mode, spec=spec, controller=None)
	name = name or dns_name(spec.task_name, limit=52)
	argv = deployer.container_argv(engine, Path(spec.model.ref), plan.flags, port=target.port)
	docs: list[dict[str, Any]] = []
	if mode == "ome":
		docs += [r.manifest for r in (deployer.runtime, deployer.base_model) if r is not None and r.manifest]
	files = deployer.container_files(plan.flags)
	docs += deployer.manifests(argv, {}, name, world_size=plan.world_size, serving=True, files=files)
	if benchmark and mode == "ome":
		output = (spec.kubernetes.benchmark_output if spec.kubernetes else None) or f"pvc://autotuner-results/{name}"
		gpu = spec.hardware.gpu if spec.hardware else None
		labels = {"app.kubernetes.io/managed-by": "inference-autotuner"}
		docs.append(
			ome.benchmark_job(
				target,
				f"{name}-bench",
				name,
				spec.benchmark,
				labels,
				output_uri=output,
				world_size=plan.world_size,
				gpu=gpu,
			)
		)
	return docs


def render(docs: list[dict[str, Any]]) -> str:
	return dump(docs)
