"""The deployer protocol: where an engine runs. One module per place (local process, docker, kubernetes, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Deployment:
	"""A running engine: where to send load and how to find it again."""

	base_url: str
	argv: list[str]
	log_path: Path
	handle: Any = None
	info: dict[str, Any] = field(default_factory=dict)


class Deployer(Protocol):
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
		"""Start the engine and return once it answers its health check (raise EngineStartError otherwise)."""
		...

	def stop(self, deployment: Deployment) -> None:
		"""Stop it and free everything it held; safe to call twice."""
		...

	def sweep(self) -> int:
		"""Remove what a killed earlier run of this tool left running; returns how many were removed."""
		...
