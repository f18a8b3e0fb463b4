"""Docker deployer: every experiment's engine in its own container (docker SDK), nothing left behind.

- image: a per-engine default (ENGINE_IMAGES), overridden by the spec's `runtime_image` / `runtime_image_tag`; no pull
  is attempted (hosts may have no registry): a missing image is a clear error naming it and how to get it;
- host networking on a free port (checked before start), shm size / IPC mode the engine needs, the spec's `env` plus
  HF_TOKEN-style variables passed through from the tuner's environment;
- the model's directory mounted read-only at /models (shared by every experiment: fetched once, never copied), and
  the engine argv rewritten for the container: the image's program, the model at /models/<name> (`container_argv`);
- GPUs from the allocator (world size per experiment, `device_requests` with those ids), recorded as gpu_info;
- labels naming the task, the experiment and the owning tuner process; logs saved to the experiment's log file;
- stop() stops and removes the container and frees its GPUs (end of experiment, failure, cancel, Ctrl-C);
  sweep() removes containers whose tuner is gone (killed with -9), found by label.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from ..errors import CancelledError, DeployError, EngineStartError
from ..gpus import Allocation, GPUAllocator
from ..procs import started
from .base import Deployer, Deployment, Launch
from .gpu_hold import GPUHold
from .ports import ensure_port_free

LABEL = "autotuner"  # label prefix; autotuner.managed=true marks every container this tool starts
MODEL_MOUNT = "/models"
PASSTHROUGH_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "NGC_API_KEY")
BUILD_SCRIPT = "scripts/build_llamacpp_image.sh"


@dataclass(frozen=True)
class EngineImage:
	"""How an engine runs in a container: the default image, the program inside it, and its needs."""

	image: str
	tag: str
	program: tuple[str, ...]
	gpus: bool = True  # give it world-size GPUs (on a host that has GPUs)
	ipc_mode: str | None = "host"  # NCCL / torch shared memory
	shm_size: str | None = None


ENGINE_IMAGES: dict[str, EngineImage] = {
	"llamacpp": EngineImage(
		"inference-autotuner/llamacpp",
		"latest",
		("llama-server",),
		gpus=False,  # the image built here is llama.cpp's CPU build; set AUTOTUNER_DOCKER_GPUS=1 for a CUDA image
		ipc_mode=None,
	),
	"vllm": EngineImage("vllm/vllm-openai", "latest", ("vllm", "serve")),
	"sglang": EngineImage("lmsysorg/sglang", "latest", ("python3", "-m", "sglang.launch_server")),
	"trtllm": EngineImage("nvcr.io/nvidia/tensorrt-llm/release", "latest", ("trtllm-serve",)),
}


def image_for(engine: str, runtime_image: str | None = None, runtime_image_tag: str | None = None) -> str:
	"""The image reference an engine runs from: the spec's runtime_image[:runtime_image_tag] or the default."""
	default = ENGINE_IMAGES.get(engine)
	repo = runtime_image or (default.image if default else None)
	if repo is None:
		raise DeployError(
			f"no default container image for engine '{engine}'", hint="set runtime_image (and runtime_image_tag)"
		)
	last = repo.rsplit("/", 1)[-1]
	if ":" in last or "@" in last:  # the image already names a tag or digest
		return repo
	tag = runtime_image_tag or (default.tag if default and not runtime_image else "latest")
	return f"{repo}:{tag}"


def _docker_module() -> Any:
	try:
		import docker
	except ImportError:
		raise DeployError(
			"deployment_mode 'docker' needs the docker Python package",
			hint="pip install 'inference-autotuner[docker]'",
		) from None
	return docker


def connect(timeout: float = 10.0) -> Any:
	"""A docker client that has answered a ping; DeployError naming the daemon address otherwise."""
	docker = _docker_module()
	where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
	try:
		client = docker.from_env(timeout=int(timeout))
		client.ping()
	except Exception as exc:
		raise DeployError(
			f"cannot reach the Docker daemon at {where} ({type(exc).__name__})",
			hint="start it (systemctl start docker; without systemd: dockerd --iptables=false --bridge=none &), "
			"or point DOCKER_HOST at a running daemon",
		) from None
	return client


def _proc_start(pid: int) -> float | None:
	try:
		return started(pid)
	except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
		return None


class ContainerHandle:
	"""The running container, the GPUs it holds; poll() answers like Popen.poll() (exit code once it has exited)."""

	def __init__(self, container: Any, allocation: Allocation | None) -> None:
		self.container = container
		self.allocation = allocation

	def poll(self) -> int | None:
		try:
			self.container.reload()
		except Exception:
			return -1  # gone
		if self.container.status in ("exited", "dead"):
			return int(self.container.attrs.get("State", {}).get("ExitCode", -1))
		return None


