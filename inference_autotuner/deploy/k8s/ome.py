"""OME resources as Python data: InferenceService per experiment, ClusterServingRuntime / ClusterBaseModel, BenchmarkJob.

The InferenceService's `engine.runner` carries the whole engine argv (command = the image's program, args = model,
host, port and EVERY tuned flag) and GPU requests = limits = the experiment's world size, so whatever runtime OME picks,
the engine runs exactly the measured configuration (the seed's OME mode dropped the tuned flags).

ClusterServingRuntime and ClusterBaseModel are cluster-wide and shared: they are referenced by name and reused when
present; they are created only when the spec asks (`clusterservingruntime_config` / `clusterbasemodel_config` with a
`preset` or a spec section). Schemas: OME's CRDs (ome.io/v1beta1, sgl-project/ome `config/crd/full/`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import DeployError
from ..docker import ENGINE_IMAGES
from .manifests import K8sTarget, container, dns_name, volumes

GROUP = "ome.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
MODEL_PATH = "$(MODEL_PATH)"  # OME sets MODEL_PATH in the engine pod to where the base model is mounted
RUNNER = "ome-container"
ISVC_LABEL = "ome.io/inferenceservice"  # OME labels the pods of an InferenceService with its name

# kind -> (plural, namespaced)
KINDS: dict[str, tuple[str, bool]] = {
	"InferenceService": ("inferenceservices", True),
	"ClusterServingRuntime": ("clusterservingruntimes", False),
	"ClusterBaseModel": ("clusterbasemodels", False),
	"BenchmarkJob": ("benchmarkjobs", True),
}

# ClusterServingRuntime presets: one per engine; the image comes from the spec (runtime_image) or the engine default
RUNTIME_PRESETS: dict[str, dict[str, Any]] = {
	"vllm": {"model_flag": None, "formats": [("safetensors", "transformers")]},
	"sglang": {"model_flag": "--model-path", "formats": [("safetensors", "transformers")]},
	"trtllm": {"model_flag": None, "formats": [("safetensors", "transformers")]},
}
BENCH_ENGINES = {"vllm": "vLLM", "sglang": "SGLang"}  # serviceMetadata.engine enum
BENCH_GPUS = ("H100", "A100", "MI300", "A10")  # serviceMetadata.gpuType enum


def pod_model(target: K8sTarget) -> str:
	"""The model argument in an OME engine pod: the spec's model_path, else OME's $(MODEL_PATH)."""
	return target.model_path or MODEL_PATH


def inference_service(
	target: K8sTarget,
	name: str,
	argv: list[str],
	world_size: int,
	labels: dict[str, str],
	*,
	base_model: str,
	runtime: str | None = None,
	config_map: str | None = None,
) -> dict[str, Any]:
	"""One experiment's InferenceService: the base model, the runtime (or OME's choice), the full engine argv."""
	omeless = K8sTarget(**{**target.__dict__, "model_pvc": None})  # OME mounts the base model itself
	runner = container(omeless, argv, world_size, config_map=config_map)
	runner["name"] = RUNNER
	engine: dict[str, Any] = {"minReplicas": 1, "maxReplicas": 1, "labels": dict(labels), "runner": runner}
	vols = volumes(omeless, config_map=config_map)
	if vols:
		engine["volumes"] = vols
	if target.node_selector:
		engine["nodeSelector"] = dict(target.node_selector)
	if target.tolerations:
		engine["tolerations"] = [dict(t) for t in target.tolerations]
	if target.service_account:
		engine["serviceAccountName"] = target.service_account
	if target.image_pull_secrets:
		engine["imagePullSecrets"] = [{"name": s} for s in target.image_pull_secrets]
	spec: dict[str, Any] = {"model": {"name": base_model}, "engine": engine}
	if runtime:
		spec["runtime"] = {"name": runtime}
	return {
		"apiVersion": API_VERSION,
		"kind": "InferenceService",
		"metadata": {"name": name, "namespace": target.namespace, "labels": dict(labels)},
		"spec": spec,
	}


@dataclass
class ClusterResource:
	"""A cluster-wide OME resource an experiment refers to: its name, and the manifest when the spec asks to create it."""

	kind: str
	name: str
	manifest: dict[str, Any] | None = None  # None: reuse an existing one (it must be there)


def _section(config: dict[str, Any]) -> dict[str, Any]:
	if "spec" in config:
		return dict(config["spec"] or {})
	return {k: v for k, v in config.items() if k not in ("name", "preset", "create")}


def serving_runtime(target: K8sTarget, config: dict[str, Any] | None) -> ClusterResource | None:
	"""The ClusterServingRuntime to use: None (OME selects one), a name to reuse, or one to create (preset / section)."""
	if not config:
		return ClusterResource("ClusterServingRuntime", target.runtime) if target.runtime else None
	preset = config.get("preset")
	name = dns_name(str(config.get("name") or target.runtime or f"autotuner-{target.engine}"))
	section = _section(config)
	if preset is None and not section:
		return ClusterResource("ClusterServingRuntime", name)
	spec: dict[str, Any] = {}
	if preset is not None:
		key = target.engine if preset is True or preset == "default" else str(preset)
		if key not in RUNTIME_PRESETS:
			if section:
				raise DeployError(
					f"unknown ClusterServingRuntime preset '{preset}'",
					hint=f"clusterservingruntime_config.preset: one of {', '.join(RUNTIME_PRESETS)}, or a runtime's name",
				)
			# the seed's files name a runtime set up in the cluster (e.g. 'sglang-llama-small'): reuse it by that
			# name; preflight says clearly when the cluster has no such ClusterServingRuntime
			return ClusterResource("ClusterServingRuntime", dns_name(str(preset)))
		spec = runtime_preset(target, key)
	spec.update(section)
	meta = {"name": name, "labels": {"app.kubernetes.io/created-by": "inference-autotuner"}}
	return ClusterResource(
		"ClusterServingRuntime",
		name,
		{"apiVersion": API_VERSION, "kind": "ClusterServingRuntime", "metadata": meta, "spec": spec},
	)


def runtime_preset(target: K8sTarget, engine: str) -> dict[str, Any]:
	"""A ClusterServingRuntime spec that starts `engine` on the model OME mounts (one GPU; experiments override)."""
	preset = RUNTIME_PRESETS[engine]
	program = list(ENGINE_IMAGES[engine].program)
	model = [preset["model_flag"], MODEL_PATH] if preset["model_flag"] else [MODEL_PATH]
	args = [*model, "--host", "0.0.0.0", "--port", str(target.port)]
	runtime_target = K8sTarget(**{**target.__dict__, "model_pvc": None, "env": {}, "hf_token_secret": None})
	runner = container(runtime_target, [*program, *args], 1)
	runner["name"] = RUNNER
	formats = [
		{"modelFormat": {"name": fmt}, "modelFramework": {"name": fw}, "autoSelect": False, "priority": 1}
		for fmt, fw in preset["formats"]
	]
	spec: dict[str, Any] = {
		"disabled": False,
		"supportedModelFormats": formats,
		"protocolVersions": ["openAI"],
		"engineConfig": {"runner": runner},
	}
	vols = volumes(runtime_target)
	if vols:
		spec["engineConfig"]["volumes"] = vols
	return spec


def base_model(target: K8sTarget, config: dict[str, Any] | None) -> ClusterResource:
	"""The ClusterBaseModel to serve: reused by name, or created from the model id / PVC (preset) or a spec section."""
	default = target.base_model or dns_name(target.model_ref.rsplit("/", 1)[-1] or "model")
	config = config or {}
	name = dns_name(str(config.get("name") or default))
	section = _section(config)
	preset = config.get("preset")
	if preset is None and not section:
		return ClusterResource("ClusterBaseModel", name)
	spec: dict[str, Any] = {}
	if preset is not None:
		if preset not in (True, "default", "hf", "pvc") and not section:
			# the seed's files name a base model set up in the cluster: reuse it by that name (preflight checks it)
			return ClusterResource("ClusterBaseModel", dns_name(str(preset)))
		if preset not in (True, "default", "hf", "pvc"):
			raise DeployError(
				f"unknown ClusterBaseModel preset '{preset}'",
				hint="clusterbasemodel_config.preset: hf (Hugging Face id) or pvc (the kubernetes.model_pvc), or a spec",
			)
		spec = base_model_preset(target, "pvc" if preset == "pvc" or (preset != "hf" and target.model_pvc) else "hf")
	spec.update(section)
	if "storage" not in spec:
		raise DeployError(
			"clusterbasemodel_config needs a storage section (storageUri) or a preset",
			hint="add clusterbasemodel_config.preset: hf, or storage: {storageUri: hf://ORG/NAME}",
		)
	meta = {"name": name, "labels": {"app.kubernetes.io/created-by": "inference-autotuner"}}
	return ClusterResource(
		"ClusterBaseModel",
		name,
		{"apiVersion": API_VERSION, "kind": "ClusterBaseModel", "metadata": meta, "spec": spec},
	)


def base_model_preset(target: K8sTarget, kind: str) -> dict[str, Any]:
	if kind == "pvc":
		if not target.model_pvc:
			raise DeployError(
				"clusterbasemodel_config preset 'pvc' needs kubernetes.model_pvc", hint="set kubernetes.model_pvc"
			)
		uri = f"pvc://{target.model_pvc}" + (f"/{target.model_subpath.strip('/')}" if target.model_subpath else "")
	else:
		uri = f"hf://{target.model_ref}"
	storage: dict[str, Any] = {"storageUri": uri}
	if target.node_selector:
		storage["nodeSelector"] = dict(target.node_selector)
	return {
		"disabled": False,
		"displayName": target.model_ref,
		"modelFormat": {"name": "safetensors"},
		"modelFramework": {"name": "transformers"},
		"storage": storage,
	}


def benchmark_job(
	target: K8sTarget,
	name: str,
	isvc: str,
	benchmark: Any,
	labels: dict[str, str],
	*,
	output_uri: str,
	world_size: int = 1,
	gpu: str | None = None,
	image: str | None = None,
) -> dict[str, Any]:
	"""An in-cluster genai-bench run against an InferenceService. maxTimePerIteration is in MINUTES (genai-bench):
	the spec's seconds are rounded up, never passed through as minutes."""
	spec: dict[str, Any] = {
		"endpoint": {"inferenceService": {"name": isvc, "namespace": target.namespace}},
		"task": benchmark.task,
		"trafficScenarios": list(benchmark.traffic_scenarios),
		"numConcurrency": sorted(set(benchmark.num_concurrency)),
		"maxTimePerIteration": max(1, math.ceil(float(benchmark.max_time_per_iteration) / 60.0)),
		"maxRequestsPerIteration": int(benchmark.max_requests_per_iteration),
		"outputLocation": {"storageUri": output_uri},
		"resultFolderName": name,
	}
	if benchmark.additional_params:
		spec["additionalRequestParams"] = {k: str(v) for k, v in benchmark.additional_params.items()}
	if target.hf_token_secret:
		spec["huggingFaceSecretReference"] = {"name": target.hf_token_secret}
	if image:
		spec["podOverride"] = {"image": image}
	gpu_type = (gpu or "").upper()
	if target.engine in BENCH_ENGINES and gpu_type in BENCH_GPUS:
		spec["serviceMetadata"] = {
			"engine": BENCH_ENGINES[target.engine],
			"version": target.image.rsplit(":", 1)[-1],
			"gpuType": gpu_type,
			"gpuCount": world_size,
		}
	return {
		"apiVersion": API_VERSION,
		"kind": "BenchmarkJob",
		"metadata": {"name": name, "namespace": target.namespace, "labels": dict(labels)},
		"spec": spec,
	}
