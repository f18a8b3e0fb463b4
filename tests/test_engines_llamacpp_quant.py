"""Quantization intent really applied on the one engine that runs here: llama.cpp (real server, real model).

kvcache_dtype int8 becomes `--cache-type-k q8_0 --cache-type-v q8_0` and the real server serves with it (its log
names the q8_0 KV cache); kvcache_dtype fp8 is refused for llama.cpp and never launched.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.engines import get_engine
from inference_autotuner.runner.experiment import run_experiment
from inference_autotuner.services.validate import parse_spec

pytestmark = pytest.mark.engine


def test_int8_kv_cache_runs_and_fp8_is_skipped(model_path: Path, tmp_path: Path) -> None:
	spec = parse_spec(
		{
			"task_name": "llamacpp-quant",
			"model": {"id_or_path": str(model_path)},
			"base_runtime": "llama.cpp",
			"quant_config": {"kvcache_dtype": ["int8", "fp8"]},
			"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "timeout_per_iteration": 120},
			"benchmark": {
				"traffic_scenarios": ["D(32,16)"],
				"num_concurrency": [2],
				"max_requests_per_iteration": 4,
				"warmup_requests": 1,
			},
		}
	)
	common = {
		"spec": spec,
		"engine": get_engine("llamacpp"),
		"deployer": LocalProcessDeployer(),
		"model_path": model_path,
		"cancel": threading.Event(),
		"emit": lambda e: None,
		"number": 1,
	}
	base = {"threads": 2, "ctx-size": 2048, "flash-attn": "on"}
	ok = run_experiment(params={**base, "__quant__kvcache_dtype": "int8"}, log_path=tmp_path / "q8.log", **common)
	assert ok.status == "success", ok.reason
	assert ok.argv is not None
	i = ok.argv.index("--cache-type-k")
	assert ok.argv[i : i + 4] == ["--cache-type-k", "q8_0", "--cache-type-v", "q8_0"]
	assert "q8_0" in (tmp_path / "q8.log").read_text(errors="replace")
	assert ok.gpu_info and ok.gpu_info["plan"]["quant"]["kvcache_dtype"] == "int8"
	skipped = run_experiment(params={**base, "__quant__kvcache_dtype": "fp8"}, log_path=tmp_path / "f8.log", **common)
	assert skipped.status == "skipped" and skipped.argv is None
	assert "llama.cpp's --cache-type-k/-v have no fp8" in str(skipped.reason)
	assert not (tmp_path / "f8.log").exists()
