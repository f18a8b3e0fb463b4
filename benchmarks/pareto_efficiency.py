"""Multi-objective search efficiency: how much of a known landscape's Pareto front each strategy finds in N experiments.

    python benchmarks/pareto_efficiency.py --landscape benchmarks/data/qwen3-32b-h200-vllm.csv \\
        [--objectives maximize_throughput,minimize_p90_ttft] [--constraint 'mean_tpot<=0.03' ...] \\
        [--budgets 40,80] [--seeds 5] [--strategies grid,random,nsga2,mo_tpe]

The landscape (a CSV as for benchmarks/search_efficiency.py, whose Landscape and ReplayPredictor it reuses) is replayed
through the real TaskRunner, store and Optuna samplers with optimization.objectives set: the runner tells the study
each objective's figure and the constraints (an infeasible row, a broken --constraint or a combination missing from
the CSV is an infeasible experiment). --objectives are the spec's names; each reads the CSV column of its figure
(maximize_throughput: per_gpu_throughput, minimize_p90_ttft: p90_ttft, minimize_p90_latency: p90_e2e_latency, ...).

The true front is the Pareto front (inference_autotuner.scoring.pareto_front) of every feasible row. Printed per
strategy and budget N, median over seeds (and the worst seed):
- HV ratio: the hypervolume of what the search measured in N experiments / the true front's; reference point: the
  worst feasible value of each objective. A far outlier (e.g. a p90 TTFT of minutes) makes it forgiving.
- HV@front: the same with the reference point at the true front's own worst values pushed out by 10% of the front's
  range in each objective: only the region of the front counts, so it tells close fronts apart.
- front found: the distinct points (value pairs) of the true front measured; configurations with identical figures
  count once.
Grid search visits the grid in a seeded order: for a budget below the grid's size it is a sample without
replacement, shown for reference.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # search_efficiency and the package, from any directory

from search_efficiency import Landscape, ReplayEngine, ReplayPredictor  # noqa: E402

from inference_autotuner.bench.metrics import RunMetrics, Stats  # noqa: E402
from inference_autotuner.deploy.predict import PredictionInfeasible  # noqa: E402
from inference_autotuner.runner.events import ExperimentFinished, TaskEvent  # noqa: E402
from inference_autotuner.runner.measure import Predicted  # noqa: E402
from inference_autotuner.runner.task import TaskRunner, get_or_create_task  # noqa: E402
from inference_autotuner.scoring import OBJECTIVE_INFO, pareto_front  # noqa: E402
from inference_autotuner.space import params_key  # noqa: E402
from inference_autotuner.spec.models import TaskSpec  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402

STRATEGIES = {"grid": "grid_search", "random": "random", "nsga2": "nsga2", "mo_tpe": "mo_tpe"}
# the figure that the replay engine (world size 1) turns into per_gpu_*: the row's per-GPU column
PER_GPU = {"total_throughput": "per_gpu_throughput", "output_throughput": "per_gpu_output_throughput"}


def hypervolume_2d(points: Sequence[Sequence[float]], reference: Sequence[float], directions: Sequence[str]) -> float:
	"""The area dominated by `points` and bounded by `reference` (two objectives, each "minimize" or "maximize").

	Points no better than the reference in an objective add nothing."""
	signs = [1.0 if d == "minimize" else -1.0 for d in directions]
	rx, ry = (s * r for s, r in zip(signs, reference, strict=True))
	flipped = sorted((signs[0] * p[0], signs[1] * p[1]) for p in points)
	area, floor = 0.0, ry
	for x, y in flipped:  # by x ascending: each point adds the strip between its y and the lowest y so far
		if x < rx and y < floor:
			area += (rx - x) * (floor - y)
			floor = y
	return area


class ParetoLandscape:
	"""A landscape with several objectives: their CSV columns per feasible configuration, and the true front."""

	def __init__(self, path: Path, objectives: list[str], constraints: list[str]) -> None:
		bad = [o for o in objectives if o not in OBJECTIVE_INFO]
		if len(objectives) != 2 or bad:
			raise SystemExit(f"--objectives: two of {', '.join(OBJECTIVE_INFO)}")
		self.objectives = objectives
		self.directions = [OBJECTIVE_INFO[o].direction for o in objectives]
		self.columns = [OBJECTIVE_INFO[o].figure for o in objectives]
		first = f"{self.directions[0]}:{self.columns[0]}"
		self.landscape = Landscape(path, first, constraints)  # feasibility: status, constraints, first column
		self.points: dict[str, tuple[float, float]] = {}
		for key, value in self.landscape.values.items():
			row = self.landscape.rows[key]
			if value is None or any(row.get(c) in ("", None) for c in self.columns):
				continue
			x, y = (float(row[c]) for c in self.columns)
			self.points[key] = (x, y)
		keys = list(self.points)
		self.front = {keys[i] for i in pareto_front([self.points[k] for k in keys], self.directions)}
		self.reference = [
			(min if d == "maximize" else max)(p[i] for p in self.points.values()) for i, d in enumerate(self.directions)
		]
		front = [self.points[k] for k in self.front]
		self.front_points = set(front)
		self.hypervolume = hypervolume_2d(front, self.reference, self.directions)
		self.front_reference = []  # the front's nadir, pushed out by 10% of its range
		for i, d in enumerate(self.directions):
			lo, hi = min(p[i] for p in front), max(p[i] for p in front)
			pad = 0.1 * (hi - lo) or 0.1 * abs(hi) or 1.0
			self.front_reference.append(lo - pad if d == "maximize" else hi + pad)
		self.front_hypervolume = hypervolume_2d(front, self.front_reference, self.directions)


def _num(row: dict[str, str], column: str) -> float | None:
	text = row.get(column)
	return float(text) if text not in ("", None) else None


def _stats(row: dict[str, str], prefix: str, mean: str) -> Stats:
	"""Stats of one figure from the row's mean_/p50_/p90_/p99_ columns (a prediction: one value per percentile)."""
	m = _num(row, mean)
	p = {q: _num(row, f"{q}_{prefix}") for q in ("p50", "p90", "p99")}
	p50 = p["p50"] if p["p50"] is not None else m
	p90 = p["p90"] if p["p90"] is not None else m
	p99 = p["p99"] if p["p99"] is not None else p90
	return Stats(mean=m, p50=p50, p90=p90, p95=p90, p99=p99, min=m, max=p99, count=1)


