"""The deployer contract: one suite run against every place an engine runs (Optuna's storage tests are the model).

What every deployer promises (deploy/base.py): start a Launch and answer its health path; keep the engine's output
in the experiment log; stop it (twice is harmless); a bound cancel event ends a start in progress (CancelledError);
sweep() removes the engines of a tuner killed with -9 and keeps a live tuner's; a taken port is refused before
anything starts; a failed start says why with the engine's last log lines. After every failure nothing is left.

The engine does not matter here, so it is a cheap real server: benchmarks/zero_server.py behind a line of output.
- local: real processes;
- docker: a real dockerd and the llama.cpp image built here (its Python runs the same server; skipped without a
  daemon, and under CI=true that skip fails);
- kubernetes: a TEST DOUBLE of the Kubernetes API (tests/k8s_double.py), because no API server can run here; the
  port-forward double starts the same real server on the experiment's port, as a forward would make the pod
  reachable there. A killed tuner is a dead process whose pid and start time label the resources (the double
  lives in this process, so the tuner that applied them cannot be a child that is killed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from inference_autotuner.deploy.base import Deployer, Launch
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.errors import CancelledError, EngineStartError
from inference_autotuner.procs import started

REPO = Path(__file__).resolve().parents[1]
ZERO = REPO / "benchmarks" / "zero_server.py"
RUN = uuid.uuid4().hex[:8]  # names every engine this test run starts (close() removes what a failed test left)
SAYS = "engine up: contract"  # what the engine prints first: the log must keep it
LAST = "error: unrecognized arguments: --bogus"  # the failing engine's last line: the error must quote it
# a server that prints a line, then serves /health (argv: server file, port, a marker naming the experiment)
SERVE = (
	f"import runpy, sys; print({SAYS!r}, flush=True); "
	"sys.argv = [sys.argv[1], '--port', sys.argv[2]]; runpy.run_path(sys.argv[0], run_name='__main__')"
)
FAIL = f"import sys; print('loading the model'); print({LAST!r}, flush=True); sys.exit(2)"
HANG = (
	"import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); print('loading'); time.sleep(600)"
)
# a tuner that starts one engine and waits to be killed (argv: deployer module, class, kwargs, launch, log path)
TUNER = """
import importlib, json, sys, time
from pathlib import Path
from inference_autotuner.deploy.base import Launch
module, name, kwargs, launch, log = sys.argv[1:6]
deployer = getattr(importlib.import_module(module), name)(**json.loads(kwargs))
deployer.start(Launch.model_validate_json(launch), log_path=Path(log), timeout=60)
print("started", flush=True)
time.sleep(600)
"""


class Place:
	"""One place an engine runs, as the suite drives it."""

	name = "place"

	def deployer(self) -> Deployer:
		raise NotImplementedError

	def serving(self, port: int, labels: dict[str, str]) -> Launch:
		"""An engine that prints SAYS and answers its health path."""
		raise NotImplementedError

	def failing(self, port: int, labels: dict[str, str]) -> Launch:
		"""An engine that exits at once with LAST as its last line."""
		raise NotImplementedError

	def hanging(self, port: int, labels: dict[str, str]) -> Launch:
		"""An engine that never answers its health path."""
		raise NotImplementedError

	def running(self, labels: dict[str, str]) -> bool:
		"""Anything of the experiment named by `labels` still runs (process, container, cluster resource)."""
		raise NotImplementedError

	def orphan(self, labels: dict[str, str], tmp_path: Path) -> None:
		"""Leave a serving engine whose tuner was killed with -9."""
		raise NotImplementedError

	def close(self) -> None:
		return None


def _kill_9_tuner(module: str, cls: str, kwargs: dict[str, Any], launch: Launch, log: Path) -> None:
	"""A real tuner process starts `launch` with its own deployer and is killed with -9 once it has."""
	env = {**os.environ, "AUTOTUNER_NO_PDEATHSIG": "1", "PYTHONPATH": str(REPO)}
	argv = [sys.executable, "-c", TUNER, module, cls, json.dumps(kwargs), launch.model_dump_json(), str(log)]
	tuner = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
	try:
		assert tuner.stdout is not None and tuner.stdout.readline().strip() == "started"
	finally:
		tuner.kill()
		tuner.wait()


class Local(Place):
	name = "local"

	def deployer(self) -> Deployer:
		from inference_autotuner.deploy.local import LocalProcessDeployer

		return LocalProcessDeployer()

	def _launch(self, code: str, port: int, labels: dict[str, str]) -> Launch:
		exp = labels["experiment"]
		argv = [sys.executable, "-c", code, str(ZERO), str(port), f"--experiment={exp}", f"--experiment={RUN}"]
		return Launch(argv=argv, port=port, labels=labels)

	def serving(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(SERVE, port, labels)

	def failing(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(FAIL, port, labels)

	def hanging(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(HANG, port, labels)

	def _processes(self, mark: str) -> list[psutil.Process]:
		return [
			p
			for p in psutil.process_iter(["cmdline", "status"])
			if mark in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
		]

	def running(self, labels: dict[str, str]) -> bool:
		return bool(self._processes(f"--experiment={labels['experiment']}"))

	def close(self) -> None:
		"""Whatever a failed test left (e.g. an orphan a broken sweep kept): every contract engine of this run."""
		for p in self._processes(f"--experiment={RUN}"):
			p.kill()

	def orphan(self, labels: dict[str, str], tmp_path: Path) -> None:
		launch = self.serving(free_port(), labels)
		_kill_9_tuner("inference_autotuner.deploy.local", "LocalProcessDeployer", {}, launch, tmp_path / "orphan.log")


class Docker(Place):
	name = "docker"

	def __init__(self, image: str) -> None:
		from inference_autotuner.deploy.docker import connect

		self.image = image
		self.client = connect(timeout=5)

	def deployer(self) -> Deployer:
		from inference_autotuner.deploy.docker import DockerDeployer

		return DockerDeployer("llamacpp", image=self.image)

	def _launch(self, code: str, port: int, labels: dict[str, str]) -> Launch:
		argv = ["python3", "-c", code, "/zero_server.py", str(port)]
		return Launch(argv=argv, port=port, labels=labels, mounts={str(ZERO): "/zero_server.py"})

	def serving(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(SERVE, port, labels)

	def failing(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(FAIL, port, labels)

	def hanging(self, port: int, labels: dict[str, str]) -> Launch:
		return self._launch(HANG, port, labels)

	def running(self, labels: dict[str, str]) -> bool:
		filters = {"label": [f"autotuner.experiment={labels['experiment']}", "autotuner.managed=true"]}
		return bool(self.client.containers.list(all=True, filters=filters))

	def close(self) -> None:
		"""Whatever a failed test left: every container of this run's contract task."""
		for c in self.client.containers.list(all=True, filters={"label": [f"autotuner.task=contract-{RUN}"]}):
			c.remove(force=True)

	def orphan(self, labels: dict[str, str], tmp_path: Path) -> None:
		launch = self.serving(free_port(), labels)
		kwargs = {"engine": "llamacpp", "image": self.image}
		_kill_9_tuner("inference_autotuner.deploy.docker", "DockerDeployer", kwargs, launch, tmp_path / "orphan.log")


