"""Max load under SLO: load search (doubling + bisection) vs a full concurrency sweep, on the real llama.cpp engine.

    python benchmarks/max_load.py [--limit 8] [--requests 8] [--ttft 1.0] [--parallel 1]

One configuration (SmolLM2-135M, llama.cpp, --threads 1), traffic D(16,8), SLO: mean TTFT <= --ttft s. Both find the
highest concurrency that meets the SLO on one running engine:
- load search: benchmark.load_search {start 1, limit N, tolerance 1};
- sweep: every concurrency 1..N (early stop off), then the highest level L whose run and every lower one pass.
Printed: probes (load runs) each needed, the max load each found, bench wall time each, and the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference_autotuner.bench.loadsearch import judge_run  # noqa: E402
from inference_autotuner.deploy.local import LocalProcessDeployer  # noqa: E402
from inference_autotuner.engines import get_engine  # noqa: E402
from inference_autotuner.models import resolve_model  # noqa: E402
from inference_autotuner.runner.experiment import Outcome, run_experiment  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402


def measure(model: Path, work: Path, args: argparse.Namespace, benchmark: dict[str, Any]) -> Outcome:
	spec = parse_spec(
		{
			"task_name": "max-load-bench",
			"model": {"id_or_path": str(model)},
			"base_runtime": "llama.cpp",
			"optimization": {
				"objective": "maximize_goodput",
				"timeout_per_iteration": 1800,
				"early_stop": {"enabled": False},
			},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"max_requests_per_iteration": args.requests,
				"max_time_per_iteration": 120,
				"warmup_requests": 1,
				**benchmark,
			},
			"slo": {"ttft": {"threshold": args.ttft}},
		}
	)
	return run_experiment(
		spec=spec,
		engine=get_engine("llamacpp"),
		deployer=LocalProcessDeployer(),
		model_path=model,
		params={"parallel": args.parallel, "threads": 1, "ctx-size": 1024},
		log_path=work / "engine.log",
		cancel=threading.Event(),
		emit=lambda e: None,
		number=1,
	)


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--limit", type=int, default=8)
	ap.add_argument("--requests", type=int, default=8, help="requests per load level")
	ap.add_argument("--ttft", type=float, default=1.0, help="mean TTFT SLO, seconds")
	ap.add_argument("--parallel", type=int, default=1, help="llama.cpp slots")
	args = ap.parse_args()
	model = resolve_model("smollm2")
	slo_spec = parse_spec(
		{"task_name": "x", "model": {"id_or_path": "x"}, "slo": {"ttft": {"threshold": args.ttft}}}
	).slo
	with tempfile.TemporaryDirectory() as tmp:
		work = Path(tmp)
		search = {"mode": "concurrency", "start": 1, "limit": args.limit, "tolerance": 1, "max_probes": 32}
		t = time.monotonic()
		ls = measure(model, work, args, {"load_search": search})
		ls_wall = time.monotonic() - t
		t = time.monotonic()
		sw = measure(model, work, args, {"num_concurrency": list(range(1, args.limit + 1))})
		sw_wall = time.monotonic() - t
	ls_max = ls.score.figures.get("max_load") if ls.score else None
	sw_max = None
	for r in sorted(sw.runs, key=lambda r: r.concurrency or 0):
		if judge_run(r, slo_spec) is not None:
			break
		sw_max = r.concurrency
	print(
		f"config: llama.cpp parallel={args.parallel} threads=1, D(16,8), mean TTFT <= {args.ttft} s, "
		f"{args.requests} requests per level, levels 1..{args.limit}"
	)
	print(
		f"load search: {len(ls.runs)} probes {[r.concurrency for r in ls.runs]}, max load {ls_max}, "
		f"bench {ls.bench_seconds:.1f} s, wall {ls_wall:.1f} s ({ls.status})"
	)
	print(f"full sweep:  {len(sw.runs)} runs, max load {sw_max}, bench {sw.bench_seconds:.1f} s, wall {sw_wall:.1f} s")
	print(f"same max load: {ls_max == sw_max}")
	print(
		f"probes ratio search/sweep: {len(ls.runs) / max(1, len(sw.runs)):.2f}; "
		f"bench time ratio: {ls.bench_seconds / max(1e-9, sw.bench_seconds):.2f}"
	)


if __name__ == "__main__":
	main()
