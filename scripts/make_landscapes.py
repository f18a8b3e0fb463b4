"""Regenerate the search-efficiency landscapes of benchmarks/landscapes/ from aiconfigurator predictions.

    python scripts/make_landscapes.py [--only NAME ...] [--out-dir benchmarks/landscapes]

Each landscape is a full grid of 112 configurations (tp 1/2/4/8 x the engine's batch cap 8..512 x GEMM dtype
auto/fp8 x KV-cache dtype auto/fp8) of one model, GPU and engine, predicted through the real TaskRunner in predict
mode and exported like `autotuner export` (param:NAME columns, status, every figure). No SLO is applied here: the
benchmark applies its constraint (`--constraint 'mean_tpot<=0.05'`), so one CSV serves several constraints.
Dense and MoE models, H100/H200/B200/A100, vLLM, SGLang and TensorRT-LLM: the training set of the search strategies
(benchmarks/search_efficiency.py). `--held-out` writes the held-out set instead (HELD_OUT: other models, GPU/engine
pairs and traffic, generated after the default strategy was chosen and never tuned on). Needs the `predict` extra (aiconfigurator); about 2-10 s per landscape.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference_autotuner.cli import _to_csv  # noqa: E402
from inference_autotuner.runner.task import TaskRunner, get_or_create_task  # noqa: E402
from inference_autotuner.services.summary import task_detail  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402

BATCH_FLAG = {"vllm": "max-num-seqs", "sglang": "max-running-requests", "trtllm": "max_batch_size"}
# name: (engine, model, GPU, scenario, concurrency)
LANDSCAPES: dict[str, tuple[str, str, str, str, int]] = {
	"llama31-70b-h100-vllm": ("vllm", "meta-llama/Meta-Llama-3.1-70B", "H100", "D(2048,512)", 256),
	"qwen3-30b-a3b-h200-sglang": ("sglang", "Qwen/Qwen3-30B-A3B", "H200", "D(2048,512)", 256),
	"llama31-8b-a100-trtllm": ("trtllm", "meta-llama/Meta-Llama-3.1-8B", "A100", "D(1024,256)", 256),
	"qwen3-235b-a22b-b200-vllm": ("vllm", "Qwen/Qwen3-235B-A22B", "B200", "D(2048,512)", 256),
	"qwen3-32b-b200-sglang": ("sglang", "Qwen/Qwen3-32B", "B200", "D(4096,1024)", 128),
	"qwen3-8b-h100-vllm": ("vllm", "Qwen/Qwen3-8B", "H100", "D(1024,1024)", 512),
}
# the held-out set (benchmarks/landscapes/held-out/): generated after the strategy was chosen, never tuned on; models,
# GPU/engine pairs and traffic the training set does not have
HELD_OUT: dict[str, tuple[str, str, str, str, int]] = {
	"llama31-405b-b200-sglang": ("sglang", "meta-llama/Meta-Llama-3.1-405B", "B200", "D(3072,768)", 192),
	"llama31-8b-h200-vllm": ("vllm", "meta-llama/Meta-Llama-3.1-8B", "H200", "D(512,2048)", 384),
	"qwen3-32b-a100-trtllm": ("trtllm", "Qwen/Qwen3-32B", "A100", "D(1536,384)", 96),
	# set 2: generated after the last change to the default strategy (set 1 had been seen once by then)
	"llama31-70b-h200-sglang": ("sglang", "meta-llama/Meta-Llama-3.1-70B", "H200", "D(1024,256)", 320),
	"qwen3-32b-h100-vllm": ("vllm", "Qwen/Qwen3-32B", "H100", "D(2048,2048)", 160),
	"qwen3-30b-a3b-b200-trtllm": ("trtllm", "Qwen/Qwen3-30B-A3B", "B200", "D(4096,256)", 224),
}
ALL = {**LANDSCAPES, **HELD_OUT}


def spec_for(name: str) -> dict[str, Any]:
	engine, model, gpu, scenario, concurrency = ALL[name]
	return {
		"task_name": f"landscape-{name}",
		"model": {"id_or_path": model},
		"base_runtime": engine,
		"deployment_mode": "predict",
		"hardware": {"gpu": gpu, "gpu_count": 8},
		"parameters": {BATCH_FLAG[engine]: [8, 16, 32, 64, 128, 256, 512]},
		"quant_config": {"gemm_dtype": ["auto", "fp8"], "kvcache_dtype": ["auto", "fp8"]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"objective": "maximize_throughput",
			"max_iterations": 112,
		},
		"benchmark": {
			"traffic_scenarios": [scenario],
			"num_concurrency": [concurrency],
			"max_requests_per_iteration": 500,
		},
	}


def make(name: str, out_dir: Path) -> Path:
	spec = parse_spec(spec_for(name))
	with tempfile.TemporaryDirectory() as d:
		store = Store(f"sqlite:///{d}/landscape.db")
		task_id = get_or_create_task(store, spec)
		t0 = time.monotonic()
		TaskRunner(store, task_id).run()
		wall = time.monotonic() - t0
		data = task_detail(store, task_id).model_dump(mode="json")
		store.engine.dispose()
	out = out_dir / f"{name}.csv"
	out.write_text(_to_csv(data["experiments"]))
	ok = sum(e["status"] == "success" for e in data["experiments"])
	print(f"wrote {out}: {len(data['experiments'])} configurations ({ok} predicted) in {wall:.1f} s", flush=True)
	return out


def main(argv: list[str] | None = None) -> None:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--only", nargs="*", choices=sorted(ALL), help="landscapes to write (default: the training set)")
	p.add_argument("--held-out", action="store_true", help="write the held-out set (default dir: .../held-out)")
	p.add_argument("--out-dir", default=None)
	args = p.parse_args(argv)
	default = REPO / "benchmarks" / "landscapes"
	out_dir = Path(args.out_dir) if args.out_dir else default / "held-out" if args.held_out else default
	out_dir.mkdir(parents=True, exist_ok=True)
	for name in args.only or list(HELD_OUT if args.held_out else LANDSCAPES):
		make(name, out_dir)


if __name__ == "__main__":
	main()