class ParetoPredictor(ReplayPredictor):
	"""ReplayPredictor whose run carries every figure of the row: means and p50/p90/p99 of TTFT, TPOT and E2E, and
	the per-GPU throughputs as the (world size 1) replay engine's throughputs."""

	def __init__(self, landscape: ParetoLandscape, **kw: Any) -> None:
		super().__init__(landscape.landscape, **kw)
		self.pareto = landscape

	def run_for(self, key: str) -> RunMetrics:
		if key not in self.pareto.points:
			raise PredictionInfeasible("infeasible (or absent) in the landscape")
		row = self.landscape.rows[key]
		return RunMetrics(
			scenario="D(1,1)",
			concurrency=1,
			duration=1.0,
			total_requests=1,
			completed=1,
			errored=0,
			error_rate=0.0,
			ttft=_stats(row, "ttft", "mean_ttft"),
			tpot=_stats(row, "tpot", "mean_tpot"),
			itl=_stats(row, "itl", "mean_itl"),
			e2e=_stats(row, "e2e_latency", "mean_e2e_latency"),
			input_tokens=0,
			output_tokens=0,
			output_throughput=_num(row, PER_GPU["output_throughput"]) or 0.0,
			total_throughput=_num(row, PER_GPU["total_throughput"]) or 0.0,
			request_throughput=_num(row, "request_throughput") or 0.0,
			goodput=_num(row, "per_gpu_goodput"),
			predicted=True,
		)


