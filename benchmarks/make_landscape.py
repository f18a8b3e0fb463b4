"""Write a search-efficiency landscape from aiconfigurator predictions: a full grid, tuned in predict mode, exported.

    python benchmarks/make_landscape.py [--out benchmarks/data/qwen3-32b-h200-vllm.csv] [--spec SPEC.yaml]

Default space (448 configurations): vLLM serving Qwen3-32B on H200, D(2048,512) at concurrency 256, over
max-num-seqs x max-num-batched-tokens x gemm dtype x KV cache dtype x tp; objective maximize per-GPU throughput with
a hard TPOT SLO of 40 ms. The CSV is `autotuner export` of that task (param:NAME columns, status, figures), so a
landscape recorded from real runs has the same shape. Needs the `predict` extra.
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
from inference_autotuner.services.validate import load_spec, parse_spec  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402

DEFAULT: dict[str, Any] = {
	"task_name": "landscape-qwen3-32b-h200-vllm",
	"model": {"id_or_path": "Qwen/Qwen3-32B"},
	"base_runtime": "vllm",
	"deployment_mode": "predict",
	"hardware": {"gpu": "H200", "gpu_count": 8},
	"parameters": {
		"max-num-seqs": [8, 16, 32, 64, 128, 256, 512],
		"max-num-batched-tokens": [2048, 4096, 8192, 16384],
	},
	"quant_config": {"gemm_dtype": ["auto", "fp8"], "kvcache_dtype": ["auto", "fp8"]},
	"parallel_config": {"tp": [1, 2, 4, 8]},
	"optimization": {
		"baseline": False,
		"repeat_top_k": 0,
		"warm_start": False,
		"strategy": "grid_search",
		"objective": "maximize_throughput",
		"max_iterations": 448,
	},
	"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [256], "max_requests_per_iteration": 500},
	"slo": {"tpot": {"threshold": 0.04, "hard_fail": True, "fail_ratio": 0.0}},
}


def main() -> None:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--out", default=str(REPO / "benchmarks" / "data" / "qwen3-32b-h200-vllm.csv"))
	p.add_argument("--spec", help="a predict-mode spec with a finite grid (default: the space above)")
	args = p.parse_args()
	spec = load_spec(args.spec) if args.spec else parse_spec(DEFAULT)
	with tempfile.TemporaryDirectory() as d:
		store = Store(f"sqlite:///{d}/landscape.db")
		task_id = get_or_create_task(store, spec)
		t0 = time.monotonic()
		TaskRunner(store, task_id).run()
		wall = time.monotonic() - t0
		data = task_detail(store, task_id).model_dump(mode="json")
	out = Path(args.out)
	out.parent.mkdir(parents=True, exist_ok=True)
	out.write_text(_to_csv(data["experiments"]))
	ok = sum(e["status"] == "success" for e in data["experiments"])
	print(f"wrote {out}: {len(data['experiments'])} configurations ({ok} feasible) predicted in {wall:.1f} s")


if __name__ == "__main__":
	main()
