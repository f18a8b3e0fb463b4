"""Kubernetes manifests as Python data (dumped with yaml.safe_dump; no user value is ever pasted into a text template).

`K8sTarget` gathers what every manifest needs from a task spec: namespace, node selector, tolerations, model storage,
image, port. `pod_spec` builds the engine pod (the engine argv as command + args, GPUs = world size), shared by the
plain `Deployment` + `Service` here and the OME InferenceService in `ome.py`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...errors import DeployError
from ..docker import ENGINE_IMAGES, image_for

LABEL = "autotuner.io"  # label prefix: autotuner.io/managed=true marks everything this tool creates per experiment
MANAGED = f"{LABEL}/managed"
CONFIG_MOUNT = "/etc/autotuner"  # where a TensorRT-LLM LLM-API options file is mounted (from a ConfigMap)
CONFIG_FILE = "llm-api.yaml"


def dns_name(*parts: str, limit: int = 63) -> str:
	"""A DNS-1123 label from `parts` (lowercase, [a-z0-9-]); a hash suffix keeps long names unique."""
	raw = "-".join(p for p in parts if p)
	name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
	name = re.sub(r"-{2,}", "-", name) or "x"
	if len(name) > limit:
		digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
		name = name[: limit - 9].rstrip("-") + "-" + digest
	if not name[0].isalpha():
		name = ("a" + name)[:limit]
	return name


def label_value(value: str) -> str:
	"""A valid label value (<= 63 chars of [A-Za-z0-9-_.], alphanumeric at both ends)."""
	v = re.sub(r"[^A-Za-z0-9._-]+", "-", str(value))[:63]
	return v.strip("-_.") or "x"


@dataclass
class K8sTarget:
	"""What the manifests of one task need, resolved from its spec (`kubernetes` section, seed `storage`, model)."""

	engine: str
	image: str
	namespace: str = "default"
	model_ref: str = ""
	node_selector: dict[str, str] = field(default_factory=dict)
	tolerations: list[dict[str, Any]] = field(default_factory=list)
	model_pvc: str | None = None
	model_subpath: str | None = None
	model_mount_path: str = "/mnt/models"
	model_path: str | None = None
	port: int = 8080
	gpu_resource: str = "nvidia.com/gpu"
	gpus: bool = True
	resources: dict[str, str] = field(default_factory=dict)
	service_account: str | None = None
	image_pull_secrets: list[str] = field(default_factory=list)
	hf_token_secret: str | None = None
	env: dict[str, str] = field(default_factory=dict)
	access: str = "port-forward"
	runtime: str | None = None
	base_model: str | None = None
	context: str | None = None
	unschedulable_timeout: float = 300.0
	health_path: str = "/health"

	@classmethod
	def from_spec(cls, spec: Any) -> K8sTarget:
		k = spec.kubernetes
		storage = dict(spec.storage or {})  # seed shape: {pvc_name, sub_path, mount_path} (also pvc / subpath)
		engine = spec.base_runtime
		defaults = ENGINE_IMAGES.get(engine)
		target = cls(
			engine=engine,
			image=image_for(engine, spec.runtime_image, spec.runtime_image_tag),
			namespace=(k.namespace if k and k.namespace else None) or spec.model.namespace or "default",
			model_ref=spec.model.ref,
			gpus=defaults.gpus if defaults else True,
			env=dict(spec.env),
			model_pvc=storage.get("pvc_name") or storage.get("pvc"),
			model_subpath=storage.get("sub_path") or storage.get("subpath"),
			model_mount_path=storage.get("mount_path") or "/mnt/models",
		)
		from ...engines import get_engine

		target.health_path = get_engine(engine).health_path
		if k is not None:
			target.node_selector = dict(k.node_selector)
			target.tolerations = [dict(t) for t in k.tolerations]
			target.model_pvc = k.model_pvc or target.model_pvc
			target.model_subpath = k.model_subpath or target.model_subpath
			if "model_mount_path" in k.model_fields_set or not storage.get("mount_path"):
				target.model_mount_path = k.model_mount_path
			target.model_path = k.model_path
			target.port = k.container_port
			target.access = k.access
			target.gpu_resource = k.gpu_resource
			target.resources = dict(k.resources)
			target.service_account = k.service_account
			target.image_pull_secrets = list(k.image_pull_secrets)
			target.hf_token_secret = k.hf_token_secret
			target.runtime = k.runtime
			target.base_model = k.base_model
			target.context = k.context
			target.unschedulable_timeout = k.unschedulable_timeout
		return target

	def pod_model_path(self) -> str:
		"""The model argument the engine gets inside the pod."""
		if self.model_path:
			return self.model_path
		return self.model_mount_path if self.model_pvc else self.model_ref


def engine_argv(target: K8sTarget, engine: Any, flags: dict[str, Any], *, model: str | None = None) -> list[str]:
	"""The engine's argv inside the pod: the image's program, the model, 0.0.0.0:port and EVERY flag in `flags`.

	A TensorRT-LLM options dict (derived LLM-API options) becomes `--config` on a file mounted from a ConfigMap."""
	from ...engines.trtllm import OPTIONS_KEY

	plain = {k: v for k, v in flags.items() if k != OPTIONS_KEY}
	model_arg = model if model is not None else target.pod_model_path()
	serve = getattr(engine, "serve_argv", engine.launch_argv)  # the engine's own CLI, not this host's launcher
	argv = serve(model_arg, plain, host="0.0.0.0", port=target.port)
	defaults = ENGINE_IMAGES.get(target.engine)
	if defaults and defaults.program:  # replace the host program (everything before the first --flag or the model)
		cut = next((i for i, a in enumerate(argv) if a.startswith("--") or a == model_arg), len(argv))
		argv = [*defaults.program, *argv[cut:]]
	if flags.get(OPTIONS_KEY):
		argv += ["--config", f"{CONFIG_MOUNT}/{CONFIG_FILE}"]
	return argv


def options_config_map(target: K8sTarget, name: str, data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
	"""A ConfigMap holding the engine's files (file name -> text; TensorRT-LLM's LLM-API options YAML), mounted at
	CONFIG_MOUNT."""
	return {
		"apiVersion": "v1",
		"kind": "ConfigMap",
		"metadata": {"name": name, "namespace": target.namespace, "labels": dict(labels)},
		"data": dict(data),
	}


def resource_labels(task: str, experiment: str, owner: str, extra: dict[str, str] | None = None) -> dict[str, str]:
	labels = {
		MANAGED: "true",
		f"{LABEL}/task": label_value(task),
		f"{LABEL}/experiment": label_value(experiment),
		f"{LABEL}/owner": label_value(owner),
	}
	labels.update({k: label_value(v) for k, v in (extra or {}).items()})
	return labels


def container(target: K8sTarget, argv: list[str], world_size: int, *, config_map: str | None = None) -> dict[str, Any]:
	"""The engine container: argv split into command (program) and args (model, host, port, every tuned flag)."""
	if not argv:
		raise DeployError("empty engine argv")
	defaults = ENGINE_IMAGES.get(target.engine)
	program = list(defaults.program) if defaults else []
	split = len(program) if program and argv[: len(program)] == program else 1
	limits: dict[str, str] = dict(target.resources)
	if target.gpus and world_size > 0:
		limits[target.gpu_resource] = str(world_size)
	env: list[dict[str, Any]] = [{"name": k, "value": str(v)} for k, v in sorted(target.env.items())]
	if target.hf_token_secret:
		ref = {"name": target.hf_token_secret, "key": "HF_TOKEN", "optional": True}
		env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": ref}})
	mounts: list[dict[str, Any]] = []
	if target.model_pvc:
		mount = {"name": "model", "mountPath": target.model_mount_path, "readOnly": True}
		if target.model_subpath:
			mount["subPath"] = target.model_subpath
		mounts.append(mount)
	if target.gpus:
		mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
	if config_map:
		mounts.append({"name": "llm-api-options", "mountPath": CONFIG_MOUNT, "readOnly": True})
	c: dict[str, Any] = {
		"name": "engine",
		"image": target.image,
		"command": list(argv[:split]),
		"args": list(argv[split:]),
		"ports": [{"name": "http", "containerPort": target.port, "protocol": "TCP"}],
		"readinessProbe": {
			"httpGet": {"path": target.health_path, "port": target.port},
			"periodSeconds": 5,
			"failureThreshold": 3,
		},
	}
	if limits:
		c["resources"] = {"requests": dict(limits), "limits": dict(limits)}
	if env:
		c["env"] = env
	if mounts:
		c["volumeMounts"] = mounts
	return c


def volumes(target: K8sTarget, *, config_map: str | None = None) -> list[dict[str, Any]]:
	out: list[dict[str, Any]] = []
	if target.model_pvc:
		out.append({"name": "model", "persistentVolumeClaim": {"claimName": target.model_pvc, "readOnly": True}})
	if target.gpus:
		out.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
	if config_map:
		out.append({"name": "llm-api-options", "configMap": {"name": config_map}})
	return out


def pod_spec(target: K8sTarget, argv: list[str], world_size: int, *, config_map: str | None = None) -> dict[str, Any]:
	c = container(target, argv, world_size, config_map=config_map)
	pod: dict[str, Any] = {"containers": [c], "restartPolicy": "Always"}
	vols = volumes(target, config_map=config_map)
	if vols:
		pod["volumes"] = vols
	if target.node_selector:
		pod["nodeSelector"] = dict(target.node_selector)
	if target.tolerations:
		pod["tolerations"] = [dict(t) for t in target.tolerations]
	if target.service_account:
		pod["serviceAccountName"] = target.service_account
	if target.image_pull_secrets:
		pod["imagePullSecrets"] = [{"name": s} for s in target.image_pull_secrets]
	return pod


def deployment(
	target: K8sTarget,
	name: str,
	argv: list[str],
	world_size: int,
	labels: dict[str, str],
	*,
	config_map: str | None = None,
) -> dict[str, Any]:
	"""A one-replica Deployment running the engine argv (plain `kubernetes` mode)."""
	selector = {f"{LABEL}/deployment": name}
	pod_labels = {**labels, **selector}
	return {
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {"name": name, "namespace": target.namespace, "labels": dict(labels)},
		"spec": {
			"replicas": 1,
			"selector": {"matchLabels": selector},
			"strategy": {"type": "Recreate"},
			"template": {
				"metadata": {"labels": pod_labels},
				"spec": pod_spec(target, argv, world_size, config_map=config_map),
			},
		},
	}


def service(target: K8sTarget, name: str, labels: dict[str, str]) -> dict[str, Any]:
	"""A ClusterIP Service in front of the Deployment of the same name."""
	return {
		"apiVersion": "v1",
		"kind": "Service",
		"metadata": {"name": name, "namespace": target.namespace, "labels": dict(labels)},
		"spec": {
			"type": "ClusterIP",
			"selector": {f"{LABEL}/deployment": name},
			"ports": [{"name": "http", "port": target.port, "targetPort": target.port, "protocol": "TCP"}],
		},
	}


def dump(docs: list[dict[str, Any]]) -> str:
	"""Manifests as one multi-document YAML text."""
	return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
