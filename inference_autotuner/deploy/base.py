"""The deployer contract: where an engine runs. One module per place (local process, docker, kubernetes, ...)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Deployment:
	"""A running engine: where to send load and how to find it again."""

	base_url: str
	argv: list[str]
	log_path: Path
	handle: Any = None
	info: dict[str, Any] = field(default_factory=dict)


class Deployer:
	"""What every deployer shares, with default no-op hooks (Optuna's BaseSampler is the model): a deployer overrides
	what applies to it, and the runner calls every hook without probing for it.

	Class attributes: `name` (deployment_mode), `remote_model` (the cluster fetches or mounts the model itself: the
	runner does not resolve it on this host), `in_container` (the engine's argv is rewritten by container_argv),
	`predicts` (a performance model: `predict` replaces start -> load -> stop), `image` (a container image)."""

	name = "deployer"
	remote_model = False
	in_container = False
	predicts = False
	image: str | None = None
	cancel_event: threading.Event | None = None

	def preflight(self) -> None:
		"""Fail fast before the first experiment (a daemon, an image, a cluster resource); default: nothing to check."""
		return None

	def bind_cancel(self, event: threading.Event) -> None:
		"""The runner's cancel event: a start in progress stops at once when it is set."""
		self.cancel_event = event

	def container_argv(self, engine: Any, model_path: Path, params: dict[str, Any], *, port: int) -> list[str]:
		"""The argv as the container runs it (in_container deployers only)."""
		raise NotImplementedError(f"{type(self).__name__} runs the engine's own argv (in_container is False)")

	def start(
		self,
		argv: list[str],
		*,
		port: int,
		health_path: str,
		log_path: Path,
		env: dict[str, str],
		timeout: float,
		labels: dict[str, str],
	) -> Deployment:
		raise NotImplementedError

	def stop(self, deployment: Deployment) -> None:
		raise NotImplementedError

	def sweep(self) -> int:
		"""Remove what a killed earlier run of this tool left running; default: nothing is ever left."""
		return 0