class ServingForwarder:
	"""Port-forward double: the "pod" is a real zero_server started on the experiment's local port."""

	def __init__(self) -> None:
		self.servers: list[subprocess.Popen[bytes]] = []

	def reserve(self, local: int) -> None:
		from inference_autotuner.deploy.ports import ensure_port_free

		ensure_port_free(local, why="the port-forward to the engine pod listens there")

	def open(self, namespace: str, pod: str, local: int, remote: int) -> Any:
		server = subprocess.Popen([sys.executable, str(ZERO), "--port", str(local)], stdout=subprocess.DEVNULL)
		self.servers.append(server)
		return server

	def close(self, handle: Any) -> None:
		handle.terminate()
		handle.wait(10)


class Kubernetes(Place):
	name = "kubernetes"

	def __init__(self) -> None:
		from k8s_double import FakeKubernetesAPI, pod

		self.api = FakeKubernetesAPI()
		self.pod = pod
		self.forwarder = ServingForwarder()

	def deployer(self, owner: psutil.Process | None = None) -> Deployer:
		from inference_autotuner.deploy.k8s.controller import Controller
		from inference_autotuner.deploy.k8s.manifests import K8sTarget
		from inference_autotuner.deploy.kubernetes import KubernetesDeployer

		ctl = Controller(self.api, self.api, self.api, poll=0.05)  # real clock: cancel waits on the event
		target = K8sTarget(engine="vllm", image="vllm/vllm-openai:v0", namespace="ns", model_ref="org/m")
		d = KubernetesDeployer(target, controller=ctl, forwarder=self.forwarder, health_poll=0.05)
		if owner is not None:
			d.owner_pid, d.owner_start = owner.pid, str(int(started(owner) * 100))
		return d

	def _launch(self, port: int, labels: dict[str, str]) -> Launch:
		return Launch(argv=["vllm", "serve", "/models/m"], port=port, world_size=1, labels=labels)

	def serving(self, port: int, labels: dict[str, str]) -> Launch:
		self.api.ready_after, self.api.pod_states = 1, [[self.pod()]]
		self.api.logs = f"{SAYS}\nINFO: Uvicorn running"
		return self._launch(port, labels)

	def failing(self, port: int, labels: dict[str, str]) -> Launch:
		self.api.ready_after = 10**9
		self.api.pod_states = [[self.pod()], [self.pod(waiting="CrashLoopBackOff", restarts=3, exit=2)]]
		self.api.logs = f"loading the model\n{LAST}"
		return self._launch(port, labels)

	def hanging(self, port: int, labels: dict[str, str]) -> Launch:
		self.api.ready_after, self.api.pod_states = 10**9, [[self.pod(phase="Pending")]]
		return self._launch(port, labels)

	def running(self, labels: dict[str, str]) -> bool:
		mark = labels["experiment"]
		with self.api._lock:  # the deployer may be applying or deleting in another thread
			kept = list(self.api.objects.values())
		return any((obj.get("metadata") or {}).get("labels", {}).get("autotuner.io/experiment") == mark for obj in kept)

	def orphan(self, labels: dict[str, str], tmp_path: Path) -> None:
		tuner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
		owner = psutil.Process(tuner.pid)
		owner.create_time()
		dead = self.deployer(owner=owner)
		dead.start(self.serving(free_port(), labels), log_path=tmp_path / "orphan.log", timeout=30)
		tuner.kill()  # its tuner is gone; the pod's forward ends with it
		tuner.wait()
		for server in self.forwarder.servers:
			server.terminate()

	def close(self) -> None:
		for server in self.forwarder.servers:
			if server.poll() is None:
				server.kill()
				server.wait()


