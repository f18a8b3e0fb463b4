"""A TEST DOUBLE of the Kubernetes API (no API server can run here), shared by tests/test_k8s_controller.py and the
deployer contract suite (tests/test_deployer_contract.py).

`FakeKubernetesAPI` stands in for the three kubernetes-client APIs the controller uses (CoreV1Api, AppsV1Api,
CustomObjectsApi): it records every call, keeps what is created, answers reads from scripted state and lists what it
keeps by label selector (unless a test scripts the listing). Not a live cluster.
"""

from __future__ import annotations

import threading
from typing import Any

from kubernetes.client.exceptions import ApiException


def _selected(obj: dict[str, Any], selector: str | None) -> bool:
	"""Whether `obj` matches a k=v[,k=v] label selector."""
	labels = (obj.get("metadata") or {}).get("labels") or {}
	for term in filter(None, (selector or "").split(",")):
		key, _, value = term.partition("=")
		if labels.get(key) != value:
			return False
	return True


class FakeKubernetesAPI:
	"""Test double of CoreV1Api + AppsV1Api + CustomObjectsApi: records calls, serves scripted objects."""

	def __init__(self) -> None:
		self.calls: list[tuple[Any, ...]] = []
		self.objects: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, name) -> object
		self.pod_states: list[list[dict[str, Any]]] = []  # successive answers of list_namespaced_pod
		self.ready_after = 1  # the main object reports ready on this read
		self.reads = 0
		self.logs = "line 1\nline 2\nCUDA out of memory"
		self.listed: dict[str, list[dict[str, Any]]] = {}  # scripted listings; a kind not here lists what is kept
		self.conflict = False
		self._lock = threading.Lock()  # parallel experiments share one API client

	def _list(self, kind: str, selector: str | None) -> list[dict[str, Any]]:
		if kind in self.listed:
			return self.listed[kind]
		with self._lock:
			kept = [obj for (k, _), obj in self.objects.items() if k == kind]
		return [obj for obj in kept if _selected(obj, selector)]

	# double of the three APIs: each is this object
	def __getattr__(self, name: str) -> Any:
		raise AttributeError(name)

	def _create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
		if self.conflict:
			raise ApiException(status=409, reason="AlreadyExists")
		with self._lock:
			self.objects[(kind, body["metadata"]["name"])] = body
		return body

	def _read(self, kind: str, name: str) -> dict[str, Any]:
		if (kind, name) not in self.objects:
			raise ApiException(status=404, reason="NotFound")
		self.reads += 1
		obj = dict(self.objects[(kind, name)])
		if self.reads >= self.ready_after:
			obj["status"] = {"readyReplicas": 1, "conditions": [{"type": "Ready", "status": "True"}]}
		return obj

	def _delete(self, kind: str, name: str) -> None:
		with self._lock:
			gone = self.objects.pop((kind, name), None)
		if gone is None:
			raise ApiException(status=404, reason="NotFound")

	# AppsV1Api
	def create_namespaced_deployment(self, namespace: str, body: dict[str, Any]) -> Any:
		self.calls.append(("create_namespaced_deployment", namespace, body["metadata"]["name"]))
		return self._create("Deployment", body)

	def patch_namespaced_deployment(self, name: str, namespace: str, body: dict[str, Any]) -> Any:
		self.calls.append(("patch_namespaced_deployment", name, namespace))
		self.objects[("Deployment", name)] = body

	def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
		self.calls.append(("read_namespaced_deployment", name, namespace))
		return self._read("Deployment", name)

	def delete_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> None:
		self.calls.append(("delete_namespaced_deployment", name, namespace, kw))
		self._delete("Deployment", name)

	def list_namespaced_deployment(self, namespace: str, label_selector: str) -> Any:
		self.calls.append(("list_namespaced_deployment", namespace, label_selector))
		return {"items": self._list("Deployment", label_selector)}

	# CoreV1Api
	def create_namespaced_service(self, namespace: str, body: dict[str, Any]) -> Any:
		self.calls.append(("create_namespaced_service", namespace, body["metadata"]["name"]))
		return self._create("Service", body)

	def patch_namespaced_service(self, name: str, namespace: str, body: dict[str, Any]) -> Any:
		self.calls.append(("patch_namespaced_service", name, namespace))
		self.objects[("Service", name)] = body

	def delete_namespaced_service(self, name: str, namespace: str, **kw: Any) -> None:
		self.calls.append(("delete_namespaced_service", name, namespace, kw))
		self._delete("Service", name)

	def list_namespaced_service(self, namespace: str, label_selector: str) -> Any:
		self.calls.append(("list_namespaced_service", namespace, label_selector))
		return {"items": self._list("Service", label_selector)}

	def create_namespaced_config_map(self, namespace: str, body: dict[str, Any]) -> Any:
		self.calls.append(("create_namespaced_config_map", namespace, body["metadata"]["name"]))
		return self._create("ConfigMap", body)

	def delete_namespaced_config_map(self, name: str, namespace: str, **kw: Any) -> None:
		self.calls.append(("delete_namespaced_config_map", name, namespace, kw))
		self._delete("ConfigMap", name)

	def list_namespaced_config_map(self, namespace: str, label_selector: str) -> Any:
		self.calls.append(("list_namespaced_config_map", namespace, label_selector))
		return {"items": self._list("ConfigMap", label_selector)}

	def list_namespaced_pod(self, namespace: str, label_selector: str) -> Any:
		self.calls.append(("list_namespaced_pod", namespace, label_selector))
		pods = self.pod_states.pop(0) if len(self.pod_states) > 1 else (self.pod_states or [[]])[0]
		return {"items": pods}

	def read_namespaced_pod_log(self, name: str, namespace: str, **kw: Any) -> str:
		self.calls.append(("read_namespaced_pod_log", name, namespace, kw))
		return self.logs

	# CustomObjectsApi
	def create_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, body: Any) -> Any:
		self.calls.append(("create_namespaced_custom_object", plural, ns, body["metadata"]["name"]))
		return self._create(body["kind"], body)

	def get_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, name: str) -> Any:
		self.calls.append(("get_namespaced_custom_object", plural, ns, name))
		return self._read({"inferenceservices": "InferenceService"}[plural], name)

	def delete_namespaced_custom_object(
		self, group: str, version: str, ns: str, plural: str, name: str, **kw: Any
	) -> None:
		self.calls.append(("delete_namespaced_custom_object", plural, ns, name, kw))
		self._delete({"inferenceservices": "InferenceService"}[plural], name)

	def list_namespaced_custom_object(self, group: str, version: str, ns: str, plural: str, **kw: Any) -> Any:
		self.calls.append(("list_namespaced_custom_object", plural, ns, kw.get("label_selector")))
		kind = {"inferenceservices": "InferenceService"}.get(plural, plural)
		return {"items": self.listed[plural] if plural in self.listed else self._list(kind, kw.get("label_selector"))}

	def get_cluster_custom_object(self, group: str, version: str, plural: str, name: str) -> Any:
		self.calls.append(("get_cluster_custom_object", plural, name))
		if (plural, name) not in self.objects:
			raise ApiException(status=404, reason="NotFound")
		return self.objects[(plural, name)]

	def create_cluster_custom_object(self, group: str, version: str, plural: str, body: Any) -> Any:
		self.calls.append(("create_cluster_custom_object", plural, body["metadata"]["name"]))
		self.objects[(plural, body["metadata"]["name"])] = body
		return body


