"""Search efficiency: how few experiments each strategy needs to find the best configuration of a known landscape.

    python benchmarks/search_efficiency.py --landscape benchmarks/data/qwen3-32b-h200-vllm.csv \\
        --objective maximize:objective_value [--constraint 'mean_tpot<=0.03' ...] [--seeds 10] \\
        [--strategies grid,random,tpe,tpe-parallel] [--target 0.99]

A landscape is a CSV (e.g. `autotuner export` of a full grid): columns `param:NAME` are parameters, `status` is ok
(or success) / anything else = infeasible, the other columns are metrics. It is replayed as a deployment: a lookup per
experiment, through the real TaskRunner, store and Optuna samplers (search/strategies.py); an infeasible row, a row
breaking a --constraint or a combination missing from the CSV is a failed (infeasible) experiment.

Printed per strategy: the median (over seeds) number of experiments until the best value found so far reaches
--target (default 99%) of the best feasible value, and until it is within 5% of it; ratios to grid and to random.
Grid search is full enumeration: it knows it holds the best only after all N configurations, so grid's count is N
(its seeded visiting order's first hit is printed for information). A run that never reaches the target within N
experiments counts as N.

tpe-parallel is TPE with optimization.max_parallel: 2 (two experiments at once, Optuna's constant liar): its count is
experiments, as for the others (the cost); the wall-clock rounds are about half of it.
"""

from __future__ import annotations

import argparse
import csv
import math
import operator
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from roofline_prior import workload_of, write_roofline_prior  # noqa: E402
from search_replay import fast_replay  # noqa: E402

from inference_autotuner.bench.metrics import RunMetrics, Stats  # noqa: E402
from inference_autotuner.deploy.predict import PredictionInfeasible  # noqa: E402
from inference_autotuner.runner.events import ExperimentFinished, TaskEvent  # noqa: E402
from inference_autotuner.runner.measure import Predicted  # noqa: E402
from inference_autotuner.runner.task import TaskRunner, get_or_create_task  # noqa: E402
from inference_autotuner.search.stopping import DEFAULT_PATIENCE, NOISE_FLOOR  # noqa: E402
from inference_autotuner.space import params_key  # noqa: E402
from inference_autotuner.spec.models import TaskSpec  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402

STRATEGIES = {
	"grid": "grid_search",
	"random": "random",
	"tpe": "bayesian",
	"tpe-parallel": "bayesian",
	"gp": "gp",
	"gp-parallel": "gp",
	"auto": "auto",
}
DEFAULT_STRATEGIES = "grid,random,tpe,gp"
PARALLEL = {"tpe-parallel": 2, "gp-parallel": 2}  # optimization.max_parallel of a strategy (1 when absent)
PATIENCE = DEFAULT_PATIENCE  # the stopping rule simulated on each search (search/stopping.py)
OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


def _value(text: str) -> Any:
	for cast in (int, float):
		try:
			return cast(text)
		except ValueError:
			pass
	return {"True": True, "False": False, "true": True, "false": False}.get(text, text)


def _safe(name: str) -> str:
	"""Parameter names the replay engine takes as plain flags (no __quant__/__parallel__ mapping)."""
	return name.replace("__quant__", "quant.").replace("__parallel__", "parallel.")


def parse_constraint(text: str) -> tuple[str, Any, float]:
	for sym in ("<=", ">=", "==", "<", ">"):
		if sym in text:
			col, value = text.split(sym, 1)
			return col.strip(), OPS[sym], float(value)
	raise SystemExit(f"bad --constraint {text!r}: use COLUMN<=X, COLUMN>=X, <, > or ==")


