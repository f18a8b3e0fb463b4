"""Tuner overhead per trial, and the tuner's memory over a long task.

    python benchmarks/overhead.py [--experiments 100] [--real 3]

Part 1 (real engine): a short real tuning of llama.cpp; per experiment, the time the tuner spends outside engine
start-up, the load runs and engine stop (ask, record, tell, bookkeeping) as a share of the trial's wall time.
Goal: <= 2%.
Part 2 (long task): a 100-experiment task against a zero-delay streaming server process (benchmarks/zero_server.py),
so that nearly all time is the tuner's own; prints the tuner's RSS after experiment 10, 50 and 100 (goal: flat) and
the per-experiment bookkeeping time at the start vs the end (goal: not growing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference_autotuner.engines.base import FlagInfo, join_command, params_to_args  # noqa: E402
from inference_autotuner.runner.events import ExperimentFinished, TaskEvent  # noqa: E402
from inference_autotuner.runner.task import TaskRunner, get_or_create_task  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402


class ZeroEngine:
	"""An 'engine' that is the zero-delay server: lets part 2 time the tuner, not an engine."""

	name = "zero"
	version = "benchmark"
	health_path = "/health"

	def catalogue(self) -> dict[str, FlagInfo]:
		return {"seed": FlagInfo("seed", "int")}

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		return [
			sys.executable,
			str(REPO / "benchmarks" / "zero_server.py"),
			"--port",
			str(port),
			*params_to_args(params),
		]

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8080) -> str:
		return join_command(["zero_server.py", *params_to_args(params)])

	def world_size(self, params: dict[str, Any]) -> int:
		return 1


def run_task(spec: dict[str, Any], engine: Any = None) -> tuple[TaskRunner, list[float]]:
	store = Store()
	task_id = get_or_create_task(store, parse_spec(spec))
	rss: list[float] = []
	me = psutil.Process()

	def on_event(ev: TaskEvent) -> None:
		if isinstance(ev, ExperimentFinished):
			rss.append(me.memory_info().rss / 2**20)

	runner = TaskRunner(store, task_id, emit=on_event, cancel=threading.Event(), engine=engine)
	runner.run()
	return runner, rss


def overhead_share(timings: list[dict[str, float]]) -> list[float]:
	out = []
	for t in timings:
		own = t["ask_to_tell"] - t["startup"] - t["bench"] - t["stop"]
		out.append(own / t["ask_to_tell"])
	return out


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--experiments", type=int, default=100, help="experiments in the long task (part 2)")
	ap.add_argument("--real", type=int, default=3, help="experiments of the real llama.cpp tuning (part 1; 0 skips)")
	args = ap.parse_args()
	os.environ["AUTOTUNER_DATA_DIR"] = tempfile.mkdtemp(prefix="autotuner-bench-")

	if args.real:
		from inference_autotuner.models import resolve_model

		model = str(resolve_model("smollm2"))
		runner, _ = run_task(
			{
				"task_name": "overhead-real",
				"model": {"id_or_path": model},
				"base_runtime": "llama.cpp",
				"parameters": {"parallel": [1, 2, 4], "threads": [2]},
				"optimization": {
					"baseline": False,
					"repeat_top_k": 0,
					"warm_start": False,
					"strategy": "grid_search",
					"max_iterations": args.real,
				},
				"benchmark": {
					"traffic_scenarios": ["D(64,32)"],
					"num_concurrency": [4],
					"max_requests_per_iteration": 16,
				},
			}
		)
		shares = overhead_share(runner.timings)
		print("part 1: real llama.cpp experiments")
		for i, (t, s) in enumerate(zip(runner.timings, shares, strict=True), 1):
			print(
				f"  experiment {i}: wall {t['ask_to_tell']:.2f} s = start-up {t['startup']:.2f} + load {t['bench']:.2f}"
				f" + stop {t['stop']:.2f} + tuner {t['ask_to_tell'] - t['startup'] - t['bench'] - t['stop']:.3f} s"
				f"  -> tuner share {100 * s:.2f}%"
			)
		print(f"  tuner share, mean: {100 * statistics.mean(shares):.2f}% (goal <= 2%)")

	n = args.experiments
	runner, rss = run_task(
		{
			"task_name": "overhead-long",
			"model": {"id_or_path": str(REPO / "README.md")},  # any existing file: the zero server ignores it
			"base_runtime": "llama.cpp",
			"parameters": {"seed": {"type": "integer", "low": 1, "high": 100000}},  # any int flag
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"strategy": "bayesian",
				"max_iterations": n,
				"seed": 1,
			},
			"benchmark": {
				"traffic_scenarios": ["D(8,8)"],
				"num_concurrency": [2],
				"max_requests_per_iteration": 4,
				"warmup_requests": 0,
			},
		},
		engine=ZeroEngine(),
	)
	own = [t["ask_to_tell"] - t["startup"] - t["bench"] - t["stop"] for t in runner.timings]
	print(f"part 2: {n}-experiment task against a zero-delay server")
	for k in (10, n // 2, n):
		if k <= len(rss):
			print(f"  tuner RSS after experiment {k}: {rss[k - 1]:.1f} MiB")
	if len(rss) >= 10:
		print(f"  RSS growth from experiment 10 to {len(rss)}: {rss[-1] - rss[9]:+.1f} MiB ({rss[-1] / rss[9]:.3f}x)")
	q = max(1, len(own) // 10)
	print(
		f"  tuner time per experiment (ask, record, tell): first {q}: {1000 * statistics.mean(own[:q]):.1f} ms,"
		f" last {q}: {1000 * statistics.mean(own[-q:]):.1f} ms (ratio {statistics.mean(own[-q:]) / statistics.mean(own[:q]):.2f})"
	)


if __name__ == "__main__":
	main()
