"""Provenance with every experiment (issue 22 part 2): recorded by the runner on a real llama.cpp tuning and on
predicted ones, shown by the report, and `autotuner compare` warns when two tasks' provenance differs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
	env = {**__import__("os").environ, "COLUMNS": "200"}
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args],
		capture_output=True,
		text=True,
		timeout=600,
		cwd=REPO,
		env=env,
	)


def write(tmp_path: Path, spec: dict[str, Any]) -> Path:
	path = tmp_path / f"{spec['task_name']}.yaml"
	path.write_text(yaml.safe_dump(spec))
	return path


@pytest.mark.engine
def test_llamacpp_experiment_records_its_provenance(model_path: Path, tmp_path: Path) -> None:
	spec = {
		"task_name": "prov-llama",
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [2], "threads": 2},
		"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "max_iterations": 1},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [2], "max_requests_per_iteration": 4},
		"env": {"OMP_NUM_THREADS": "2"},
	}
	res = cli("tune", str(write(tmp_path, spec)))
	assert res.returncode == 0, res.stderr
	from inference_autotuner.services.views import experiments_of, find_task
	from inference_autotuner.store import Store

	store = Store()
	exp = experiments_of(store, find_task(store, "prov-llama").id)[0]
	prov = exp.provenance
	assert prov is not None
	assert prov["engine"]["name"] == "llamacpp" and prov["engine"]["distribution"] == "xllamacpp"
	assert prov["engine"]["version"] == __import__("importlib.metadata").metadata.version("xllamacpp")
	assert prov["argv"] == exp.launch_argv and "--parallel" in prov["argv"]
	assert prov["env"] == {"OMP_NUM_THREADS": "2"}
	assert prov["host"]["cpu_count"] and prov["host"]["name"]
	assert prov["tuner"]["version"]
	if (REPO / ".git").exists():
		assert len(prov["tuner"]["git"]["revision"]) == 40
	assert len(prov["workload_hash"]) == 16
	report = cli("report", "prov-llama", "--format", "md")
	assert report.returncode == 0, report.stderr
	assert "engine.distribution | xllamacpp" in report.stdout


def test_image_digest_in_docker_mode() -> None:
	"""Docker mode records the image's digest. The daemon is asked through the docker SDK's images.get; a stand-in
	client (the daemon does not run on every host; test_image_digest_from_the_real_daemon asks the real one) gives
	what the SDK's Image gives: attrs['RepoDigests'] and id."""
	from types import SimpleNamespace

	from inference_autotuner.provenance import engine_version, image_digest

	class Images:
		def __init__(self, found: dict[str, Any]) -> None:
			self.found = found

		def get(self, name: str) -> Any:
			if name not in self.found:
				raise LookupError(name)
			return self.found[name]

	pulled = SimpleNamespace(id="sha256:" + "a" * 64, attrs={"RepoDigests": ["vllm/vllm-openai@sha256:" + "b" * 64]})
	built = SimpleNamespace(id="sha256:" + "c" * 64, attrs={"RepoDigests": []})
	client = SimpleNamespace(images=Images({"vllm/vllm-openai:v0.11.0": pulled, "mine:dev": built}))
	assert image_digest("vllm/vllm-openai:v0.11.0", client) == "vllm/vllm-openai@sha256:" + "b" * 64
	assert image_digest("mine:dev", client) == "sha256:" + "c" * 64  # built here: its image id
	assert image_digest("absent:1", client) is None
	# no daemon reachable: recorded as unknown, never an error
	out = engine_version(SimpleNamespace(name="vllm"), "docker", "vllm/vllm-openai:v0.11.0")
	assert out["image"] == "vllm/vllm-openai:v0.11.0" and "image_digest" in out
	assert "image_digest" not in engine_version(SimpleNamespace(name="vllm"), "kubernetes", "img:1")


