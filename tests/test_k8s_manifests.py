"""Kubernetes / OME manifests: golden files, schema validation, and every tuned flag reaching the engine.

Plain manifests are checked with kubernetes-validate (strict: unknown fields fail); OME manifests against OME's real
CRD openAPIV3Schema read from ../shared/ome-crds/ (beside the repository), made strict the same way, since a cluster
silently prunes fields its schema does not know. UPDATE_GOLDEN=1 rewrites the golden files.
"""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_autotuner.deploy.k8s.manifests import CONFIG_FILE, CONFIG_MOUNT, dns_name
from inference_autotuner.deploy.k8s.render import serving_manifests
from inference_autotuner.engines import ENGINES, get_engine
from inference_autotuner.services.manifests import first_params
from inference_autotuner.spec.models import TaskSpec

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO.parent / "shared" / "ome-crds"
GOLDEN = REPO / "tests" / "data" / "k8s"
EXAMPLES = sorted((REPO / "examples").glob("ome-*.yaml")) + sorted((REPO / "examples").glob("kubernetes-*.yaml"))


def _need(module: str) -> Any:
	try:
		return __import__(module)
	except ImportError:
		pytest.skip(f"{module} is not installed (pip install 'inference-autotuner[kubernetes]')")


@functools.cache
def _crd_schema(kind: str) -> dict[str, Any]:
	plural = {
		"InferenceService": "inferenceservices",
		"ClusterServingRuntime": "clusterservingruntimes",
		"ClusterBaseModel": "clusterbasemodels",
		"BenchmarkJob": "benchmarkjobs",
	}[kind]
	path = CRDS / f"ome.io_{plural}.yaml"
	if not path.exists():
		pytest.skip(f"OME CRDs not found at {CRDS} (a copy of shared/ beside the clone)")
	crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
	version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
	return _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))


def _strict(node: Any) -> Any:
	"""Forbid fields the schema does not name (where it neither allows extra ones nor preserves unknown fields)."""
	if isinstance(node, dict):
		if (
			"properties" in node
			and "additionalProperties" not in node
			and not node.get("x-kubernetes-preserve-unknown-fields")
		):
			node["additionalProperties"] = False
		for value in node.values():
			_strict(value)
	elif isinstance(node, list):
		for value in node:
			_strict(value)
	return node


def validate(doc: dict[str, Any]) -> None:
	if doc["apiVersion"].startswith("ome.io/"):
		jsonschema = _need("jsonschema")
		validator = jsonschema.Draft7Validator(_crd_schema(doc["kind"]))
		errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
		assert not errors, f"{doc['kind']} does not match OME's CRD schema:\n" + "\n".join(errors[:10])
	else:
		kv = _need("kubernetes_validate")
		kv.validate(doc, kv.latest_version(), strict=True)


def _spec(**over: Any) -> TaskSpec:
	data: dict[str, Any] = {
		"task_name": "sglang-llama8b",
		"model": {"id_or_path": "meta-llama/Llama-3.1-8B-Instruct", "namespace": "llm"},
		"base_runtime": "sglang",
		"runtime_image_tag": "v0.5.5",
		"parameters": {"tp-size": [2], "mem-fraction-static": [0.85], "enable-mixed-chunk": [True]},
		"quant_config": {"kvcache_dtype": "fp8_e4m3"},
		"kubernetes": {
			"node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
			"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
			"model_pvc": "models",
			"model_subpath": "llama-3.1-8b",
			"model_mount_path": "/models",
			"hf_token_secret": "hf-token",
			"resources": {"cpu": "8", "memory": "64Gi"},
		},
		"clusterservingruntime_config": {"preset": "sglang"},
		"clusterbasemodel_config": {"preset": "pvc"},
		"hardware": {"gpu": "H100", "gpu_count": 8},
	}
	data.update(over)
	return TaskSpec.model_validate(data)


# -- golden + schema ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["ome", "kubernetes"])
def test_golden_and_schema(mode: str) -> None:
	spec = _spec(deployment_mode=mode)
	docs = serving_manifests(spec, first_params(spec), mode, benchmark=True)
	kinds = [d["kind"] for d in docs]
	if mode == "ome":
		assert kinds == ["ClusterServingRuntime", "ClusterBaseModel", "InferenceService", "BenchmarkJob"]
	else:
		assert kinds == ["Deployment", "Service"]
	for doc in docs:
		validate(doc)
	text = yaml.safe_dump_all(docs, sort_keys=False)
	golden = GOLDEN / f"{mode}-sglang.yaml"
	if os.environ.get("UPDATE_GOLDEN"):
		golden.parent.mkdir(parents=True, exist_ok=True)
		golden.write_text(text)
	assert text == golden.read_text(), f"{golden} differs (UPDATE_GOLDEN=1 to accept the new output)"


