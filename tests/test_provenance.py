"""Provenance with every experiment (issue 22 part 2): recorded by the runner on a real llama.cpp tuning and on
predicted ones, shown by the report, and `autotuner compare` warns when two tasks' provenance differs."""

from __future__ import annotations

import importlib.util
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