def replay(land: ParetoLandscape, strategy: str, budget: int, seed: int, workdir: Path) -> tuple[float, float, float]:
	"""(hypervolume ratio, the same at the front's reference point, share of the true front's distinct points
	measured) of one seeded search of `budget` experiments."""
	store = Store(f"sqlite:///{workdir / f'{strategy}-{budget}-{seed}.db'}")
	spec = TaskSpec.model_validate(
		{
			"task_name": f"pareto-{strategy}-{budget}-{seed}",
			"model": {"id_or_path": "landscape"},
			"base_runtime": "vllm",
			"deployment_mode": "predict",
			"parameters": land.landscape.grid,
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"strategy": STRATEGIES[strategy],
				"objectives": land.objectives,
				"max_iterations": budget,
				"seed": seed,
			},
		}
	)
	found: dict[str, tuple[float, float]] = {}
	lock = threading.Lock()

	def on_event(ev: TaskEvent) -> None:
		if not isinstance(ev, ExperimentFinished) or ev.status != "success":
			return
		values = ev.objective_values or []
		key = params_key(ev.params)
		if len(values) != 2 or any(v is None for v in values):
			raise RuntimeError(f"experiment {ev.number}: objective values {values} not filled by the replay")
		if not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(values, land.points[key], strict=True)):
			raise RuntimeError(f"experiment {ev.number}: told {values}, the landscape has {land.points[key]}")
		with lock:
			found[key] = (values[0], values[1])

	task_id = get_or_create_task(store, spec)
	runner = TaskRunner(store, task_id, emit=on_event, engine=ReplayEngine(), measurer=Predicted(ParetoPredictor(land)))  # type: ignore[arg-type]
	runner.run()
	store.engine.dispose()
	points = list(found.values())
	hv = hypervolume_2d(points, land.reference, land.directions) / land.hypervolume
	hv_front = hypervolume_2d(points, land.front_reference, land.directions) / land.front_hypervolume
	return hv, hv_front, len(land.front_points & set(points)) / len(land.front_points)


def run(args: argparse.Namespace) -> dict[str, dict[int, dict[str, float]]]:
	objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
	land = ParetoLandscape(Path(args.landscape), objectives, args.constraint)
	strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
	bad = [s for s in strategies if s not in STRATEGIES]
	if bad:
		raise SystemExit(f"unknown strategies {bad}; valid: {', '.join(STRATEGIES)}")
	budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
	ref = ", ".join(f"{c} {r:.4g}" for c, r in zip(land.columns, land.reference, strict=True))
	front_ref = ", ".join(f"{c} {r:.4g}" for c, r in zip(land.columns, land.front_reference, strict=True))
	print(
		f"landscape {args.landscape}: {land.landscape.size} configurations, {len(land.points)} feasible; objectives "
		f"{', '.join(objectives)}; true front: {len(land.front_points)} distinct points ({len(land.front)} "
		f"configurations); reference point: {ref}; front reference point: {front_ref}"
	)
	out: dict[str, dict[int, dict[str, float]]] = {}
	with tempfile.TemporaryDirectory(prefix="pareto-eff-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
		for strategy in strategies:
			for budget in budgets:
				results = [replay(land, strategy, budget, seed, Path(d)) for seed in range(args.seeds)]
				out.setdefault(strategy, {})[budget] = {
					"hv_ratio": statistics.median(r[0] for r in results),
					"hv_min": min(r[0] for r in results),
					"hv_front": statistics.median(r[1] for r in results),
					"hv_front_min": min(r[1] for r in results),
					"front_share": statistics.median(r[2] for r in results),
				}
	print(
		f"{'strategy':<8} {'N':>4} {'HV ratio':>9} {'(worst)':>8} {'HV@front':>9} {'(worst)':>8} {'front found':>12}"
		f"  (median over {args.seeds} seeds)"
	)
	for name, per_budget in out.items():
		for budget, r in per_budget.items():
			print(
				f"{name:<8} {budget:>4} {r['hv_ratio']:>9.3f} {r['hv_min']:>8.3f} {r['hv_front']:>9.3f} "
				f"{r['hv_front_min']:>8.3f} {r['front_share']:>11.0%} of {len(land.front_points)}"
			)
	return out


def main(argv: list[str] | None = None) -> dict[str, dict[int, dict[str, float]]]:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--landscape", required=True, help="CSV: param:NAME columns, status, metric columns")
	p.add_argument("--objectives", default="maximize_throughput,minimize_p90_ttft", help="two spec objective names")
	p.add_argument("--constraint", action="append", default=[], help="COLUMN<=X (repeatable); broken = infeasible")
	p.add_argument("--budgets", default="40,80", help="experiments per search, comma-separated")
	p.add_argument("--seeds", type=int, default=5)
	p.add_argument("--strategies", default=",".join(STRATEGIES))
	return run(p.parse_args(argv))


if __name__ == "__main__":
	main()
