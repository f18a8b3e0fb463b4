"""The Kubernetes controller and deployer against a TEST DOUBLE of the Kubernetes API (no API server runs here).

`FakeKubernetesAPI` (tests/k8s_double.py) is a test double of the three kubernetes-client APIs the controller uses
(CoreV1Api, AppsV1Api, CustomObjectsApi): it records every call and answers from scripted state. The engine's health check goes to a real
local HTTP server (the port-forward is replaced by a double that points at it). Not a live cluster.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra is not installed (pip install '.[kubernetes]')")

from k8s_double import FakeClock, FakeForwarder, FakeKubernetesAPI, pod  # noqa: E402

from inference_autotuner.deploy.base import Launch  # noqa: E402
from inference_autotuner.deploy.k8s.controller import Controller  # noqa: E402
from inference_autotuner.deploy.k8s.manifests import K8sTarget  # noqa: E402
from inference_autotuner.deploy.kubernetes import KubernetesDeployer, _start_time  # noqa: E402
from inference_autotuner.deploy.ports import free_port  # noqa: E402
from inference_autotuner.errors import CancelledError, DeployError, EngineStartError  # noqa: E402


@pytest.fixture
def health_port() -> Iterator[int]:
	class H(http.server.BaseHTTPRequestHandler):
		def do_GET(self) -> None:  # noqa: N802
			self.send_response(200 if self.path == "/health" else 404)
			self.end_headers()

		def log_message(self, *a: Any) -> None:
			pass

	srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
	threading.Thread(target=srv.serve_forever, daemon=True).start()
	yield srv.server_address[1]
	srv.shutdown()


def make(
	mode: str = "kubernetes", **target: Any
) -> tuple[KubernetesDeployer, FakeKubernetesAPI, FakeForwarder, FakeClock]:
	api, clock, fwd = FakeKubernetesAPI(), FakeClock(), FakeForwarder()
	ctl = Controller(api, api, api, sleep=clock.sleep, now=clock.now, poll=2.0)
	t = K8sTarget(engine="vllm", image="vllm/vllm-openai:v0", namespace="ns", model_ref="org/m", **target)
	return KubernetesDeployer(t, mode=mode, controller=ctl, forwarder=fwd, health_poll=0.01), api, fwd, clock


ARGV = ["vllm", "serve", "org/m", "--host", "0.0.0.0", "--port", "8080", "--max-num-seqs", "64"]
LABELS = {"task": "7", "experiment": "3"}
NO_ENGINE = free_port()  # a free local port for starts that never reach the engine (the port-forward checks it)


def start(d: KubernetesDeployer, port: int, tmp_path: Path, timeout: float = 60) -> Any:
	launch = Launch(argv=ARGV, port=port, world_size=2, labels=LABELS)
	return d.start(launch, log_path=tmp_path / "exp.log", timeout=timeout)


def test_start_applies_waits_forwards_and_stop_collects_logs_and_deletes(health_port: int, tmp_path: Path) -> None:
	d, api, fwd, _ = make()
	api.pod_states = [[pod()]]
	dep = start(d, health_port, tmp_path)
	name = f"autotuner-7-3-{health_port}"
	assert dep.base_url == f"http://127.0.0.1:{health_port}"
	assert api.calls == [
		("create_namespaced_deployment", "ns", name),
		("create_namespaced_service", "ns", name),
		("list_namespaced_pod", "ns", f"autotuner.io/deployment={name}"),
		("read_namespaced_deployment", name, "ns"),
	]
	assert fwd.opened == [("ns", "p1", health_port, 8080)]
	body = api.objects[("Deployment", name)]
	container = body["spec"]["template"]["spec"]["containers"][0]
	assert container["command"] == ["vllm", "serve"] and container["args"][-2:] == ["--max-num-seqs", "64"]
	assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
	assert body["metadata"]["labels"]["autotuner.io/managed"] == "true"
	api.calls.clear()
	d.stop(dep)
	d.stop(dep)  # safe twice
	bg = {"propagation_policy": "Background"}
	assert api.calls == [
		("list_namespaced_pod", "ns", f"autotuner.io/deployment={name}"),
		("read_namespaced_pod_log", "p1", "ns", {"previous": False}),
		("delete_namespaced_service", name, "ns", bg),
		("delete_namespaced_deployment", name, "ns", bg),
	]
	assert fwd.closed == 1
	text = (tmp_path / "exp.log").read_text()
	assert "kind: Deployment" in text and "# logs of pod p1" in text and "CUDA out of memory" in text


def test_image_pull_error_fails_at_once_and_cleans_up(tmp_path: Path) -> None:
	d, api, fwd, _ = make()
	api.ready_after = 99
	api.pod_states = [[pod(phase="Pending", waiting="ImagePullBackOff", message='pull access denied for "vllm"')]]
	with pytest.raises(EngineStartError, match=r"cannot pull image vllm/vllm-openai:v0 \(ImagePullBackOff"):
		start(d, NO_ENGINE, tmp_path)
	assert not api.objects  # Deployment and Service deleted
	assert fwd.opened == []


def test_crash_loop_reports_the_last_log_lines(tmp_path: Path) -> None:
	d, api, _, _ = make()
	api.ready_after = 99
	api.pod_states = [[pod()], [pod(waiting="CrashLoopBackOff", restarts=3, exit=1)]]
	with pytest.raises(EngineStartError) as info:
		start(d, NO_ENGINE, tmp_path)
	msg = info.value.message
	assert "CrashLoopBackOff (restarts: 3, exit code 1)" in msg and "CUDA out of memory" in msg
	assert ("read_namespaced_pod_log", "p1", "ns", {"previous": True, "tail_lines": 20}) in api.calls
	assert not api.objects


def test_unschedulable_fails_after_its_own_timeout(tmp_path: Path) -> None:
	d, api, _, clock = make(unschedulable_timeout=30)
	api.ready_after = 10**6
	api.pod_states = [[pod(phase="Pending", unschedulable=True)]]
	with pytest.raises(EngineStartError, match="Insufficient nvidia.com/gpu.*unschedulable for 30 s") as info:
		start(d, NO_ENGINE, tmp_path, timeout=600)
	assert "node_selector" in (info.value.hint or "")
	assert clock.t == 30  # not the 600 s startup timeout
	assert not api.objects


def test_timeout_names_the_pod_state(tmp_path: Path) -> None:
	d, api, _, clock = make()
	api.ready_after = 10**6
	api.pod_states = [[pod(phase="Running")]]
	with pytest.raises(
		EngineStartError, match=rf"Deployment autotuner-7-3-{NO_ENGINE} not ready after 20 s: p1: Running running"
	):
		start(d, NO_ENGINE, tmp_path, timeout=20)
	assert clock.t == 20
	assert not api.objects


def test_leftover_of_the_same_name_is_patched(health_port: int, tmp_path: Path) -> None:
	d, api, _, _ = make()
	api.pod_states = [[pod()]]
	api.conflict = True
	start(d, health_port, tmp_path)
	name = f"autotuner-7-3-{health_port}"
	assert api.calls[:4] == [
		("create_namespaced_deployment", "ns", name),
		("patch_namespaced_deployment", name, "ns"),
		("create_namespaced_service", "ns", name),
		("patch_namespaced_service", name, "ns"),
	]


def test_cancel_deletes_within_seconds(tmp_path: Path) -> None:
	api, fwd = FakeKubernetesAPI(), FakeForwarder()
	api.ready_after = 10**9
	api.pod_states = [[pod(phase="Pending")]]
	ctl = Controller(api, api, api, poll=0.2)  # real clock and sleep
	t = K8sTarget(engine="vllm", image="i", namespace="ns", model_ref="org/m")
	d = KubernetesDeployer(t, controller=ctl, forwarder=fwd)
	cancel = threading.Event()
	d.bind_cancel(cancel)
	errors: list[BaseException] = []

	def run() -> None:
		try:
			start(d, NO_ENGINE, tmp_path, timeout=600)
		except BaseException as exc:
			errors.append(exc)

	th = threading.Thread(target=run)
	th.start()
	while ("Deployment", f"autotuner-7-3-{NO_ENGINE}") not in api.objects:
		time.sleep(0.01)
	t0 = time.monotonic()
	d.cancel()
	th.join(timeout=10)
	assert not th.is_alive() and time.monotonic() - t0 < 5
	assert isinstance(errors[0], CancelledError)
	assert not api.objects
	zero = {"propagation_policy": "Background", "grace_period_seconds": 0}
	assert ("delete_namespaced_deployment", f"autotuner-7-3-{NO_ENGINE}", "ns", zero) in api.calls


def test_sweep_removes_only_leftovers_of_dead_tuners() -> None:
	d, api, _, _ = make()
	me = {"pid": str(os.getpid()), "start": _start_time(os.getpid())}

	def obj(name: str, host: str, pid: str, start: str) -> dict[str, Any]:
		labels = {"autotuner.io/managed": "true", "autotuner.io/owner": host}
		labels |= {"autotuner.io/owner-pid": pid, "autotuner.io/owner-start": start}
		return {"metadata": {"name": name, "namespace": "ns", "labels": labels}}

	api.listed["Deployment"] = [
		obj("dead", d.owner_host, "999999", "123"),
		obj("mine", d.owner_host, me["pid"], me["start"]),
		obj("elsewhere", "other-host", "1", "1"),
	]
	api.objects[("Deployment", "dead")] = {}
	assert d.sweep() == 1
	sel = "autotuner.io/managed=true"
	assert api.calls == [
		("list_namespaced_deployment", "ns", sel),
		("delete_namespaced_deployment", "dead", "ns", {"propagation_policy": "Background", "grace_period_seconds": 0}),
		("list_namespaced_service", "ns", sel),
		("list_namespaced_config_map", "ns", sel),
	]


def test_ome_start_uses_the_inference_service(health_port: int, tmp_path: Path) -> None:
	d, api, fwd, _ = make("ome")
	api.pod_states = [[pod("isvc-engine-0")]]
	start(d, health_port, tmp_path)
	name = f"autotuner-7-3-{health_port}"
	assert api.calls == [
		("create_namespaced_custom_object", "inferenceservices", "ns", name),
		("list_namespaced_pod", "ns", f"ome.io/inferenceservice={name}"),
		("get_namespaced_custom_object", "inferenceservices", "ns", name),
	]
	runner = api.objects[("InferenceService", name)]["spec"]["engine"]["runner"]
	assert runner["args"][-2:] == ["--max-num-seqs", "64"]
	assert fwd.opened == [("ns", "isvc-engine-0", health_port, 8080)]


def test_ome_preflight_reuses_creates_or_explains() -> None:
	from inference_autotuner.deploy.k8s import ome

	d, api, _, _ = make("ome")
	d.runtime = ome.serving_runtime(d.target, {"preset": "vllm"})
	d.base_model = ome.ClusterResource("ClusterBaseModel", "llama")
	api.objects[("clusterbasemodels", "llama")] = {"metadata": {"name": "llama"}}
	d.preflight()
	assert api.calls == [
		("get_cluster_custom_object", "clusterservingruntimes", "autotuner-vllm"),
		("create_cluster_custom_object", "clusterservingruntimes", "autotuner-vllm"),
		("get_cluster_custom_object", "clusterbasemodels", "llama"),
	]
	d.base_model = ome.ClusterResource("ClusterBaseModel", "missing")
	with pytest.raises(DeployError, match="ClusterBaseModel 'missing' does not exist") as info:
		d.preflight()
	assert "clusterbasemodel_config" in (info.value.hint or "")


def test_get_deployer_picks_the_kubernetes_deployer() -> None:
	from inference_autotuner.deploy import get_deployer
	from inference_autotuner.spec.models import TaskSpec

	for mode in ("ome", "kubernetes"):
		spec = TaskSpec.model_validate(
			{"task_name": "t", "model": {"id_or_path": "org/m"}, "base_runtime": "vllm", "deployment_mode": mode}
		)
		dep = get_deployer(spec)
		assert isinstance(dep, KubernetesDeployer) and dep.mode == mode


def test_two_trtllm_experiments_at_once_keep_their_own_options(tmp_path: Path) -> None:
	"""max_parallel > 1: experiments A and B are prepared (argv, files) before either starts, then both start at once
	(two threads) on the one shared deployer; each pod gets its own TensorRT-LLM options ConfigMap. The options are
	data inside each Launch: nothing of an experiment is kept on the deployer (a shared slot once handed B's to A)."""
	import yaml

	from inference_autotuner.engines import get_engine
	from inference_autotuner.engines.trtllm import OPTIONS_KEY

	servers = []
	for _ in range(2):

		class H(http.server.BaseHTTPRequestHandler):
			def do_GET(self) -> None:  # noqa: N802
				self.send_response(200)
				self.end_headers()

			def log_message(self, *a: Any) -> None:
				pass

		srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
		threading.Thread(target=srv.serve_forever, daemon=True).start()
		servers.append(srv)
	try:
		d, api, _, _ = make()
		api.pod_states = [[pod()], [pod()]]
		engine = get_engine("trtllm")
		(port_a, port_b) = (s.server_address[1] for s in servers)
		opts_a = {"kv_cache_config": {"free_gpu_memory_fraction": 0.5}}
		opts_b = {"kv_cache_config": {"free_gpu_memory_fraction": 0.9}}
		launches = []
		for opts, port, exp in ((opts_a, port_a, "1"), (opts_b, port_b, "2")):
			params = {"tp_size": 1, OPTIONS_KEY: opts}
			argv = d.container_argv(engine, Path("org/m"), params, port=port)
			files = d.container_files(params)
			launches.append(Launch(argv=argv, port=port, files=files, labels={"task": "7", "experiment": exp}))
		deps: list[Any] = []
		errors: list[BaseException] = []
		gate = threading.Barrier(2)

		def run(launch: Launch) -> None:
			gate.wait()
			try:
				deps.append(d.start(launch, log_path=tmp_path / f"exp{launch.labels['experiment']}.log", timeout=60))
			except BaseException as exc:  # noqa: BLE001 - reported below
				errors.append(exc)

		threads = [threading.Thread(target=run, args=(launch,)) for launch in launches]
		for t in threads:
			t.start()
		for t in threads:
			t.join(60)
		assert not errors, errors
		maps = {name: obj for (kind, name), obj in api.objects.items() if kind == "ConfigMap"}
		got = {name: yaml.safe_load(next(iter(obj["data"].values()))) for name, obj in maps.items()}
		assert got == {
			f"autotuner-7-1-{port_a}-llm-api": opts_a,
			f"autotuner-7-2-{port_b}-llm-api": opts_b,
		}
		for dep in deps:
			d.stop(dep)
		assert not d.live and not [k for k in api.objects if k[0] == "ConfigMap"], "stop deleted both ConfigMaps"
	finally:
		for srv in servers:
			srv.shutdown()