def test_ome_isvc_carries_argv_gpus_and_scheduling() -> None:
	spec = _spec(deployment_mode="ome")
	isvc = serving_manifests(spec, first_params(spec), "ome")[2]
	runner = isvc["spec"]["engine"]["runner"]
	assert runner["command"] == ["python3", "-m", "sglang.launch_server"]
	assert runner["args"][:2] == ["--model-path", "$(MODEL_PATH)"]  # OME mounts the base model
	assert runner["resources"]["limits"]["nvidia.com/gpu"] == "2"  # world size = tp 2
	assert runner["resources"]["requests"]["cpu"] == "8"
	assert isvc["spec"]["model"] == {"name": dns_name("llama-3.1-8b-instruct")}
	assert isvc["spec"]["runtime"] == {"name": "autotuner-sglang"}
	assert isvc["spec"]["engine"]["tolerations"][0]["key"] == "nvidia.com/gpu"
	assert isvc["metadata"]["namespace"] == "llm"
	base = serving_manifests(spec, first_params(spec), "ome")[1]
	assert base["spec"]["storage"]["storageUri"] == "pvc://models/llama-3.1-8b"


def test_plain_mounts_the_pvc_with_subpath() -> None:
	dep = serving_manifests(_spec(), first_params(_spec()), "kubernetes")[0]
	pod = dep["spec"]["template"]["spec"]
	c = pod["containers"][0]
	assert {"name": "model", "mountPath": "/models", "readOnly": True, "subPath": "llama-3.1-8b"} in c["volumeMounts"]
	assert pod["volumes"][0] == {"name": "model", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}
	assert c["args"][:2] == ["--model-path", "/models"]
	assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
	assert dep["spec"]["selector"]["matchLabels"] == {"autotuner.io/deployment": "sglang-llama8b"}


def test_benchmark_job_time_is_minutes_rounded_up() -> None:
	spec = _spec(deployment_mode="ome", benchmark={"max_time_per_iteration": 90, "num_concurrency": [4, 1, 4]})
	job = serving_manifests(spec, first_params(spec), "ome", benchmark=True)[-1]
	assert job["spec"]["maxTimePerIteration"] == 2  # 90 s -> 2 min (the seed passed seconds as minutes)
	assert job["spec"]["numConcurrency"] == [1, 4]
	assert job["spec"]["serviceMetadata"] == {"engine": "SGLang", "version": "v0.5.5", "gpuType": "H100", "gpuCount": 2}
	validate(job)


def test_runtime_and_model_are_reused_unless_asked() -> None:
	spec = _spec(deployment_mode="ome", clusterservingruntime_config=None, clusterbasemodel_config={"name": "m1"})
	docs = serving_manifests(spec, first_params(spec), "ome")
	assert [d["kind"] for d in docs] == ["InferenceService"]
	assert "runtime" not in docs[0]["spec"]  # OME selects the runtime
	assert docs[0]["spec"]["model"] == {"name": "m1"}
	validate(docs[0])


def test_spec_section_creates_a_base_model() -> None:
	section = {"name": "llama", "vendor": "meta", "storage": {"storageUri": "hf://meta-llama/Llama-3.1-8B-Instruct"}}
	spec = _spec(deployment_mode="ome", clusterbasemodel_config=section)
	docs = serving_manifests(spec, first_params(spec), "ome")
	base = next(d for d in docs if d["kind"] == "ClusterBaseModel")
	assert base["metadata"]["name"] == "llama" and base["spec"]["vendor"] == "meta"
	validate(base)


# -- every tuned flag reaches the engine --------------------------------------------------------------------------
def _value(info: Any) -> Any:
	if info.type == "bool":
		return True
	if info.choices:
		return info.choices[-1]
	return {"int": 2, "float": 0.5, "str": "x"}[info.type]


@pytest.mark.parametrize("engine_name", sorted(ENGINES))
@pytest.mark.parametrize("mode", ["ome", "kubernetes"])
def test_every_tuned_flag_is_in_the_runner_args(engine_name: str, mode: str) -> None:
	engine = get_engine(engine_name)
	params = {n: _value(f) for n, f in engine.catalogue().items() if f.tuned}
	params.pop("no-enable-prefix-caching", None)  # contradicts enable-prefix-caching (both tuned in vLLM)
	for parallel in ("tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size", "tp-size", "dp-size"):
		params.pop(parallel, None)
	params.pop("pp-size", None)
	params.pop("ep-size", None)
	params.pop("tp_size", None)
	params.pop("pp_size", None)
	params.pop("ep_size", None)
	spec = _spec(base_runtime=engine_name, deployment_mode=mode, parameters={k: [v] for k, v in params.items()})
	spec.quant_config = None
	docs = serving_manifests(spec, first_params(spec), mode)
	main = next(d for d in docs if d["kind"] in ("InferenceService", "Deployment"))
	c = main["spec"]["engine"]["runner"] if mode == "ome" else main["spec"]["template"]["spec"]["containers"][0]
	args = c["args"]
	for name, value in params.items():
		assert f"--{name}" in args, f"--{name} missing from {args}"
		if value is not True:
			assert args[args.index(f"--{name}") + 1] == str(value)
	for doc in docs:
		validate(doc)


