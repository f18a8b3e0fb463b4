"""Kubernetes deployers: `deployment_mode: kubernetes` (Deployment + Service) and `ome` (OME InferenceService).

Per experiment: the manifests (deploy/k8s/manifests.py, ome.py) carry the engine argv with every tuned flag and GPUs =
world size; they are applied, waited on (clear reasons: unschedulable, image pull, crash loop with log lines), reached
(kubectl port-forward to the engine pod on the experiment's local port, or the cluster DNS name when the tuner runs in
the cluster), health-checked, and on stop their pods' logs are appended to the experiment log and everything is
deleted. Every resource carries autotuner.io/* labels naming the task, experiment and owning tuner process; sweep()
deletes those whose tuner is gone. cancel() (or a bound cancel event) deletes the live resources at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from ..errors import CancelledError, DeployError, EngineStartError
from ..procs import started
from .base import Deployer, Deployment, Launch
from .k8s import ome
from .k8s.controller import Controller, connect
from .k8s.manifests import (
	CONFIG_FILE,
	CONFIG_MOUNT,
	LABEL,
	MANAGED,
	K8sTarget,
	deployment,
	dns_name,
	dump,
	engine_argv,
	label_value,
	options_config_map,
	resource_labels,
	service,
)
from .ports import ensure_port_free

SWEPT_KINDS = {"kubernetes": ("Deployment", "Service", "ConfigMap"), "ome": ("InferenceService", "ConfigMap")}


def _start_time(pid: int) -> str:
	try:
		return str(int(started(pid) * 100))
	except (psutil.Error, ValueError):
		return ""


class KubectlForwarder:
	"""`kubectl port-forward pod/NAME LOCAL:REMOTE` as a child process (argv list, never a shell)."""

	def __init__(self, context: str | None = None) -> None:
		self.context = context

	def reserve(self, local_port: int) -> None:
		"""Before anything is applied: the local port is free (kubectl would fail on a taken one, later and unclear)."""
		ensure_port_free(local_port, why="the port-forward to the engine pod listens there")

	def open(self, namespace: str, pod: str, local_port: int, remote_port: int) -> Any:
		kubectl = shutil.which("kubectl")
		if kubectl is None:
			raise DeployError(
				"kubectl is needed to reach the engine from outside the cluster (port-forward)",
				hint="install kubectl, or run the tuner in the cluster with kubernetes.access: in-cluster",
			)
		argv = [kubectl, "port-forward", "-n", namespace, f"pod/{pod}", f"{local_port}:{remote_port}"]
		argv += ["--address", "127.0.0.1"] + (["--context", self.context] if self.context else [])
		return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

	def close(self, handle: Any) -> None:
		with contextlib.suppress(Exception):
			handle.terminate()
			handle.wait(timeout=5)


@dataclass
class K8sHandle:
	"""What one experiment created: (kind, name, namespace) in creation order, the pods' selector, the forward."""

	resources: list[tuple[str, str, str | None]]
	selector: str
	namespace: str
	forward: Any = None
	restarts: int = 0
	controller: Controller | None = None
	info: dict[str, Any] = field(default_factory=dict)

	def poll(self) -> int | None:
		"""1 when an engine container restarted since it became ready (it crashed during the load), else None."""
		if self.controller is None:
			return None
		with contextlib.suppress(Exception):
			if _restarts(self.controller.pods(self.namespace, self.selector)) > self.restarts:
				return 1
		return None


def _restarts(pods: list[dict[str, Any]]) -> int:
	return sum(
		int(cs.get("restartCount") or 0) for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or []
	)


