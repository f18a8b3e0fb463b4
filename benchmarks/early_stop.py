"""In-run early stopping: a small real llama.cpp grid with a tight-ish hard SLO, early_stop on vs off.

    python benchmarks/early_stop.py [--ttft 0.8] [--requests 12] [--rounds 1]

Grid: llama.cpp --parallel {1, 2, 4, 8}, --threads 1 (SmolLM2-135M), concurrency levels [1, 2, 4, 8], traffic D(16,8),
objective maximize_goodput, SLO mean TTFT <= --ttft s, hard_fail (fail_ratio 0). Each configuration is one experiment
(engine start, every level, stop), measured with early_stop on and off (order alternated per round).
Printed per mode: total wall time, load runs measured, runs stopped early, estimated time saved (Outcome.saved_seconds),
the best configuration; then the wall-time ratio on/off and whether both picked the same best configuration.
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

from inference_autotuner.deploy.local import LocalProcessDeployer  # noqa: E402
from inference_autotuner.engines import get_engine  # noqa: E402
from inference_autotuner.models import resolve_model  # noqa: E402
from inference_autotuner.runner.experiment import run_experiment  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402

GRID = [{"parallel": p} for p in (1, 2, 4, 8)]


def run_grid(model: Path, work: Path, args: argparse.Namespace, enabled: bool) -> dict[str, Any]:
	spec = parse_spec(
		{
			"task_name": "early-stop-bench",
			"model": {"id_or_path": str(model)},
			"base_runtime": "llama.cpp",
			"optimization": {
				"objective": "maximize_goodput",
				"timeout_per_iteration": 1800,
				"early_stop": {"enabled": enabled, "min_requests": 4},
			},
			"benchmark": {
				"traffic_scenarios": ["D(16,8)"],
				"num_concurrency": [1, 2, 4, 8],
				"max_requests_per_iteration": args.requests,
				"max_time_per_iteration": 120,
				"warmup_requests": 1,
			},
			"slo": {"ttft": {"threshold": args.ttft, "hard_fail": True, "fail_ratio": 0}},
		}
	)
	t = time.monotonic()
	rows = []
	for i, params in enumerate(GRID):
		out = run_experiment(
			spec=spec,
			engine=get_engine("llamacpp"),
			deployer=LocalProcessDeployer(),
			model_path=model,
			params={**params, "threads": 1, "ctx-size": 2048},
			log_path=work / f"engine-{enabled}-{i}.log",
			cancel=threading.Event(),
			emit=lambda e: None,
			number=i + 1,
		)
		rows.append((params, out))
		if args.verbose:
			levels = ", ".join(
				f"c={r.concurrency} ttft {r.ttft.mean or 0:.2f}s gp {r.goodput or 0:.2f}"
				+ (" STOP" if r.stopped_early else "")
				for r in out.runs
			)
			print(f"  early_stop={enabled} p{params['parallel']}: {levels}", flush=True)
	wall = time.monotonic() - t
	scored = [(p, o.score.score) for p, o in rows if o.score is not None and o.score.score is not None]
	best = min(scored, key=lambda x: x[1])[0] if scored else None
	return {
		"wall": wall,
		"runs": sum(len(o.runs) for _, o in rows),
		"stopped": sum(len(o.stopped_early) for _, o in rows),
		"saved": sum(o.saved_seconds for _, o in rows),
		"best": best,
		"status": [f"p{p['parallel']}:{o.status}" for p, o in rows],
		"values": [
			round(o.score.objective_value, 3) if o.score and o.score.objective_value is not None else None
			for _, o in rows
		],
	}


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--ttft", type=float, default=0.8, help="hard mean-TTFT SLO, seconds")
	ap.add_argument("--requests", type=int, default=12, help="requests per load level")
	ap.add_argument("--rounds", type=int, default=1)
	ap.add_argument("--verbose", action="store_true", help="print every run's mean TTFT and goodput")
	args = ap.parse_args()
	model = resolve_model("smollm2")
	results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
	with tempfile.TemporaryDirectory() as tmp:
		for r in range(args.rounds):
			for enabled in (True, False) if r % 2 == 0 else (False, True):
				results[enabled].append(run_grid(model, Path(tmp), args, enabled))
	print(
		f"grid: llama.cpp parallel {[g['parallel'] for g in GRID]}, threads 1; concurrency [1, 2, 4, 8]; D(16,8); "
		f"{args.requests} requests/level; hard mean TTFT <= {args.ttft} s"
	)
	for enabled in (True, False):
		for res in results[enabled]:
			print(
				f"early_stop {'on ' if enabled else 'off'}: wall {res['wall']:.1f} s, {res['runs']} runs, "
				f"{res['stopped']} stopped early, est. saved {res['saved']:.1f} s, best {res['best']}, "
				f"{res['status']}, goodput {res['values']}"
			)
	on = sum(x["wall"] for x in results[True])
	off = sum(x["wall"] for x in results[False])
	same = all(a["best"] == b["best"] for a, b in zip(results[True], results[False], strict=True))
	print(f"wall on/off: {on / off:.2f} (saved {off - on:.1f} s measured); same best config: {same}")


if __name__ == "__main__":
	main()
