"""runner/launch.py `launch_for` builds the `Launch` each deployer is handed: world size as an int, the GPUs held on
this host, the files and mounts a container needs, the environment; nothing of it is kept on the deployer.

Real deployer objects, nothing started (no daemon or cluster is contacted to build a Launch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_autotuner.deploy.docker import DockerDeployer
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.engines import get_engine
from inference_autotuner.engines.plan import plan_launch
from inference_autotuner.runner.launch import launch_for
from inference_autotuner.services.validate import parse_spec


def _spec(engine: str, mode: str) -> object:
	return parse_spec(
		{
			"task_name": "launch",
			"model": {"id_or_path": "org/m"},
			"base_runtime": engine,
			"deployment_mode": mode,
			"env": {"HF_HUB_OFFLINE": "1"},
		}
	)


def test_a_gpu_engine_holds_world_size_gpus_and_a_cpu_engine_none(tmp_path: Path) -> None:
	vllm = get_engine("vllm")
	plan = plan_launch(vllm, {"__parallel__tp": 2, "max-num-seqs": 8})
	launched = launch_for(
		_spec("vllm", "local"), vllm, LocalProcessDeployer(gpus=True), tmp_path, plan.flags, port=8100, plan=plan
	)
	launch = launched.launch
	assert launch is not None and launch.world_size == 2 and isinstance(launch.world_size, int)
	assert launch.gpus == 2 and launch.port == 8100 and launch.argv == launched.argv
	assert launch.env == {"HF_HUB_OFFLINE": "1"} and not launch.files and not launch.mounts
	llama = get_engine("llamacpp")
	cpu = plan_launch(llama, {"parallel": 2})
	launch = launch_for(
		_spec("llamacpp", "local"), llama, LocalProcessDeployer(), tmp_path, cpu.flags, port=1, plan=cpu
	)
	assert launch.launch is not None and launch.launch.world_size == 1 and launch.launch.gpus == 0


def test_a_container_launch_carries_its_mount(tmp_path: Path) -> None:
	model = tmp_path / "m.gguf"
	model.write_bytes(b"gguf")
	llama = get_engine("llamacpp")
	plan = plan_launch(llama, {"parallel": 2})
	d = DockerDeployer("llamacpp", client=object())
	launch = launch_for(_spec("llamacpp", "docker"), llama, d, model, plan.flags, port=8101, plan=plan).launch
	assert launch is not None and launch.mounts == {str(model.resolve()): "/models/m.gguf"}
	assert launch.argv[:3] == ["llama-server", "--model", "/models/m.gguf"]
	assert not vars(d).get("model_source"), "nothing of the experiment is kept on the deployer"


def test_a_trtllm_pod_gets_its_options_as_a_file() -> None:
	pytest.importorskip("kubernetes", reason="the kubernetes extra is not installed (pip install '.[kubernetes]')")
	import yaml

	from inference_autotuner.deploy.kubernetes import KubernetesDeployer
	from inference_autotuner.engines.trtllm import OPTIONS_KEY

	spec = _spec("trtllm", "kubernetes")
	d = KubernetesDeployer.from_spec(spec, "kubernetes")
	trt = get_engine("trtllm")
	plan = plan_launch(trt, {"tp_size": 1})
	flags = {**plan.flags, OPTIONS_KEY: {"kv_cache_config": {"free_gpu_memory_fraction": 0.5}}}
	plan = plan.model_copy(update={"flags": flags})
	launch = launch_for(spec, trt, d, Path("org/m"), flags, port=8102, plan=plan).launch
	assert launch is not None and list(launch.files) == ["/etc/autotuner/llm-api.yaml"]  # not a file
	assert yaml.safe_load(launch.files["/etc/autotuner/llm-api.yaml"]) == flags[OPTIONS_KEY]  # not a file
	assert "--config" in launch.argv and launch.gpus == 0, "the cluster schedules the pod's GPUs, not this host"