class Landscape:
	def __init__(self, path: Path, objective: str, constraints: list[str]) -> None:
		direction, _, self.column = objective.partition(":")
		if direction not in ("maximize", "minimize") or not self.column:
			raise SystemExit("--objective is maximize:COLUMN or minimize:COLUMN")
		self.maximize = direction == "maximize"
		self.rules = rules = [parse_constraint(c) for c in constraints]
		with path.open(newline="") as f:
			rows = list(csv.DictReader(f))
		if not rows or "status" not in rows[0]:
			raise SystemExit(f"{path}: needs a header with param:NAME columns and a status column")
		if self.column not in rows[0]:
			raise SystemExit(f"{path}: no column {self.column!r}; columns: {', '.join(rows[0])}")
		self.names = [c.removeprefix("param:") for c in rows[0] if c.startswith("param:")]
		self.values: dict[str, float | None] = {}
		self.refused: set[str] = set()  # status skipped: the tuner's launch plan refused it (never launched)
		self.rows: dict[str, dict[str, str]] = {}  # params_key -> the CSV row (every metric column)
		choices: dict[str, set[Any]] = {n: set() for n in self.names}
		for row in rows:
			params = {_safe(n): _value(row[f"param:{n}"]) for n in self.names}
			for n in self.names:
				choices[n].add(params[_safe(n)])
			ok = row["status"] in ("ok", "success") and row[self.column] not in ("", None)
			ok = ok and all(row.get(c) not in ("", None) and op(float(row[c]), x) for c, op, x in rules)
			self.values[params_key(params)] = float(row[self.column]) if ok else None
			self.rows[params_key(params)] = row
			if row["status"] == "skipped":
				self.refused.add(params_key(params))
		self.grid = {_safe(n): sorted(v, key=lambda x: (str(type(x)), x)) for n, v in choices.items()}
		feasible = [v for v in self.values.values() if v is not None]
		if not feasible:
			raise SystemExit(f"{path}: no feasible row")
		self.best = max(feasible) if self.maximize else min(feasible)
		self.size = 1
		for v in self.grid.values():
			self.size *= len(v)

	def reached(self, value: float, share: float) -> bool:
		return value >= share * self.best if self.maximize else value <= self.best / share

	def write_prior(self, path: Path, seed: int, error: float) -> None:
		"""A prediction of this landscape that misses: each figure (the objective and every constrained column) times
		a systematic factor per parameter value and a random factor per configuration, all log-normal and seeded.
		`error` is the standard deviation of the total log error (0.4: a predictor off by ~40%), half of its
		variance from the per-parameter bias (shared by every configuration with that value), half from noise. A
		row's predicted feasibility comes from its perturbed constrained columns."""
		rng = random.Random(f"prior-{seed}")
		columns = [self.column, *(c for c, _, _ in self.rules)]
		per_dim = error / math.sqrt(2 * max(1, len(self.names)))
		bias = {
			(col, n, v): math.exp(rng.gauss(0.0, per_dim))
			for col in columns
			for n in self.names
			for v in self.grid[_safe(n)]
		}
		with path.open("w", newline="") as f:
			w = csv.writer(f)
			w.writerow([*(f"param:{_safe(n)}" for n in self.names), "status", "objective_value"])
			for row in self.rows.values():
				params = {n: _value(row[f"param:{n}"]) for n in self.names}
				figures: dict[str, float] = {}
				for col in columns:
					if row.get(col) in ("", None):
						continue
					factor = math.exp(rng.gauss(0.0, error / math.sqrt(2)))
					for n in self.names:
						factor *= bias[(col, n, params[n])]
					figures[col] = float(row[col]) * factor
				ok = row["status"] in ("ok", "success") and self.column in figures
				ok = ok and all(c in figures and op(figures[c], x) for c, op, x in self.rules)
				value = figures.get(self.column)
				w.writerow([*(params[n] for n in self.names), "ok" if ok else "infeasible", value if ok else ""])


class ReplayEngine:
	"""The replay's engine. A configuration the landscape's task refused before launch (status skipped: e.g.
	TensorRT-LLM asked for an online FP8 GEMM) is refused by the real launch plan here too: its world size is
	beyond the replay's GPUs (engines/plan.py), so the runner records it as skipped and the sampler can know it
	before the search (search/prior.py refused_before_launch)."""

	name = "landscape"
	version = "replay"
	health_path = "/"
	GPUS = 8

	def __init__(self, refused: set[str] | None = None) -> None:
		self.refused = refused or set()

	def catalogue(self) -> dict[str, Any]:
		return {}

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		return ["landscape-replay"]

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8080) -> str:
		return "landscape-replay"

	def world_size(self, params: dict[str, Any]) -> int:
		return self.GPUS + 1 if params_key(params) in self.refused else 1


