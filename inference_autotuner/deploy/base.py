"""The deployer contract: where an engine runs. One module per place (local process, docker, kubernetes, ...).

A deployer is handed a `Launch` (everything one experiment starts: argv, environment, files, mounts, world size, GPUs,
port) and keeps nothing of it beyond the `Deployment` it returns: one deployer serves every experiment of a task,
max_parallel of them at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Launch(BaseModel):
	"""What one experiment starts, built by runner/launch.py `launch_for` (the function explain prints from too)."""

	model_config = ConfigDict(frozen=True, extra="forbid")

	argv: list[str] = Field(min_length=1, description="the engine's argv (in a container: the image's program)")
	port: int = Field(ge=1, le=65535, description="where the engine listens (on this host, or forwarded to it)")
	health_path: str = Field(default="/health", description="answers 200 once the engine is ready")
	env: dict[str, str] = Field(default_factory=dict, description="on top of the deployer's: spec env, env:NAME")
	files: dict[str, str] = Field(
		default_factory=dict, description="path the engine reads -> its text (TensorRT-LLM's options in a pod)"
	)
	mounts: dict[str, str] = Field(
		default_factory=dict, description="host path -> path the engine sees, read-only (docker: the model)"
	)
	world_size: int = Field(default=1, ge=1, description="GPUs the configuration uses (tp x pp x dp ...)")
	gpus: int = Field(default=0, ge=0, description="GPUs held on this host for it (0: a CPU engine, or a cluster)")
	labels: dict[str, str] = Field(default_factory=dict, description="names it: task, experiment")


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
	`use_gpus` (the engine holds world-size GPUs of this host), `image` (a container image)."""

	name = "deployer"
	remote_model = False
	in_container = False
	use_gpus = False
	image: str | None = None
	cancel_event: threading.Event | None = None

	def preflight(self) -> None:
		"""Fail fast before the first experiment (a daemon, an image, a cluster resource); default: nothing to check."""
		return None

	def bind_cancel(self, event: threading.Event) -> None:
		"""The runner's cancel event: a start in progress stops at once when it is set (CancelledError)."""
		self.cancel_event = event

	def cancelled(self) -> bool:
		return self.cancel_event is not None and self.cancel_event.is_set()

	def container_argv(self, engine: Any, model_path: Path, params: dict[str, Any], *, port: int) -> list[str]:
		"""The argv as the container runs it (in_container deployers only); pure: nothing is kept."""
		raise NotImplementedError(f"{type(self).__name__} runs the engine's own argv (in_container is False)")

	def container_files(self, params: dict[str, Any]) -> dict[str, str]:
		"""Files the container's engine reads (path inside -> text), derived from `params`; default: none."""
		return {}

	def container_mounts(self, model_path: Path) -> dict[str, str]:
		"""Host paths the container sees (host -> inside, read-only); default: none."""
		return {}

	def start(self, launch: Launch, *, log_path: Path, timeout: float) -> Deployment:
		"""Start `launch` and wait until it answers its health path (up to `timeout` s); on any failure nothing of it
		is left running and EngineStartError says why with the engine's last log lines (CancelledError on cancel)."""
		raise NotImplementedError

	def stop(self, deployment: Deployment) -> None:
		raise NotImplementedError

	def exit_code(self, deployment: Deployment) -> int | None:
		"""The engine's exit code once it has exited (it crashed during the load), else None; default: never seen."""
		return None

	def sweep(self) -> int:
		"""Remove what a killed earlier run of this tool left running; default: nothing is ever left."""
		return 0