@pytest.fixture(params=["local", "docker", "kubernetes"])
def place(request: pytest.FixtureRequest) -> Iterator[Place]:
	chosen: Place
	if request.param == "local":
		chosen = Local()
	elif request.param == "docker":
		chosen = Docker(request.getfixturevalue("docker_image"))
	else:
		pytest.importorskip("kubernetes", reason="the kubernetes extra is not installed (pip install '.[kubernetes]')")
		chosen = Kubernetes()
	try:
		yield chosen
	finally:
		chosen.close()


def _labels() -> dict[str, str]:
	return {"task": f"contract-{RUN}", "experiment": f"{RUN}{uuid.uuid4().hex[:8]}"}


def test_start_health_logs_stop(place: Place, tmp_path: Path) -> None:
	d, labels, log = place.deployer(), _labels(), tmp_path / "exp.log"
	dep = d.start(place.serving(free_port(), labels), log_path=log, timeout=60)
	try:
		assert httpx.get(dep.base_url + "/health", timeout=5).status_code == 200
		assert place.running(labels) and d.exit_code(dep) is None, "running, not exited"
	finally:
		d.stop(dep)
	assert not place.running(labels), "stop left the engine running"
	d.stop(dep)  # twice is harmless
	assert SAYS in log.read_text(), "the experiment log keeps the engine's output"


def test_cancel_ends_a_start_in_progress(place: Place, tmp_path: Path) -> None:
	d, labels, log = place.deployer(), _labels(), tmp_path / "exp.log"
	cancel = threading.Event()
	d.bind_cancel(cancel)
	errors: list[BaseException] = []

	def start() -> None:
		try:
			d.start(place.hanging(free_port(), labels), log_path=log, timeout=300)
		except BaseException as exc:  # noqa: BLE001 - the assertion below reads it
			errors.append(exc)

	worker = threading.Thread(target=start)
	worker.start()
	while worker.is_alive() and not place.running(labels):  # cancel once the engine is on its way
		worker.join(0.05)
	cancel.set()
	worker.join(120)
	assert not worker.is_alive() and len(errors) == 1 and isinstance(errors[0], CancelledError), errors
	assert not place.running(labels), "a cancelled start left the engine running"


def test_sweep_after_kill_9_of_the_tuner(place: Place, tmp_path: Path) -> None:
	orphaned, mine = _labels(), _labels()
	place.orphan(orphaned, tmp_path)
	assert place.running(orphaned), "the engine outlives its killed tuner (why the sweep exists)"
	d = place.deployer()
	dep = d.start(place.serving(free_port(), mine), log_path=tmp_path / "mine.log", timeout=60)
	try:
		assert place.deployer().sweep() >= 1, "the next tuner's sweep finds the orphan"
		assert not place.running(orphaned), "and stops it"
		assert place.running(mine), "a live tuner's engine is kept"
	finally:
		d.stop(dep)


def test_port_clash_is_refused_before_anything_starts(place: Place, tmp_path: Path) -> None:
	import socket

	labels = _labels()
	with socket.socket() as taken:
		taken.bind(("127.0.0.1", 0))
		taken.listen()
		port = taken.getsockname()[1]
		with pytest.raises(EngineStartError, match=f"port {port} is already in use"):
			place.deployer().start(place.serving(port, labels), log_path=tmp_path / "exp.log", timeout=60)
	assert not place.running(labels)


def test_failed_start_reports_the_engines_last_lines(place: Place, tmp_path: Path) -> None:
	labels = _labels()
	with pytest.raises(EngineStartError) as info:
		place.deployer().start(place.failing(free_port(), labels), log_path=tmp_path / "exp.log", timeout=60)
	assert LAST in str(info.value), f"the error quotes the engine's last line: {info.value}"
	assert not place.running(labels), "a failed start left something running"