class DockerDeployer(Deployer):
	in_container = True  # the image's program, the model at its mounted path (container_argv)
	name = "docker"

	def __init__(
		self,
		engine: str = "llamacpp",
		*,
		image: str | None = None,
		gpus: bool | None = None,
		allocator: GPUAllocator | None = None,
		gpu_wait: float | None = None,
		shm_size: str | None = None,
		ipc_mode: str | None = None,
		host: str = "127.0.0.1",
		client: Any = None,
	) -> None:
		defaults = ENGINE_IMAGES.get(engine, EngineImage("", "latest", ()))
		self.engine = engine
		self.defaults = defaults
		self.image: str = image or image_for(engine)
		env_gpus = os.environ.get("AUTOTUNER_DOCKER_GPUS")
		self.use_gpus = gpus if gpus is not None else (env_gpus == "1" if env_gpus in ("0", "1") else defaults.gpus)
		self.gpu_hold = GPUHold(allocator, gpu_wait)
		self.shm_size = shm_size or defaults.shm_size
		self.ipc_mode = ipc_mode or defaults.ipc_mode
		self.host = host
		self._client = client
		self.owner_pid = os.getpid()
		self.owner_start = _proc_start(self.owner_pid)

	@classmethod
	def from_spec(cls, spec: Any) -> DockerDeployer:
		return cls(spec.base_runtime, image=image_for(spec.base_runtime, spec.runtime_image, spec.runtime_image_tag))

	# -- daemon and image ------------------------------------------------------------------------------------
	@property
	def client(self) -> Any:
		if self._client is None:
			self._client = connect()
		return self._client

	def preflight(self) -> None:
		"""Fail fast, before any experiment: the daemon answers and the image is there (no pull is tried)."""
		docker = _docker_module()
		try:
			self.client.images.get(self.image)
		except docker.errors.ImageNotFound:
			repo = self.image.rsplit(":", 1)[0] if ":" in self.image.rsplit("/", 1)[-1] else self.image
			if self.engine == "llamacpp" and repo == self.defaults.image:
				how = f"build it here (no registry needed): IMAGE={self.image} {BUILD_SCRIPT}"
			else:
				how = f"docker pull {self.image} where a registry is reachable, or docker load -i a saved copy"
			raise DeployError(f"container image '{self.image}' is not on this Docker host", hint=how) from None

	# -- argv for the container -----------------------------------------------------------------------------
	def container_model(self, model_path: Path) -> str:
		"""The path the engine sees the model at inside the container: /models/NAME (see container_mounts)."""
		return f"{MODEL_MOUNT}/{Path(model_path).resolve().name}"

	def container_mounts(self, model_path: Path) -> dict[str, str]:
		"""Mount the model itself (its file, or its folder of HF weights) read-only at /models/NAME, never a parent
		folder (a model at /x.gguf must not mount /)."""
		return {str(Path(model_path).resolve()): self.container_model(model_path)}

	def container_argv(self, engine: Any, model_path: Path, params: dict[str, Any], *, port: int) -> list[str]:
		"""The engine's argv with the image's program in place of the host one and the model at its mounted path."""
		model = self.container_model(model_path)
		serve = getattr(engine, "serve_argv", engine.launch_argv)  # the engine's own CLI, not this host's launcher
		argv = serve(model, params, host=self.host, port=port)
		program = self.defaults.program
		if not program:
			return argv
		# the host program is everything before the first --flag or the model argument
		cut = next((i for i, a in enumerate(argv) if a.startswith("--") or a == model), len(argv))
		return [*program, *argv[cut:]]

	# -- lifecycle ------------------------------------------------------------------------------------------
	def _labels(self, labels: dict[str, str]) -> dict[str, str]:
		out = {f"{LABEL}.{k}": str(v) for k, v in labels.items()}
		out.update(
			{
				f"{LABEL}.managed": "true",
				f"{LABEL}.owner_pid": str(self.owner_pid),
				f"{LABEL}.owner_start": repr(self.owner_start),
				f"{LABEL}.owner_host": socket.gethostname(),
			}
		)
		return out

	def _env(self, env: dict[str, str]) -> dict[str, str]:
		out = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
		out.update(env)
		return out

	def start(self, launch: Launch, *, log_path: Path, timeout: float) -> Deployment:
		docker = _docker_module()
		argv = list(launch.argv)
		ensure_port_free(launch.port, self.host, "containers share the host network")
		for source in launch.mounts:
			if not Path(source).exists():  # docker would make a folder there on the host: never
				raise EngineStartError(
					f"the model is not at {source}", hint="autotuner models pull NAME, or fix model.id_or_path"
				)
		allocation = self.gpu_hold.acquire(launch)
		kwargs: dict[str, Any] = {
			"entrypoint": [argv[0]],
			"command": argv[1:],
			"network_mode": "host",
			"environment": self._env(launch.env),
			"labels": self._labels(launch.labels),
			"name": f"autotuner-{launch.labels.get('task', 'x')}-{launch.labels.get('experiment', 'x')}-{launch.port}",
		}
		if launch.mounts:
			kwargs["volumes"] = {src: {"bind": dst, "mode": "ro"} for src, dst in launch.mounts.items()}
		if self.ipc_mode:
			kwargs["ipc_mode"] = self.ipc_mode
		if self.shm_size:
			kwargs["shm_size"] = self.shm_size
		if allocation is not None and allocation.gpus:
			kwargs["device_requests"] = [
				docker.types.DeviceRequest(device_ids=[str(i) for i in allocation.ids], capabilities=[["gpu"]])
			]
		log_path.parent.mkdir(parents=True, exist_ok=True)
		with log_path.open("a") as log:
			log.write(f"$ docker run --network host {self.image} {' '.join(argv)}\n")
		container = None
		try:
			container = self.client.containers.create(self.image, **kwargs)
			container.start()
		except docker.errors.ImageNotFound:
			self.gpu_hold.release(allocation)
			self.preflight()  # raises the clear message
			raise
		except docker.errors.APIError as exc:
			self.gpu_hold.release(allocation)
			if container is not None:  # created but not started (e.g. GPUs without the NVIDIA runtime)
				with contextlib.suppress(Exception):
					container.remove(force=True)
			raise EngineStartError(
				f"docker could not start the container from '{self.image}': {exc.explanation or exc}",
				hint="check the image and the daemon (docker info); GPUs need the NVIDIA container toolkit",
			) from None
		except BaseException:
			self.gpu_hold.release(allocation)
			if container is not None:
				with contextlib.suppress(Exception):
					container.remove(force=True)
			raise
		handle = ContainerHandle(container, allocation)
		info: dict[str, Any] = {"container": container.name, "container_id": container.id, "image": self.image}
		info["gpu_info"] = GPUHold.info(allocation, launch)
		deployment = Deployment(
			base_url=f"http://{self.host}:{launch.port}", argv=argv, log_path=log_path, handle=handle, info=info
		)
		try:
			self._wait_ready(handle, deployment.base_url + launch.health_path, timeout)
		except BaseException:
			self.stop(deployment)
			raise
		return deployment

	def _tail(self, container: Any, lines: int = 15) -> str:
		try:
			return container.logs(tail=lines).decode(errors="replace").rstrip()
		except Exception:
			return ""

	def _wait_ready(self, handle: ContainerHandle, url: str, timeout: float) -> None:
		deadline = time.monotonic() + timeout
		with httpx.Client(timeout=2.0) as client:
			while True:
				code = handle.poll()
				if code is not None:
					raise EngineStartError(
						f"container exited with code {code} before the engine was ready; last log lines:\n"
						f"{self._tail(handle.container)}",
						hint="the full log is in the experiment's log file",
					)
				try:
					if client.get(url).status_code == 200:
						return
				except httpx.HTTPError:
					pass
				if self.cancelled():
					raise CancelledError("cancelled while the engine was starting")
				if time.monotonic() > deadline:
					raise EngineStartError(
						f"engine in container not ready after {timeout:.0f} s; last log lines:\n"
						f"{self._tail(handle.container)}",
						hint="raise startup_timeout in the spec, or read the experiment's log file",
					)
				time.sleep(0.2)

	def stop(self, deployment: Deployment, grace: int = 10) -> None:
		handle: ContainerHandle | None = deployment.handle
		if handle is None:
			return
		deployment.handle = None
		container = handle.container
		try:
			with contextlib.suppress(Exception):
				container.stop(timeout=grace)
			with contextlib.suppress(Exception), deployment.log_path.open("ab") as log:
				log.write(container.logs(stdout=True, stderr=True))
			with contextlib.suppress(Exception):
				container.remove(force=True)
		finally:
			self.gpu_hold.release(handle.allocation)

	def exit_code(self, deployment: Deployment) -> int | None:
		handle: ContainerHandle | None = deployment.handle
		return handle.poll() if handle is not None else None

	def sweep(self) -> int:
		"""Remove containers of this tool whose tuner process is gone (killed -9); keep live tuners' containers."""
		removed = 0
		filters = {"label": f"{LABEL}.managed=true"}
		for c in self.client.containers.list(all=True, filters=filters):
			labels = c.labels or {}
			pid = int(labels.get(f"{LABEL}.owner_pid", "0") or 0)
			same_host = labels.get(f"{LABEL}.owner_host") == socket.gethostname()
			if pid == self.owner_pid and labels.get(f"{LABEL}.owner_start") == repr(self.owner_start):
				continue  # ours: stop() removes it
			if same_host and pid and repr(_proc_start(pid)) == labels.get(f"{LABEL}.owner_start"):
				continue  # another live tuner on this host owns it
			with contextlib.suppress(Exception):
				c.remove(force=True)
				removed += 1
		return removed