def pod(name: str = "p1", phase: str = "Running", waiting: str | None = None, **extra: Any) -> dict[str, Any]:
	cs: dict[str, Any] = {"name": "engine", "image": "vllm/vllm-openai:v0", "restartCount": extra.get("restarts", 0)}
	cs["state"] = {"waiting": {"reason": waiting, "message": extra.get("message", "")}} if waiting else {"running": {}}
	if "exit" in extra:
		cs["lastState"] = {"terminated": {"exitCode": extra["exit"]}}
	status: dict[str, Any] = {"phase": phase, "containerStatuses": [cs] if phase != "Pending" or waiting else []}
	if extra.get("unschedulable"):
		msg = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
		status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}]
	return {"metadata": {"name": name}, "status": status}


class FakeClock:
	def __init__(self) -> None:
		self.t = 0.0

	def now(self) -> float:
		return self.t

	def sleep(self, s: float) -> None:
		self.t += s


class FakeForwarder:
	"""Stands in for kubectl port-forward: the 'forwarded' port is a real local HTTP server."""

	def __init__(self) -> None:
		self.opened: list[tuple[str, str, int, int]] = []
		self.closed = 0

	def reserve(self, local: int) -> None:
		return None  # the "forwarded" port is the test's own server, already listening there

	def open(self, namespace: str, pod: str, local: int, remote: int) -> str:
		self.opened.append((namespace, pod, local, remote))
		return "fwd"

	def close(self, handle: Any) -> None:
		self.closed += 1
