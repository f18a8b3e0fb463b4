"""What one experiment launches: the one function both the runner and `autotuner explain` call.

From a parameter set (searched values + fixed ones, as the runner measures it) to the launch plan (engine flags,
world size, memory fit, or a refusal) and the exact argv the deployer starts: the host's program for a local process,
the image's program with the model at its mounted path for a container, the pod's argv on Kubernetes, with the files,
mounts, world size and GPUs of it: a deploy/base.py `Launch`. A prediction (deployment_mode predict) launches
nothing: its deployer and argv are None and `serve_command` says what a real deployment runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..deploy.base import Deployer, Launch
from ..engines.plan import LaunchPlan, plan_for

DEFAULT_PORT = 8000  # explain's port where the spec sets none (the runner then picks a free one per experiment)


@dataclass(frozen=True)
class ExperimentLaunch:
	"""One experiment's launch plan and, when something is launched, the `Launch` its deployer starts."""

	plan: LaunchPlan
	launch: Launch | None  # what the deployer starts; None when nothing is launched (refused, or predicted)
	serve_command: list[str] | None  # the engine's own command on a host (for predicted and container rows too)
	spec_env: dict[str, str]  # the spec's fixed `env`

	@property
	def argv(self) -> list[str] | None:
		return list(self.launch.argv) if self.launch is not None else None

	@property
	def env(self) -> dict[str, str]:
		"""The environment the engine gets on top of the tuner's: the spec's env, then env:NAME parameters."""
		return {**self.spec_env, **self.plan.env}

	@property
	def launched(self) -> bool:
		return self.launch is not None

	@property
	def world_size(self) -> int | None:
		"""GPUs the configuration uses; None when it is never launched (refused before launch)."""
		return self.plan.world_size if self.plan.status == "ok" else None


def launch_for(
	spec: Any,
	engine: Any,
	deployer: Deployer | None,
	model_path: Path | str,
	params: dict[str, Any],
	*,
	port: int,
	plan: LaunchPlan | None = None,
	labels: dict[str, str] | None = None,
) -> ExperimentLaunch:
	"""The plan and Launch of one experiment with `params` (the full set: searched + fixed) on `deployer` (None: a
	prediction, nothing is launched)."""
	plan = plan or plan_for(engine, params, spec, model_path)
	if plan.status != "ok":
		return ExperimentLaunch(plan, None, None, dict(spec.env))
	serve = engine.launch_argv(str(model_path), plan.flags, host="127.0.0.1", port=port)
	if deployer is None:
		return ExperimentLaunch(plan, None, serve, dict(spec.env))
	argv, files, mounts = serve, {}, {}
	if deployer.in_container:  # the image's program, the model where it is mounted
		argv = list(deployer.container_argv(engine, Path(model_path), plan.flags, port=port))
		files = deployer.container_files(plan.flags)
		mounts = deployer.container_mounts(Path(model_path))
	launch = Launch(
		argv=argv,
		port=port,
		health_path=engine.health_path,
		env={**spec.env, **plan.env},
		files=files,
		mounts=mounts,
		world_size=plan.world_size,
		gpus=plan.world_size if deployer.use_gpus else 0,
		labels=dict(labels or {}),
	)
	return ExperimentLaunch(plan, launch, serve, dict(spec.env))


def model_location(spec: Any, deployer: Any) -> Path:
	"""Where the engine finds the model, without downloading anything: a prediction reads the model's shape itself
	and a cluster mounts its own copy (the reference as it is); otherwise where the model cache keeps a known model,
	or the local file. (The runner pulls a missing local model first; then both agree.)"""
	from ..models import KNOWN_MODELS, cached_path

	ref = spec.model.ref
	if deployer is None or deployer.remote_model:
		return Path(ref)
	if ref in KNOWN_MODELS:  # in the format the engine loads (vLLM, SGLang: the converted Hugging Face folder)
		from ..engines import get_engine

		return cached_path(ref, getattr(get_engine(spec.base_runtime), "weights_format", "gguf"))
	local = Path(ref).expanduser()
	return local.resolve() if local.exists() else Path(ref)


def baseline_params(spec: Any, space: Any) -> dict[str, Any]:
	"""The baseline's parameters: the engine's defaults (only the spec's fixed flags), or the user's current config
	(`optimization.baseline: {flags}`), completed with the fixed flags as every experiment is."""
	base = spec.optimization.baseline
	return dict(space.full(dict(base) if isinstance(base, dict) else {}))


def deployer_for(spec: Any) -> Deployer | None:
	"""The spec's deployer for building argv (no daemon, cluster or performance database is contacted); None for a
	prediction (deployment_mode predict launches nothing)."""
	if spec.deployment_mode == "predict":
		return None
	from ..deploy import get_deployer

	return get_deployer(spec)
