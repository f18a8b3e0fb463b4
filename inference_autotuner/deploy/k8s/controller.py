"""A small controller on the `kubernetes` client: apply, wait for readiness with clear reasons, logs, delete, list.

It talks to three APIs of the official client (CoreV1Api, AppsV1Api, CustomObjectsApi) and nothing else, so tests
run it against a test double of exactly those methods. Readiness failures name their cause: image pull errors and
crash loops (with the container's last log lines) fail at once; a pod the scheduler cannot place fails after
`unschedulable_timeout` with the scheduler's message; anything else fails at the timeout with the pods' state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ...errors import CancelledError, DeployError, EngineStartError
from .ome import GROUP, KINDS, VERSION

IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")
CRASH_ERRORS = ("CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError")
NAMESPACED_BUILTIN = ("Deployment", "Service", "ConfigMap")


def kubernetes_module() -> Any:
	try:
		import kubernetes
	except ImportError:
		raise DeployError(
			"deployment modes 'ome' and 'kubernetes' need the kubernetes Python client",
			hint="pip install 'inference-autotuner[kubernetes]'",
		) from None
	return kubernetes


def connect(context: str | None = None) -> Controller:
	"""A controller on the cluster of the kubeconfig (current or named context), or the in-cluster service account."""
	k8s = kubernetes_module()
	try:
		if context is None:
			try:
				k8s.config.load_incluster_config()
			except k8s.config.ConfigException:
				k8s.config.load_kube_config()
		else:
			k8s.config.load_kube_config(context=context)
	except Exception as exc:
		raise DeployError(
			f"no Kubernetes cluster configured ({type(exc).__name__}: {exc})",
			hint="set KUBECONFIG or ~/.kube/config (kubectl config current-context), or run the tuner in a pod",
		) from None
	c = k8s.client
	return Controller(c.CoreV1Api(), c.AppsV1Api(), c.CustomObjectsApi())


def _status(exc: BaseException) -> int | None:
	status = getattr(exc, "status", None)
	return status if isinstance(status, int) else None


def _as_dict(obj: Any) -> dict[str, Any]:
	if obj is None or isinstance(obj, dict):
		return obj or {}
	try:
		from kubernetes.client import ApiClient

		return ApiClient().sanitize_for_serialization(obj)
	except ImportError:  # pragma: no cover - only objects of the client reach here
		return obj.to_dict()


class Controller:
	def __init__(
		self,
		core: Any,
		apps: Any,
		custom: Any,
		*,
		sleep: Callable[[float], None] = time.sleep,
		now: Callable[[], float] = time.monotonic,
		poll: float = 2.0,
	) -> None:
		self.core, self.apps, self.custom = core, apps, custom
		self.sleep, self.now, self.poll = sleep, now, poll

	# -- create / read / delete by kind ------------------------------------------------------------------------
	def apply(self, obj: dict[str, Any]) -> None:
		"""Create `obj`; if it already exists (a leftover of the same name), patch it to this content."""
		kind, meta = obj["kind"], obj["metadata"]
		name, ns = meta["name"], meta.get("namespace")
		try:
			self._call("create", kind, name, ns, obj)
		except Exception as exc:
			if _status(exc) != 409:
				raise self._error("create", kind, name, exc) from None
			try:
				self._call("patch", kind, name, ns, obj)
			except Exception as exc2:
				raise self._error("update", kind, name, exc2) from None

	def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
		try:
			return _as_dict(self._call("read", kind, name, namespace))
		except Exception as exc:
			if _status(exc) == 404:
				return None
			raise self._error("read", kind, name, exc) from None

	def delete(self, kind: str, name: str, namespace: str | None = None, *, grace: int | None = None) -> bool:
		"""Delete (background propagation: returns at once, pods go with their owner); False if it was not there."""
		try:
			self._call("delete", kind, name, namespace, grace=grace)
			return True
		except Exception as exc:
			if _status(exc) == 404:
				return False
			raise self._error("delete", kind, name, exc) from None

	def list_kind(self, kind: str, namespace: str, selector: str) -> list[dict[str, Any]]:
		if kind == "Deployment":
			out = self.apps.list_namespaced_deployment(namespace, label_selector=selector)
		elif kind == "Service":
			out = self.core.list_namespaced_service(namespace, label_selector=selector)
		elif kind == "ConfigMap":
			out = self.core.list_namespaced_config_map(namespace, label_selector=selector)
		else:
			plural = KINDS[kind][0]
			out = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, label_selector=selector)
		return list(_as_dict(out).get("items") or [])

	def _call(self, verb: str, kind: str, name: str, ns: str | None, body: Any = None, grace: int | None = None) -> Any:
		kw: dict[str, Any] = {}
		if verb == "delete":
			kw = {"propagation_policy": "Background"}
			if grace is not None:
				kw["grace_period_seconds"] = grace
		if kind in NAMESPACED_BUILTIN:
			api = self.apps if kind == "Deployment" else self.core
			what = {"Deployment": "deployment", "Service": "service", "ConfigMap": "config_map"}[kind]
			fn = getattr(api, f"{verb}_namespaced_{what}")
			if verb == "create":
				return fn(ns, body)
			if verb == "patch":
				return fn(name, ns, body)
			return fn(name, ns, **kw)
		if kind not in KINDS:
			raise DeployError(f"unsupported kind {kind}")
		plural, namespaced = KINDS[kind]
		verb = {"read": "get"}.get(verb, verb)
		if namespaced:
			fn = getattr(self.custom, f"{verb}_namespaced_custom_object")
			if verb == "create":
				return fn(GROUP, VERSION, ns, plural, body)
			if verb == "patch":
				return fn(GROUP, VERSION, ns, plural, name, body)
			return fn(GROUP, VERSION, ns, plural, name, **kw)
		fn = getattr(self.custom, f"{verb}_cluster_custom_object")
		if verb == "create":
			return fn(GROUP, VERSION, plural, body)
		if verb == "patch":
			return fn(GROUP, VERSION, plural, name, body)
		return fn(GROUP, VERSION, plural, name, **kw)

	def _error(self, verb: str, kind: str, name: str, exc: BaseException) -> DeployError:
		status = _status(exc)
		reason = getattr(exc, "reason", None) or type(exc).__name__
		hint = "check the tuner's RBAC permissions (kubectl auth can-i)" if status in (401, 403) else None
		if status == 404 and kind in KINDS:
			hint = f"is OME installed? kubectl get crd {KINDS[kind][0]}.{GROUP}"
		return DeployError(f"could not {verb} {kind} '{name}': {status or ''} {reason}".replace("  ", " "), hint=hint)

	# -- pods ----------------------------------------------------------------------------------------------------
	def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
		return list(_as_dict(self.core.list_namespaced_pod(namespace, label_selector=selector)).get("items") or [])

	def pod_log(self, namespace: str, pod: str, *, tail: int | None = 20, previous: bool = False) -> str:
		kw: dict[str, Any] = {"previous": previous}
		if tail is not None:
			kw["tail_lines"] = tail
		try:
			text = self.core.read_namespaced_pod_log(pod, namespace, **kw)
		except Exception:
			return ""
		return text.decode(errors="replace") if isinstance(text, bytes) else str(text or "")

	def diagnose(self, namespace: str, pods: list[dict[str, Any]]) -> tuple[str | None, str | None]:
		"""(fatal reason, unschedulable reason) for the pods of one experiment."""
		unschedulable = None
		for pod in pods:
			name = pod.get("metadata", {}).get("name", "?")
			status = pod.get("status") or {}
			for cs in status.get("containerStatuses") or []:
				waiting = (cs.get("state") or {}).get("waiting") or {}
				why, msg = waiting.get("reason"), waiting.get("message") or ""
				if why in IMAGE_ERRORS:
					return f"pod {name}: cannot pull image {cs.get('image', '')} ({why}: {msg})".rstrip(), None
				if why in CRASH_ERRORS:
					logs = self.pod_log(namespace, name, previous=why == "CrashLoopBackOff")
					last = (cs.get("lastState") or {}).get("terminated") or {}
					code = f", exit code {last['exitCode']}" if "exitCode" in last else ""
					text = f"pod {name}: engine container {why} (restarts: {cs.get('restartCount', 0)}{code})"
					return f"{text}; last log lines:\n{logs.rstrip()}" if logs.strip() else text, None
			for cond in status.get("conditions") or []:
				if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
					unschedulable = f"pod {name} is Pending: {cond.get('reason', '')}: {cond.get('message', '')}"
		return None, unschedulable

	def summary(self, pods: list[dict[str, Any]]) -> str:
		if not pods:
			return "no pod was created (check the controller's events: kubectl get events)"
		parts = []
		for pod in pods:
			st = pod.get("status") or {}
			states = [next(iter((cs.get("state") or {"?": {}}).keys())) for cs in st.get("containerStatuses") or []]
			parts.append(
				f"{pod.get('metadata', {}).get('name', '?')}: {st.get('phase', '?')} {','.join(states)}".strip()
			)
		return "; ".join(parts)

	# -- readiness -----------------------------------------------------------------------------------------------
	def is_ready(self, kind: str, name: str, namespace: str) -> bool:
		obj = self.get(kind, name, namespace)
		if obj is None:
			return False
		status = obj.get("status") or {}
		if kind == "Deployment":
			return int(status.get("readyReplicas") or 0) >= 1
		return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])

	def wait_ready(
		self,
		kind: str,
		name: str,
		namespace: str,
		selector: str,
		*,
		timeout: float,
		unschedulable_timeout: float = 300.0,
		cancel: threading.Event | None = None,
	) -> list[dict[str, Any]]:
		"""Poll until `kind/name` is ready; returns its pods. EngineStartError with the cause otherwise."""
		start = self.now()
		pending_since: float | None = None
		while True:
			if cancel is not None and cancel.is_set():
				raise CancelledError("cancelled while waiting for the engine")
			pods = self.pods(namespace, selector)
			fatal, unschedulable = self.diagnose(namespace, pods)
			if fatal:
				raise EngineStartError(fatal, hint=f"kubectl -n {namespace} describe pod -l {selector}")
			if self.is_ready(kind, name, namespace):
				return pods
			elapsed = self.now() - start
			if unschedulable:
				pending_since = self.now() if pending_since is None else pending_since
				if self.now() - pending_since >= min(unschedulable_timeout, timeout):
					raise EngineStartError(
						f"{unschedulable} (unschedulable for {self.now() - pending_since:.0f} s)",
						hint="free GPUs, fix kubernetes.node_selector / tolerations, or lower the world size",
					)
			else:
				pending_since = None
			if elapsed >= timeout:
				raise EngineStartError(
					f"{kind} {name} not ready after {timeout:.0f} s: {unschedulable or self.summary(pods)}",
					hint="raise startup_timeout in the spec (large models load for minutes), or kubectl describe it",
				)
			self._wait(cancel)

	def _wait(self, cancel: threading.Event | None) -> None:
		if cancel is not None and self.sleep is time.sleep:
			cancel.wait(self.poll)
		else:
			self.sleep(self.poll)