class ReplayPredictor:
	"""A predictor (runner/measure.py) that looks figures up: the landscape value becomes the figure the spec's
	objective reads.

	Thread-safe (max_parallel > 1 calls predict from several experiment threads): the landscape is only read, the
	call counter is kept under a lock. overlap > 1: a lookup takes milliseconds where a real experiment takes minutes,
	so without help the parallel experiments would rarely overlap and every ask would see none running. Each lookup is
	held until overlap - 1 later ones have started (or the task is cancelled, or hold_s passed: the end of a search):
	every ask then sees the other slots busy, the constant liar's case on real hardware.
	"""

	def __init__(self, landscape: Landscape, *, overlap: int = 1, hold_s: float = 3.0) -> None:
		self.landscape = landscape
		self.overlap = overlap
		self.hold_s = hold_s
		self.calls = 0
		self._cond = threading.Condition()
		self._cancel = threading.Event()

	def preflight(self) -> None:
		return None

	def bind_cancel(self, cancel: threading.Event) -> None:
		"""The runner hands over its cancel event: a held lookup ends as soon as the search is stopped."""
		self._cancel = cancel

	def predict(self, *, spec: Any, plan: Any, goodput: Any = None) -> tuple[list[RunMetrics], dict[str, Any]]:
		with self._cond:
			self.calls += 1
			mine = self.calls
			self._cond.notify_all()
			until = time.monotonic() + self.hold_s
			while self.overlap > 1 and self.calls < mine + self.overlap - 1 and not self._cancel.is_set():
				if time.monotonic() >= until:
					break
				self._cond.wait(0.05)
		return [self.run_for(params_key(plan.flags))], {"source": "landscape"}

	def run_for(self, key: str) -> RunMetrics:
		"""The one run of configuration `key`; PredictionInfeasible when it is infeasible or absent."""
		value = self.landscape.values.get(key)
		if value is None:
			raise PredictionInfeasible("infeasible (or absent) in the landscape")
		s = Stats(mean=value, p50=value, p90=value, p95=value, p99=value, min=value, max=value, count=1)
		zero = Stats(mean=0.0, p50=0.0, p90=0.0, p95=0.0, p99=0.0, min=0.0, max=0.0, count=1)
		run = RunMetrics(
			scenario="D(1,1)",
			concurrency=1,
			duration=1.0,
			total_requests=1,
			completed=1,
			errored=0,
			error_rate=0.0,
			ttft=zero,
			tpot=zero,
			itl=zero,
			e2e=zero if self.landscape.maximize else s,
			input_tokens=0,
			output_tokens=0,
			output_throughput=value if self.landscape.maximize else 0.0,
			total_throughput=value if self.landscape.maximize else 0.0,
			request_throughput=1.0,
			predicted=True,
		)
		return run


def stop_point(seen: list[float | None], maximize: bool, patience: int) -> int | None:
	"""Where search/stopping.py's rule ends a search that saw `seen` (objective values, None = infeasible)."""
	best: float | None = None
	since = 0
	for i, v in enumerate(seen, 1):
		if v is not None and (
			best is None or (v > best + NOISE_FLOOR * abs(best) if maximize else v < best - NOISE_FLOOR * abs(best))
		):
			best, since = v, 0
		else:
			since += 1
		if best is not None and since >= patience:
			return i
	return None