def test_image_digest_from_the_real_daemon() -> None:
	pytest.importorskip("docker")
	from inference_autotuner.deploy.docker import connect
	from inference_autotuner.errors import DeployError
	from inference_autotuner.provenance import image_digest

	try:
		client = connect(timeout=5.0)
	except DeployError as exc:
		pytest.skip(f"no Docker daemon here: {exc.message}")
	assert image_digest("autotuner-no-such-image:0") is None  # the daemon's own answer: no such image
	tags = [t for i in client.images.list() for t in i.tags]
	for tag in tags[:3]:  # the images it has (CI: the llama.cpp image test_deploy_docker built)
		digest = image_digest(tag)
		assert digest is not None and "sha256:" in digest, tag


def test_secrets_never_stored() -> None:
	from inference_autotuner.provenance import safe_env

	assert safe_env({"HF_TOKEN": "hf_abc", "VLLM_API_KEY": "k", "OMP_NUM_THREADS": "2"}) == {
		"HF_TOKEN": "***",
		"OMP_NUM_THREADS": "2",
		"VLLM_API_KEY": "***",
	}


@pytest.mark.skipif(importlib.util.find_spec("aiconfigurator") is None, reason="the predict extra is not installed")
def test_compare_warns_when_provenance_differs(tmp_path: Path) -> None:
	base: dict[str, Any] = {
		"task_name": "prov-h200",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [32, 128]},
		"parallel_config": {"tp": [2, 4]},
		"optimization": {"strategy": "grid_search", "max_iterations": 4, "repeat_top_k": 0, "warm_start": False},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [64]},
	}
	h100 = {**base, "task_name": "prov-h100", "hardware": {"gpu": "H100", "gpu_count": 8}}
	again = {**base, "task_name": "prov-h200-again"}
	for spec in (base, h100, again):
		res = cli("tune", str(write(tmp_path, spec)))
		assert res.returncode == 0, res.stderr
	differ = cli("compare", "prov-h200", "prov-h100")
	assert differ.returncode == 0, differ.stderr
	assert "prov-h200" in differ.stdout and "prov-h100" in differ.stdout
	assert "provenance differs: engine.system: h200_sxm vs h100_sxm" in differ.stderr
	assert "provenance differs: hardware.gpu: H200 vs H100" in differ.stderr
	same = cli("compare", "prov-h200", "prov-h200-again")
	assert same.returncode == 0, same.stderr
	assert "provenance differs" not in same.stderr and "same provenance" in same.stdout
	missing = cli("compare", "prov-h200", "nope")
	assert missing.returncode != 0 and "no task named" in missing.stderr

	# the web compare page's source: GET /api/tasks/{id}/provenance, the same fields differ as in the CLI's warnings
	from fastapi.testclient import TestClient

	from inference_autotuner.api import Settings, create_app

	cli_fields = sorted(re.findall(r"provenance differs: ([^:]+):", differ.stderr))
	with TestClient(create_app(Settings(run_worker=False)), base_url="http://localhost") as client:
		views = {}
		for name in ("prov-h200", "prov-h100", "prov-h200-again"):
			task_id = client.get(f"/api/tasks/name/{name}").json()["id"]
			r = client.get(f"/api/tasks/{task_id}/provenance")
			assert r.status_code == 200, r.text
			views[name] = r.json()
		a, b = views["prov-h200"]["provenance"], views["prov-h100"]["provenance"]
		assert a["engine.system"] == "h200_sxm" and "argv" not in a and not any(k.startswith("experiment") for k in a)
		api_fields = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
		assert api_fields == cli_fields and "hardware.gpu" in api_fields
		same = views["prov-h200-again"]["provenance"]
		assert [k for k in {*a, *same} if a.get(k) != same.get(k)] == []
		assert views["prov-h200"]["experiment_number"] is not None and views["prov-h200"]["differs_within"] == []
		assert client.get("/api/tasks/99999/provenance").status_code == 404