def test_trtllm_llm_api_options_go_through_a_config_map() -> None:
	spec = _spec(base_runtime="trtllm", parameters={"max_batch_size": [64]}, quant_config={"kvcache_dtype": "fp8"})
	docs = serving_manifests(spec, first_params(spec), "kubernetes")
	cm, dep = docs[0], docs[1]
	assert cm["kind"] == "ConfigMap"
	assert yaml.safe_load(cm["data"][CONFIG_FILE]) == {"kv_cache_config": {"dtype": "fp8"}}
	c = dep["spec"]["template"]["spec"]["containers"][0]
	assert c["args"][-2:] == ["--config", f"{CONFIG_MOUNT}/{CONFIG_FILE}"]
	assert "--max_batch_size" in c["args"]
	assert {"name": "llm-api-options", "configMap": {"name": cm["metadata"]["name"]}} in dep["spec"]["template"][
		"spec"
	]["volumes"]
	for doc in docs:
		validate(doc)


# -- examples -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_render_valid_manifests(path: Path) -> None:
	from inference_autotuner.services.validate import load_spec

	spec = load_spec(path)
	docs = serving_manifests(spec, first_params(spec), spec.deployment_mode, benchmark=True)
	assert docs
	for doc in docs:
		validate(doc)


def test_dns_names() -> None:
	assert dns_name("Meta-Llama/Llama-3.1-8B_Instruct") == "meta-llama-llama-3-1-8b-instruct"
	long = dns_name("x" * 100, "exp", "1")
	assert len(long) <= 63 and long[0].isalpha()
	assert dns_name("123") == "a123"


def test_validation_catches_what_a_cluster_would_drop() -> None:
	spec = _spec(deployment_mode="ome")
	isvc, dep = serving_manifests(spec, first_params(spec), "ome")[2], serving_manifests(spec, {}, "kubernetes")[0]
	isvc["spec"]["engine"]["runner"]["argz"] = ["--tp-size", "2"]  # a typo a cluster would silently prune
	with pytest.raises(AssertionError, match="argz"):
		validate(isvc)
	dep["spec"]["template"]["spec"]["containers"][0]["argz"] = []
	with pytest.raises(Exception, match="argz"):
		validate(dep)


def test_cli_manifest_best_serves_the_stored_best_experiment() -> None:
	"""`autotuner manifest TASK --best`: the best experiment's params mapped through plan.py (quant -> engine flag)."""
	from typer.testing import CliRunner

	from inference_autotuner.cli import app
	from inference_autotuner.runner.task import get_or_create_task
	from inference_autotuner.store import Experiment, Store, Task

	store = Store(None)
	spec = _spec(deployment_mode="kubernetes")
	task_id = get_or_create_task(store, spec)
	best = {"max-running-requests": 128, "__quant__kvcache_dtype": "fp8_e5m2", "__parallel__tp": 4}
	with store.session() as s:
		for number, params in ((1, {"max-running-requests": 64}), (2, best)):
			s.add(Experiment(task_id=task_id, number=number, params=params, params_key=str(number), status="success"))
		s.flush()
		exp = s.query(Experiment).filter_by(task_id=task_id, number=2).one()
		task = s.get(Task, task_id)
		assert task is not None
		task.best_experiment_id = exp.id
	out = CliRunner().invoke(app, ["manifest", "sglang-llama8b", "--best", "--mode", "ome"])
	assert out.exit_code == 0, out.output
	docs = list(yaml.safe_load_all(out.output))
	isvc = next(d for d in docs if d["kind"] == "InferenceService")
	args = isvc["spec"]["engine"]["runner"]["args"]
	for flag, value in (("--max-running-requests", "128"), ("--kv-cache-dtype", "fp8_e5m2"), ("--tp-size", "4")):
		assert args[args.index(flag) + 1] == value
	assert isvc["spec"]["engine"]["runner"]["resources"]["limits"]["nvidia.com/gpu"] == "4"
	for doc in docs:
		validate(doc)
	missing = CliRunner().invoke(app, ["manifest", "nope", "--best"])
	assert missing.exit_code != 0 and "no task named" in missing.output