def spec_for(landscape: Landscape, strategy: str, seed: int, prior: Path | None) -> TaskSpec:
	"""The predict-mode task that replays `landscape` with `strategy` (the full and the fast replay share it)."""
	return TaskSpec.model_validate(
		{
			"task_name": f"replay-{strategy}-{seed}",
			"model": {"id_or_path": "landscape"},
			"base_runtime": "vllm",
			"deployment_mode": "predict",
			"hardware": {"gpu_count": ReplayEngine.GPUS},
			"parameters": landscape.grid,
			# the replay's load level is not the landscape's: the largest one keeps search/prior.py's rule for
			# batch caps above the concurrency (held in predict mode) from touching the landscape's parameters
			"benchmark": {"num_concurrency": [4096], "max_requests_per_iteration": 4096},
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"strategy": STRATEGIES[strategy],
				"objective": "maximize_throughput" if landscape.maximize else "minimize_latency",
				"max_iterations": landscape.size,
				"max_parallel": PARALLEL.get(strategy, 1),
				"seed": seed,
				"stop_after": 0,  # simulated on what was seen (stop_point), so one run gives both figures
				"prior": str(prior) if prior is not None else None,
			},
		}
	)


def replay(
	landscape: Landscape,
	strategy: str,
	seed: int,
	share: float,
	workdir: Path,
	prior: Path | None = None,
	*,
	fast: bool = False,
) -> tuple[int, int, int, bool]:
	"""(experiments to reach `share` of the best, to reach 95% of it, where the stopping rule would end the search,
	whether the best found by then reached `share`) for one seeded search; N when never reached / never stopped.
	fast: the in-process replay (benchmarks/search_replay.py), serial strategies only."""
	spec = spec_for(landscape, strategy, seed, prior)
	if fast:
		return fast_replay(landscape, spec, share, PATIENCE, stop_point, ReplayEngine(landscape.refused))
	store = Store(f"sqlite:///{workdir / f'{strategy}-{seed}-{prior.stem if prior is not None else False}.db'}")
	cancel = threading.Event()
	seen: list[float | None] = []
	hits: dict[float, int] = {}
	lock = threading.Lock()  # parallel experiments emit from their own threads

	def on_event(ev: TaskEvent) -> None:
		if not isinstance(ev, ExperimentFinished) or ev.status == "interrupted":
			return
		with lock:
			seen.append(ev.objective_value if ev.status == "success" else None)
			value = ev.objective_value
			if ev.status == "success" and value is not None:
				for target in (share, 0.95):
					if target not in hits and landscape.reached(value, target):
						hits[target] = len(seen)
			if share in hits and strategy != "grid" and stop_point(seen, landscape.maximize, PATIENCE) is not None:
				cancel.set()

	task_id = get_or_create_task(store, spec)
	runner = TaskRunner(
		store,
		task_id,
		emit=on_event,
		cancel=cancel,
		engine=ReplayEngine(landscape.refused),
		measurer=Predicted(ReplayPredictor(landscape, overlap=PARALLEL.get(strategy, 1))),
	)  # type: ignore[arg-type]
	runner.run()
	store.engine.dispose()
	stop = stop_point(seen, landscape.maximize, PATIENCE) or len(seen)
	found = share in hits and hits[share] <= stop
	return hits.get(share, landscape.size), hits.get(0.95, landscape.size), stop, found


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
	"""Every strategy without a prior and (unless --priors none) with a perturbed one; keys 'NAME' and 'NAME+prior'."""
	landscape = Landscape(Path(args.landscape), args.objective, args.constraint)
	strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
	bad = [s for s in strategies if s not in STRATEGIES]
	if bad:
		raise SystemExit(f"unknown strategies {bad}; valid: {', '.join(STRATEGIES)}")
	if args.fast and any(s in PARALLEL for s in strategies):
		raise SystemExit("--fast replays serial strategies only (drop tpe-parallel / gp-parallel)")
	priors = [p.strip() for p in args.priors.split(",") if p.strip()]
	if not set(priors) <= {"none", "perturbed", "roofline"}:
		raise SystemExit("--priors is a list of none, perturbed, roofline")
	roofline: Path | None = None
	feasible = sum(v is not None for v in landscape.values.values())
	print(
		f"landscape {args.landscape}: {landscape.size} configurations, {feasible} feasible, best "
		f"{args.objective} = {landscape.best:.6g}; target >= {args.target:.0%} of it"
	)
	out: dict[str, dict[str, float]] = {}
	with tempfile.TemporaryDirectory(prefix="search-eff-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
		for strategy in strategies:
			for mode in priors:
				if mode != "none" and strategy == "grid":
					continue  # full enumeration: a prior changes nothing
				name = {"none": strategy, "perturbed": f"{strategy}+prior", "roofline": f"{strategy}+roofline"}[mode]
				if mode == "roofline" and roofline is None:
					roofline = Path(d) / "roofline.csv"
					ok = write_roofline_prior(landscape, roofline, workload_of(Path(args.landscape), args.workload))
					print(f"  roofline prior ({args.workload or Path(args.landscape).stem}): {ok} predicted feasible")
				seeds = range(1) if strategy == "grid" else range(args.seeds)
				results = []
				for seed in seeds:
					prior = None
					if mode == "perturbed":
						prior = Path(d) / f"prior-{seed}.csv"
						landscape.write_prior(prior, seed, args.prior_error)
					elif mode == "roofline":
						prior = roofline
					results.append(replay(landscape, strategy, seed, args.target, Path(d), prior, fast=args.fast))
				print(f"  {name}: experiments to the target per seed {[r[0] for r in results]}", flush=True)
				first = statistics.median(r[0] for r in results)
				count = float(landscape.size) if strategy == "grid" else first
				out[name] = {
					"experiments": count,
					"first_hit": first,
					"within_5pct": statistics.median(r[1] for r in results),
					"per_seed": [r[0] for r in results],  # type: ignore[dict-item]
					"stopped_at": statistics.median(r[2] for r in results),
					"found_by_stop": sum(r[3] for r in results) / len(results),
				}
	grid = float(landscape.size)
	rand = out.get("random", {}).get("experiments")
	print(
		f"{'strategy':<14} {'to best':>8} {'to 5%':>7} {'vs grid':>8} {'vs random':>10} {'stops at':>9} {'found':>6}"
		f"  (median over {args.seeds} seeds; prior = perturbed by {args.prior_error:.0%}; stop: {PATIENCE} without "
		f"a {NOISE_FLOOR:.0%} gain)"
	)
	for name, r in out.items():
		vs_random = f"{r['experiments'] / rand:.2f}x" if rand else "-"
		base = name.removesuffix("+prior").removesuffix("+roofline")
		note = f"  (full enumeration; seeded order first hit at {r['first_hit']:.0f})" if base == "grid" else ""
		if PARALLEL.get(base, 1) > 1:
			note = f"  ({PARALLEL[base]} at once: ~{r['experiments'] / PARALLEL[base]:.0f} rounds)"
		stops = "-" if base == "grid" else f"{r['stopped_at']:.1f}"
		found = "-" if base == "grid" else f"{r['found_by_stop']:.0%}"
		print(
			f"{name:<14} {r['experiments']:>8.1f} {r['within_5pct']:>7.1f} {r['experiments'] / grid:>7.2f}x "
			f"{vs_random:>10} {stops:>9} {found:>6}{note}"
		)
	return out


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--landscape", required=True, help="CSV: param:NAME columns, status, metric columns")
	p.add_argument("--objective", required=True, help="maximize:COLUMN or minimize:COLUMN")
	p.add_argument("--constraint", action="append", default=[], help="COLUMN<=X (repeatable); broken = infeasible")
	p.add_argument("--seeds", type=int, default=10)
	p.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"any of {', '.join(STRATEGIES)}")
	p.add_argument(
		"--priors",
		default="none,perturbed",
		help="any of none, perturbed (the truth off by --prior-error), roofline (search/roofline.py from the "
		"landscape's model, GPU, engine and workload: benchmarks/roofline_prior.py); each strategy once per prior",
	)
	p.add_argument("--workload", default=None, help="the make_landscapes.py entry of --landscape (default: its stem)")
	p.add_argument("--prior-error", type=float, default=0.4, help="log-normal error of the perturbed prior")
	p.add_argument("--target", type=float, default=0.99, help="share of the best value that counts as reaching it")
	p.add_argument(
		"--fast", action="store_true", help="in-process replay: same sampler, prior and tell, no runner or store"
	)
	return run(p.parse_args(argv))


if __name__ == "__main__":
	main()
