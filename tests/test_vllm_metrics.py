"""Engine-side figures: the engine's Prometheus /metrics read before, during and after each run, stored beside the
client figures (runs[].engine_metrics) and shown by `autotuner show`. Real llama.cpp here; the real vLLM tuning test
(test_vllm_tuning.py) checks vLLM's figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from inference_autotuner.bench.engine_metrics import parse_prometheus, summarize

REPO = Path(__file__).resolve().parents[1]

VLLM_TEXT = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 5.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 5.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:num_preemptions_total{engine="0",model_name="m"} 2.0
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1000.0
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 600.0
vllm:prompt_tokens_total{engine="0",model_name="m"} 1000.0
vllm:generation_tokens_total{engine="0",model_name="m"} 320.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} 10.0
"""


def test_vllm_names_map_to_one_model() -> None:
	after = parse_prometheus(VLLM_TEXT)
	assert after["vllm:num_requests_waiting"] == 5.0 and "vllm:e2e_request_latency_seconds_bucket" in after
	before = {
		"vllm:num_requests_running": 0.0,
		"vllm:num_requests_waiting": 0.0,
		"vllm:kv_cache_usage_perc": 0.0,
		"vllm:num_preemptions_total": 0.0,
		"vllm:prefix_cache_queries_total": 200.0,
		"vllm:prefix_cache_hits_total": 0.0,
		"vllm:prompt_tokens_total": 200.0,
		"vllm:generation_tokens_total": 0.0,
	}
	during = [{**before, "vllm:kv_cache_usage_perc": 0.5, "vllm:num_requests_running": 4.0}]
	m = summarize("vllm", before, during, after)
	assert m.kv_cache_usage_max == 0.5 and m.kv_cache_usage_mean == (0 + 0.5 + 0.25) / 3
	assert m.running_max == 4.0 and m.waiting_max == 5.0 and m.preemptions == 2.0
	assert m.prefix_cache_hit_rate == 600 / 800 and m.prompt_tokens == 800 and m.generation_tokens == 320
	assert m.samples == 3


def test_llamacpp_runs_carry_engine_figures(tmp_path: Path, model_path: Path) -> None:
	spec = {
		"task_name": "engine-metrics",
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [2], "threads": [2]},
		"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "max_iterations": 1},
		"benchmark": {
			"traffic_scenarios": ["D(32,16)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 6,
			"warmup_requests": 0,
		},
	}
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	cli = [sys.executable, "-m", "inference_autotuner.cli"]
	run = subprocess.run([*cli, "tune", str(path)], capture_output=True, text=True, cwd=REPO, timeout=300)
	assert run.returncode == 0, run.stderr
	shown = subprocess.run([*cli, "show", "engine-metrics", "-f", "json"], capture_output=True, text=True, cwd=REPO)
	data = json.loads(shown.stdout)
	figures = data["experiments"][0]["runs"][0]["engine_metrics"]
	assert figures["engine"] == "llamacpp" and figures["samples"] >= 2
	assert figures["generation_tokens"] >= 6 * 16 * 0.5, "the engine counted the tokens it generated"
	assert figures["running_max"] is not None and 1 <= figures["running_max"] <= 2
	table = subprocess.run([*cli, "show", "engine-metrics"], capture_output=True, text=True, cwd=REPO)
	assert "#1 engine (llamacpp): running max" in " ".join(table.stdout.split())


def test_sglang_names_map_to_the_same_model() -> None:
	"""SGLang's names (read from sglang 0.5.23's metrics collector; its server needs a GPU, so the text is made here)."""
	before = parse_prometheus(
		'sglang:num_running_reqs{tp_rank="0"} 0\nsglang:num_queue_reqs{tp_rank="0"} 0\nsglang:token_usage 0.0\n'
		"sglang:num_retracted_requests_total 1\nsglang:cached_tokens_total 0\nsglang:prompt_tokens_total 100\n"
		"sglang:generation_tokens_total 0\n"
	)
	after = {**before, "sglang:num_retracted_requests_total": 3.0, "sglang:cached_tokens_total": 50.0}
	after |= {"sglang:prompt_tokens_total": 300.0, "sglang:generation_tokens_total": 64.0, "sglang:token_usage": 0.4}
	m = summarize("sglang", before, [{**before, "sglang:num_queue_reqs": 2.0}], after)
	assert m.preemptions == 2 and m.prefix_cache_hit_rate == 50 / 200 and m.generation_tokens == 64
	assert m.kv_cache_usage_max == 0.4 and m.waiting_max == 2
