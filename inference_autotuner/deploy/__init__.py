"""Deployers: where an engine runs (local process, Docker container, Kubernetes), one module each behind `Deployer`.

Implementations are imported when chosen, so `import inference_autotuner.deploy` needs no optional package.
deployment_mode predict runs nothing: its predictor (predict.py) is a measurer beside the deployers, chosen by
runner/measure.py `measurer_for`.
"""

from __future__ import annotations

from typing import Any

from ..errors import DeployError
from .base import Deployer, Deployment, Launch

MODES = ("local", "docker", "ome", "kubernetes", "predict")


def get_deployer(spec: Any) -> Deployer:
	"""The deployer for `spec.deployment_mode`: local, docker, ome / kubernetes (KubernetesDeployer). predict has
	none (nothing is launched): DeployError."""
	mode = getattr(spec, "deployment_mode", "local") or "local"
	if mode == "local":
		from .local import LocalProcessDeployer

		# GPU engines get world-size GPUs each (CUDA_VISIBLE_DEVICES), so parallel experiments never share one
		return LocalProcessDeployer(gpus=getattr(spec, "base_runtime", "llamacpp") != "llamacpp")
	if mode == "docker":
		from .docker import DockerDeployer

		return DockerDeployer.from_spec(spec)
	if mode in ("ome", "kubernetes"):
		from .kubernetes import KubernetesDeployer

		return KubernetesDeployer.from_spec(spec, mode)
	if mode == "predict":
		raise DeployError(
			"deployment_mode predict launches no engine: it has no deployer",
			hint="its figures come from runner/measure.py measurer_for (a prediction)",
		)
	raise DeployError(
		f"deployment_mode '{mode}' is not available in this version",
		hint=f"available deployment modes: {', '.join(MODES)}",
	)


__all__ = ["MODES", "Deployer", "Deployment", "Launch", "get_deployer"]