class KubernetesDeployer(Deployer):
	"""`mode` kubernetes: Deployment + Service; `mode` ome: InferenceService (+ runtime / base model when asked)."""

	in_container = True  # the pod's argv (container_argv)
	remote_model = True  # the cluster fetches / mounts the model: the runner need not resolve it on the tuner's host

	def __init__(
		self,
		target: K8sTarget,
		*,
		mode: str = "kubernetes",
		spec: Any = None,
		controller: Controller | None = None,
		forwarder: Any = None,
		health_poll: float = 1.0,
	) -> None:
		if mode not in SWEPT_KINDS:
			raise DeployError(f"unknown Kubernetes mode '{mode}'", hint="ome or kubernetes")
		self.name = mode
		self.mode = mode
		self.target = target
		self.spec = spec
		self._controller = controller
		self.forwarder = forwarder or KubectlForwarder(target.context)
		self.health_poll = health_poll
		self.cancel_event: threading.Event | None = None
		self.live: dict[int, Deployment] = {}  # what cancel() deletes; nothing else is kept per experiment
		self._lock = threading.Lock()
		self.owner_host = label_value(socket.gethostname())
		self.owner_pid = os.getpid()
		self.owner_start = _start_time(self.owner_pid)
		self.runtime: ome.ClusterResource | None = None
		self.base_model: ome.ClusterResource | None = None
		if mode == "ome" and spec is not None:
			self.runtime = ome.serving_runtime(target, spec.clusterservingruntime_config)
			self.base_model = ome.base_model(target, spec.clusterbasemodel_config)

	@classmethod
	def from_spec(cls, spec: Any, mode: str) -> KubernetesDeployer:
		return cls(K8sTarget.from_spec(spec), mode=mode, spec=spec)

	@property
	def controller(self) -> Controller:
		if self._controller is None:
			self._controller = connect(self.target.context)
		return self._controller

	# -- before the first experiment -------------------------------------------------------------------------
	def preflight(self) -> None:
		"""OME: the ClusterServingRuntime / ClusterBaseModel are there, or are created when the spec asks."""
		if self.mode != "ome":
			return
		for res in (self.runtime, self.base_model):
			if res is None:
				continue
			if self.controller.get(res.kind, res.name) is not None:
				continue  # reuse what the cluster has
			if res.manifest is None:
				key = (
					"clusterservingruntime_config" if res.kind == "ClusterServingRuntime" else "clusterbasemodel_config"
				)
				raise DeployError(
					f"{res.kind} '{res.name}' does not exist in the cluster",
					hint=f"create it (kubectl apply -f ...), or set {key}: {{preset: ...}} so the tuner creates it",
				)
			self.controller.apply(res.manifest)

	def bind_cancel(self, event: threading.Event) -> None:
		"""Watch the runner's cancel event: waits stop within one poll and cancel() deletes what is live."""
		self.cancel_event = event

	def cancel(self) -> None:
		"""Delete every live resource now (grace 0); the waiting start() raises CancelledError."""
		if self.cancel_event is not None:
			self.cancel_event.set()
		for dep in list(self.live.values()):
			self.stop(dep, grace=0, logs=False)

	# -- argv for the pod --------------------------------------------------------------------------------------
	def container_argv(self, engine: Any, model_path: Path, params: dict[str, Any], *, port: int) -> list[str]:
		"""The argv the engine runs with in the pod: every flag in `params`, the model as the cluster sees it."""
		model = ome.pod_model(self.target) if self.mode == "ome" else self.target.pod_model_path()
		return engine_argv(self.target, engine, params, model=model)

	def container_files(self, params: dict[str, Any]) -> dict[str, str]:
		"""TensorRT-LLM's derived LLM-API options as the file `--config` names (a ConfigMap mounted in the pod)."""
		from ..engines.trtllm import OPTIONS_KEY

		options = params.get(OPTIONS_KEY)
		return {f"{CONFIG_MOUNT}/{CONFIG_FILE}": yaml.safe_dump(options, sort_keys=True)} if options else {}

	def manifests(
		self,
		argv: list[str],
		labels: dict[str, str],
		name: str,
		*,
		world_size: int = 1,
		serving: bool = False,
		files: dict[str, str] | None = None,
	) -> list[dict[str, Any]]:
		"""Everything one experiment applies, in order. `serving`: for a lasting deployment (no autotuner.io/managed
		labels, so no tuner's sweep ever deletes it). `files`: the engine's files (a ConfigMap at CONFIG_MOUNT)."""
		t = self.target
		world = world_size
		if serving:
			res_labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "inference-autotuner"}
		else:
			res_labels = resource_labels(labels.get("task", "x"), labels.get("experiment", "x"), self.owner_host)
			res_labels[f"{LABEL}/owner-pid"] = str(self.owner_pid)
			res_labels[f"{LABEL}/owner-start"] = self.owner_start or "0"
			res_labels[f"{LABEL}/mode"] = self.mode
		docs: list[dict[str, Any]] = []
		cm = None
		if files:
			outside = [p for p in files if str(Path(p).parent) != CONFIG_MOUNT]
			if outside:
				raise DeployError(f"a pod's files live under {CONFIG_MOUNT}, not {outside[0]}")
			cm = f"{name}-llm-api"
			docs.append(options_config_map(t, cm, {Path(p).name: text for p, text in files.items()}, res_labels))
		if self.mode == "ome":
			base = self.base_model.name if self.base_model else dns_name(t.model_ref)
			runtime = self.runtime.name if self.runtime else None
			docs.append(
				ome.inference_service(t, name, argv, world, res_labels, base_model=base, runtime=runtime, config_map=cm)
			)
		else:
			docs.append(deployment(t, name, argv, world, res_labels, config_map=cm))
			docs.append(service(t, name, res_labels))
		return docs

	# -- lifecycle ---------------------------------------------------------------------------------------------
	def start(self, launch: Launch, *, log_path: Path, timeout: float) -> Deployment:
		t = self.target
		argv, port, labels = list(launch.argv), launch.port, launch.labels
		if t.access != "in-cluster":  # the port-forward listens on this host's port: refuse a taken one at once
			self.forwarder.reserve(port)
		name = dns_name("autotuner", labels.get("task", "x"), labels.get("experiment", "x"), str(port), limit=52)
		docs = self.manifests(argv, labels, name, world_size=launch.world_size, files=launch.files)
		log_path.parent.mkdir(parents=True, exist_ok=True)
		with log_path.open("a") as log:
			log.write(f"# {self.mode}: applying to namespace {t.namespace}\n{dump(docs)}\n")
		main_kind = "InferenceService" if self.mode == "ome" else "Deployment"
		selector = f"{ome.ISVC_LABEL}={name}" if self.mode == "ome" else f"{LABEL}/deployment={name}"
		handle = K8sHandle([], selector, t.namespace, controller=self._controller)
		deployment_ = Deployment(base_url="", argv=argv, log_path=log_path, handle=handle, info={"resources": []})
		with self._lock:
			self.live[id(deployment_)] = deployment_
		try:
			for doc in docs:
				meta = doc["metadata"]
				handle.resources.append((doc["kind"], meta["name"], meta.get("namespace")))
				self.controller.apply(doc)
			handle.controller = self.controller
			deployment_.info["resources"] = [f"{k}/{n}" for k, n, _ in handle.resources]
			deployment_.info["gpu_info"] = {"world_size": launch.world_size, "where": self.mode}
			deadline = time.monotonic() + timeout
			pods = self.controller.wait_ready(
				main_kind,
				name,
				t.namespace,
				selector,
				timeout=timeout,
				unschedulable_timeout=t.unschedulable_timeout,
				cancel=self.cancel_event,
			)
			handle.restarts = _restarts(pods)
			deployment_.base_url = self._reach(handle, name, pods, port)
			self._wait_healthy(deployment_.base_url + launch.health_path, deadline, log_path)
		except BaseException:
			self.stop(deployment_)
			raise
		return deployment_

	def _reach(self, handle: K8sHandle, name: str, pods: list[dict[str, Any]], port: int) -> str:
		t = self.target
		if t.access == "in-cluster":
			if self.mode == "ome":
				isvc = self.controller.get("InferenceService", name, t.namespace) or {}
				url = ((isvc.get("status") or {}).get("address") or {}).get("url") or (isvc.get("status") or {}).get(
					"url"
				)
				if url:
					return str(url).rstrip("/")
				return f"http://{name}-engine.{t.namespace}.svc.cluster.local:{t.port}"
			return f"http://{name}.{t.namespace}.svc.cluster.local:{t.port}"
		running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"] or pods
		if not running:
			raise EngineStartError(f"no pod found for {name} ({handle.selector})")
		pod = running[0]["metadata"]["name"]
		handle.forward = self.forwarder.open(t.namespace, pod, port, t.port)
		return f"http://127.0.0.1:{port}"

	def _wait_healthy(self, url: str, deadline: float, log_path: Path) -> None:
		with httpx.Client(timeout=2.0) as client:
			while True:
				if self.cancelled():
					raise CancelledError("cancelled while waiting for the engine")
				try:
					if client.get(url).status_code == 200:
						return
				except httpx.HTTPError:
					pass
				if time.monotonic() > deadline:
					raise EngineStartError(
						f"engine pod is ready but {url} does not answer 200",
						hint=f"check the port-forward / network path; log: {log_path}",
					)
				time.sleep(self.health_poll)

	def stop(self, deployment: Deployment, grace: int | None = None, logs: bool = True) -> None:
		"""Save the pods' logs to the experiment log, close the port-forward, delete everything it created."""
		with self._lock:
			handle: K8sHandle | None = deployment.handle
			deployment.handle = None
			self.live.pop(id(deployment), None)
		if handle is None:
			return
		if handle.forward is not None:
			self.forwarder.close(handle.forward)
		ctl = handle.controller or self._controller
		if ctl is None:
			return
		if logs:
			with contextlib.suppress(Exception), deployment.log_path.open("a") as log:
				for pod in ctl.pods(handle.namespace, handle.selector):
					pname = pod["metadata"]["name"]
					log.write(f"# logs of pod {pname}\n{ctl.pod_log(handle.namespace, pname, tail=None)}\n")
		for kind, name, ns in reversed(handle.resources):
			with contextlib.suppress(DeployError):
				ctl.delete(kind, name, ns, grace=grace)

	def exit_code(self, deployment: Deployment) -> int | None:
		handle: K8sHandle | None = deployment.handle
		return handle.poll() if handle is not None else None

	def sweep(self) -> int:
		"""Delete this tool's resources (label autotuner.io/managed=true) whose tuner process is gone."""
		removed = 0
		ctl = self.controller
		for kind in SWEPT_KINDS[self.mode]:
			for obj in ctl.list_kind(kind, self.target.namespace, f"{MANAGED}=true"):
				meta = obj.get("metadata") or {}
				lab = meta.get("labels") or {}
				if lab.get(f"{LABEL}/owner") != self.owner_host:
					continue  # another machine's tuner: it cannot be checked from here
				pid = int(lab.get(f"{LABEL}/owner-pid", "0") or 0)
				start = lab.get(f"{LABEL}/owner-start", "")
				if pid and start and _start_time(pid) == start:
					continue  # its tuner (maybe this one) is alive
				if ctl.delete(kind, meta["name"], meta.get("namespace") or self.target.namespace, grace=0):
					removed += 1
		return removed
