"""vLLM, SGLang and TensorRT-LLM engine modules: catalogues, argv, spec validation, the runner's skip path.

None of these engines can run on this machine (no GPU). Where a launch path is tested, a stand-in executable
(`tests/…` written in the test, named "stand-in") or a stand-in deployer takes the engine's place, and the test says so.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inference_autotuner.deploy.base import Deployer, Deployment, Launch
from inference_autotuner.engines import ENGINES, check_value, get_engine, plan_launch
from inference_autotuner.engines.parallel import PARALLEL_FIELDS, PARALLEL_PRESETS
from inference_autotuner.engines.quant import QUANT_PRESETS, QUANT_VALUES
from inference_autotuner.errors import EngineStartError, SpecError
from inference_autotuner.services.validate import load_spec, parse_spec

DATA = Path(__file__).parent / "data"
GPU_ENGINES = ("vllm", "sglang", "trtllm")


def _all_choices(engine: str) -> list[dict[str, Any]]:
	quant = [{"__quant__preset": p} for p in QUANT_PRESETS]
	quant += [{f"__quant__{f}": v} for f, values in QUANT_VALUES.items() for v in values]
	par = [{"__parallel__preset": p} for p in PARALLEL_PRESETS[engine]]
	par += [{f"__parallel__{f}": n} for f in PARALLEL_FIELDS for n in (2, 4)]
	return [{**a, **b} for a, b in itertools.product(quant, par)]


@pytest.mark.parametrize("engine", [*GPU_ENGINES, "llamacpp"])
def test_every_flag_the_mappers_emit_is_in_the_catalogue(engine: str) -> None:
	eng = get_engine(engine)
	catalogue = eng.catalogue()
	emitted = 0
	for params in _all_choices(engine):
		plan = plan_launch(eng, params)
		for flag, value in plan.flags.items():
			if flag.startswith("_"):
				continue  # TensorRT-LLM's LLM-API options: written to the --config YAML
			assert flag in catalogue, f"{engine}: {flag} (from {params})"
			assert check_value(catalogue[flag], value) is None, f"{engine}: {flag}={value!r}"
			emitted += 1
	assert emitted > 0


def test_catalogues_and_versions() -> None:
	assert set(ENGINES) == {"llamacpp", "vllm", "sglang", "trtllm"}
	for name in GPU_ENGINES:
		eng = get_engine(name)
		assert eng.version and eng.health_path == "/health"
		assert sum(f.tuned for f in eng.catalogue().values()) >= 8


def test_launch_argv_and_display_command(monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.delenv("AUTOTUNER_TOOLS_DIR", raising=False)  # `vllm serve`, not the CPU build's API server module
	vllm = get_engine("vllm")
	assert vllm.launch_argv("org/m", {"enforce-eager": True, "no-enable-prefix-caching": False}, host="h", port=1) == [
		"vllm",
		"serve",
		"org/m",
		"--host",
		"h",
		"--port",
		"1",
		"--enforce-eager",
	]
	sg = get_engine("sglang")
	assert sg.display_command("org/m", {"tp-size": 2}) == (
		"python -m sglang.launch_server --model-path org/m --host 0.0.0.0 --port 8000 --tp-size 2"
	)
	assert get_engine("trtllm").display_command("org/m", {"max_batch_size": 64}).endswith("--max_batch_size 64")


def test_unknown_flag_names_the_closest(tmp_path: Path) -> None:
	spec = {"task_name": "t", "model": {"id_or_path": "org/m"}, "base_runtime": "vllm"}
	with pytest.raises(SpecError) as info:
		parse_spec({**spec, "parameters": {"max-num-seq": [64], "gpu-memory-utilisation": 0.9}})
	found = {p.path: p.hint for p in info.value.problems}
	assert found["parameters.max-num-seq"] == "did you mean 'max-num-seqs'?"
	assert found["parameters.gpu-memory-utilisation"] == "did you mean 'gpu-memory-utilization'?"
	with pytest.raises(SpecError) as info:
		parse_spec({**spec, "base_runtime": "trtllm", "parameters": {"max-batch-size": [8]}})
	assert info.value.problems[0].hint == "did you mean 'max_batch_size'?"


def test_quant_and_parallel_config_problems_name_the_field() -> None:
	spec = {"task_name": "t", "model": {"id_or_path": "org/m"}, "base_runtime": "trtllm"}
	with pytest.raises(SpecError) as info:
		parse_spec(
			{
				**spec,
				"quant_config": {"presets": ["kv-cache-fp9"], "kv_dtype": ["fp8"], "gemm_dtype": ["fp4"]},
				"parallel_config": {"presets": ["high-throughput"], "tp": [0]},
			}
		)
	found = {p.path: (p.message, p.hint) for p in info.value.problems}
	assert found["quant_config.presets[0]"] == ("unknown trtllm preset 'kv-cache-fp9'", "did you mean 'kv-cache-fp8'?")
	assert found["quant_config.kv_dtype"][1] == "did you mean 'kvcache_dtype'?"
	assert found["quant_config.gemm_dtype[0]"][0].startswith("gemm_dtype takes one of auto, fp16")
	assert found["parallel_config.presets[0]"][0] == "unknown trtllm preset 'high-throughput'"
	assert found["parallel_config.tp[0]"][0] == "tp takes whole numbers >= 1, got 0"


@pytest.mark.parametrize("name", ["seed_parallel_quant.json", "seed_docker_task_with_slo.json"])
def test_seed_shaped_specs_validate_and_expand(name: str) -> None:
	from inference_autotuner.space import build_task_space

	spec = load_spec(DATA / name)
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	eng = get_engine(spec.base_runtime)
	plans = [plan_launch(eng, space.full(c)) for c in space.combinations()]
	assert all(p.status == "ok" for p in plans), [p.reason for p in plans]
	if name == "seed_parallel_quant.json":  # tp [2,4] x dp [1,2] x presets [default, kv-cache-fp8]
		assert len(plans) == 8
		assert sorted(p.world_size for p in plans) == [2, 2, 4, 4, 4, 4, 8, 8]
		argv = eng.launch_argv("/m", plans[-1].flags, host="h", port=1)
		assert argv[-8:] == ["--kv-cache-dtype", "fp8_e4m3", "--tp-size", "4", "--dp-size", "2"] + [
			"--mem-fraction-static",
			"0.85",
		]
	else:  # tp-size [1, 2] x mem-fraction-static [0.7, 0.8, 0.85], set by hand
		assert len(plans) == 6 and sorted({p.world_size for p in plans}) == [1, 2]


def test_stand_in_executable_takes_the_engines_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	"""A stand-in executable (a Python script that prints its argv) replaces `vllm` through AUTOTUNER_VLLM_BIN."""
	stand_in = tmp_path / "stand-in-vllm.py"
	stand_in.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
	monkeypatch.setenv("AUTOTUNER_VLLM_BIN", f"{sys.executable} {stand_in}")
	eng = get_engine("vllm")
	plan = plan_launch(eng, {"__quant__preset": "kv-cache-fp8", "__parallel__tp": 2})
	argv = eng.launch_argv("org/m", plan.flags, host="127.0.0.1", port=9)
	out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
	assert json.loads(out) == ["org/m", "--host", "127.0.0.1", "--port", "9"] + [
		"--kv-cache-dtype",
		"fp8",
		"--tensor-parallel-size",
		"2",
	]


class StandInDeployer(Deployer):
	"""Stand-in deployer for the runner test: records what it is asked to start and starts nothing (no GPU here)."""

	def __init__(self) -> None:
		self.started: list[list[str]] = []

	def start(self, launch: Launch, **_: Any) -> Deployment:
		self.started.append(list(launch.argv))
		raise EngineStartError("stand-in deployer: no engine can start on this machine")

	def stop(self, deployment: Deployment) -> None:
		pass


def test_runner_records_skipped_and_infeasible_without_launching(tmp_path: Path) -> None:
	"""The real TaskRunner and store; a stand-in deployer. TensorRT-LLM has no dp: dp=2 is skipped with its reason;
	tp=1 of a 70B model on one 80 GB GPU is infeasible (memory estimate); only dp=1 with tp=8 is ever launched."""
	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.store import Experiment, Store

	model = tmp_path / "llama-70b"
	model.mkdir()
	cfg = {"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8}
	cfg |= {"intermediate_size": 28672, "vocab_size": 128256, "max_position_embeddings": 131072}
	(model / "config.json").write_text(json.dumps(cfg))
	spec = parse_spec(
		{
			"task_name": "trtllm-skip",
			"model": {"id_or_path": str(model)},
			"base_runtime": "trtllm",
			"deployment_mode": "docker",
			"hardware": {"gpu": "H100", "gpu_count": 8},
			"parallel_config": {"tp": [1, 8], "dp": [1, 2]},
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"strategy": "grid_search",
				"max_iterations": 4,
			},
		}
	)
	store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
	task_id = get_or_create_task(store, spec)
	deployer = StandInDeployer()
	TaskRunner(store, task_id, deployer=deployer, cancel=threading.Event()).run()  # type: ignore[arg-type]
	with store.session() as s:
		rows = s.scalars(select(Experiment).where(Experiment.task_id == task_id)).all()
		got = {(e.params["__parallel__tp"], e.params["__parallel__dp"]): (e.status, e.failure_reason) for e in rows}
		plans = {(e.params["__parallel__tp"], e.params["__parallel__dp"]): e.gpu_info["plan"] for e in rows}
	assert got[(1, 2)] == (
		"skipped",
		"TensorRT-LLM has no dp=2: trtllm-serve runs one replica (use attention DP in its YAML, or replicas)",
	)
	assert got[(8, 2)][0] == "skipped"
	assert got[(1, 1)][0] == "infeasible" and "does not fit" in str(got[(1, 1)][1])
	assert plans[(1, 1)]["memory"]["fits"] is False
	assert got[(8, 1)] == ("failed", "stand-in deployer: no engine can start on this machine")
	assert plans[(8, 1)]["world_size"] == 8
	assert len(deployer.started) == 1 and "--tp_size" in deployer.started[0]
