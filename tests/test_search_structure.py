"""Structure, priors and stopping of the search (issue 19): the gp sampler, search/prior.py, search/stopping.py."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import optuna
import pytest

from inference_autotuner.runner.events import ExperimentFinished, LogMessage, TaskEvent
from inference_autotuner.runner.measure import Predicted
from inference_autotuner.search.prior import cannot_matter, prior_from_csv
from inference_autotuner.search.stopping import patience_of, should_stop
from inference_autotuner.search.strategies import make_sampler
from inference_autotuner.search.structured import StructuredSampler, _Axis
from inference_autotuner.space import build_space, params_key
from inference_autotuner.spec.models import OptimizationSpec, TaskSpec

REPO = Path(__file__).resolve().parents[1]


def load_benchmark():  # type: ignore[no-untyped-def]
	import importlib.util
	import sys

	spec = importlib.util.spec_from_file_location("search_efficiency", REPO / "benchmarks" / "search_efficiency.py")
	assert spec and spec.loader
	module = importlib.util.module_from_spec(spec)
	sys.modules["search_efficiency"] = module
	spec.loader.exec_module(module)
	return module


GRID = {"tp": [1, 2, 4, 8], "batch": [8, 16, 32, 64, 128, 256], "kv": ["auto", "fp8"]}


def truth(p: dict[str, Any]) -> float | None:
	"""Per-GPU throughput-like: grows with batch, fp8 helps, tp costs; a TPOT-like limit makes big batches infeasible
	and tp 1 without fp8 does not fit. Best: tp 1, fp8, batch 64."""
	if p["tp"] == 1 and p["kv"] == "auto":
		return None
	if p["batch"] > 32 * p["tp"] * (2 if p["kv"] == "fp8" else 1):
		return None
	return p["batch"] ** 0.7 * (1.3 if p["kv"] == "fp8" else 1.0) / p["tp"] ** 0.5


def drive(sampler: optuna.samplers.BaseSampler, n: int) -> list[dict[str, Any]]:
	space = build_space(GRID)
	study = optuna.create_study(sampler=sampler)
	seen = []
	for _ in range(n):
		t = study.ask(space.distributions)
		v = truth(t.params)
		t.set_constraint("slo", 0.0 if v is not None else 1.0)
		study.tell(t, -v if v is not None else 0.0)
		seen.append(dict(t.params))
	return seen


def test_ordinal_axes_are_ordered_and_log_spaced() -> None:
	axis = _Axis("batch", optuna.distributions.CategoricalDistribution([64, 8, 512, 16]))
	assert not axis.categorical
	pos = [axis.encode(v) for v in (8, 16, 64, 512)]
	assert pos == sorted(pos) and pos[0] == 0.0 and pos[-1] == 1.0
	assert pos[1] == pytest.approx(1 / 6)  # 8 -> 512 is six doublings: log-spaced
	three = _Axis("mode", optuna.distributions.CategoricalDistribution(["a", "b", "c"]))
	assert three.categorical  # unordered strings stay categories


def test_gp_never_repeats_and_finds_the_best_feasible() -> None:
	space = build_space(GRID)
	best = max(
		(v, params_key(c)) for c in space.combinations() if (v := truth(c)) is not None
	)  # (value, key) of the optimum
	found = []
	for seed in range(3):
		seen = drive(StructuredSampler(space, seed=seed), 24)
		keys = [params_key(p) for p in seen]
		assert len(set(keys)) == len(keys)  # a finite space is sampled without repeats
		found.append(best[1] in keys)
	assert all(found)  # 24 of 48 configurations: always found on this smooth landscape


def test_gp_proposes_nothing_being_measured() -> None:
	space = build_space(GRID)
	study = optuna.create_study(sampler=StructuredSampler(space, seed=1))
	running = [study.ask(space.distributions) for _ in range(6)]  # none told: all running
	keys = {params_key(t.params) for t in running}
	assert len(keys) == 6


def test_exact_prior_is_measured_first_and_wrong_prior_is_unlearned(tmp_path: Path) -> None:
	space = build_space(GRID)
	path = tmp_path / "prior.csv"
	combos = space.combinations()

	def write(value_of: Any) -> None:
		with path.open("w", newline="") as f:
			w = csv.writer(f)
			w.writerow(["param:tp", "param:batch", "param:kv", "status", "objective_value"])
			for c in combos:
				v = value_of(c)
				w.writerow([c["tp"], c["batch"], c["kv"], "ok" if v is not None else "infeasible", v or ""])

	write(truth)
	prior = prior_from_csv(path, space, "maximize")
	assert len(prior) == len(combos)
	sampler = StructuredSampler(space, seed=0)
	sampler.set_prior(prior)
	first = drive(sampler, 1)[0]
	assert truth(first) == max(v for c in combos if (v := truth(c)) is not None)

	write(lambda c: 1000.0 / c["batch"] if truth(c) is not None else 1.0)  # ranks the landscape upside down
	sampler = StructuredSampler(space, seed=0)
	sampler.set_prior(prior_from_csv(path, space, "maximize"))
	seen = drive(sampler, 30)
	best = max(v for c in combos if (v := truth(c)) is not None)
	assert any(truth(p) == best for p in seen)  # measurements override a wrong prediction


def _study_with(values: list[float | None]) -> optuna.Study:
	study = optuna.create_study()
	for v in values:
		t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
		t.set_constraint("slo", 0.0 if v is not None else 1.0)
		study.tell(t, v if v is not None else 0.0)
	return study


def test_stopping_rule_needs_patience_and_a_feasible_best() -> None:
	assert should_stop(_study_with([-10.0, -5.0, -9.99, -10.05]), 3) is not None  # 0.5% better is noise
	assert should_stop(_study_with([-10.0, -5.0, -9.0, -10.5]), 3) is None  # 5% better: an improvement
	assert should_stop(_study_with([None, None, None, None]), 3) is None  # nothing feasible yet: go on
	why = should_stop(_study_with([-10.0, None, None, -1.0]), 3)
	assert why is not None and "3 experiments since the best" in why and "stop_after" in why
	assert should_stop(_study_with([-10.0, None, None, -1.0]), 0) is None


def test_defaults_auto_strategy_gp_sampler_and_stopping() -> None:
	spec = TaskSpec.model_validate({"task_name": "t", "model": {"id_or_path": "m"}, "parameters": GRID})
	opt = spec.optimization
	assert opt.strategy == "auto" and patience_of(opt) == 10
	assert isinstance(make_sampler(opt, build_space(GRID)), StructuredSampler)
	mo = OptimizationSpec(objectives=["maximize_throughput", "minimize_p90_ttft"])
	assert isinstance(make_sampler(mo, build_space(GRID)), optuna.samplers.TPESampler)  # several objectives
	assert patience_of(OptimizationSpec(strategy="grid_search", stop_after=5)) == 0  # a grid enumerates
	assert patience_of(OptimizationSpec(strategy="random")) == 0
	assert patience_of(OptimizationSpec(strategy="random", stop_after=4)) == 4
	assert patience_of(OptimizationSpec(stop_after=0)) == 0


def test_batch_caps_above_the_concurrency_cannot_matter_in_predict_mode() -> None:
	base = {"task_name": "t", "model": {"id_or_path": "Qwen/Qwen3-32B"}, "base_runtime": "vllm"}
	space = build_space({"max-num-seqs": [64, 128], "tp": [1, 2]})
	spec = TaskSpec.model_validate({**base, "deployment_mode": "predict", "benchmark": {"num_concurrency": [16]}})
	assert cannot_matter(spec, space) == {"max-num-seqs": 64}
	spec = TaskSpec.model_validate({**base, "deployment_mode": "predict", "benchmark": {"num_concurrency": [100]}})
	assert cannot_matter(spec, space) == {}
	assert cannot_matter(TaskSpec.model_validate({**base, "benchmark": {"num_concurrency": [16]}}), space) == {}


def test_runner_stops_early_and_logs_why(tmp_path: Path) -> None:
	"""Through the real TaskRunner and store (the benchmark's replay): stop_after ends the task and the log says why."""
	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.store import Store

	bench = load_benchmark()
	path = tmp_path / "land.csv"
	space = build_space(GRID)
	with path.open("w", newline="") as f:
		w = csv.writer(f)
		w.writerow(["param:tp", "param:batch", "param:kv", "status", "tput"])
		for c in space.combinations():
			v = truth(c)
			w.writerow([c["tp"], c["batch"], c["kv"], "ok" if v is not None else "infeasible", v or ""])
	land = bench.Landscape(path, "maximize:tput", [])
	spec = TaskSpec.model_validate(
		{
			"task_name": "stop",
			"model": {"id_or_path": "landscape"},
			"base_runtime": "vllm",
			"deployment_mode": "predict",
			"parameters": land.grid,
			"benchmark": {"num_concurrency": [4096], "max_requests_per_iteration": 4096},
			"optimization": {
				"baseline": False,
				"repeat_top_k": 0,
				"warm_start": False,
				"max_iterations": 48,
				"seed": 0,
				"stop_after": 3,
			},
		}
	)
	store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
	logs: list[str] = []
	done: list[int] = []

	def on_event(ev: TaskEvent) -> None:
		if isinstance(ev, LogMessage):
			logs.append(ev.message)
		if isinstance(ev, ExperimentFinished):
			done.append(1)

	task_id = get_or_create_task(store, spec)
	runner = TaskRunner(
		store,
		task_id,
		emit=on_event,
		cancel=threading.Event(),
		engine=bench.ReplayEngine(),
		measurer=Predicted(bench.ReplayPredictor(land)),
	)  # type: ignore[arg-type]
	runner.run()
	store.engine.dispose()
	assert len(done) < 48
	assert any(m.startswith("stopping: 3 experiments since the best") for m in logs)


def test_strategy_auto_takes_a_predicted_prior_on_gpu_deployments_of_modelled_engines() -> None:
	"""Unset optimization.prior: 'predict' for auto on a docker/kubernetes/ome deployment of vLLM/SGLang/TRT-LLM with
	a named GPU; 'none' or another strategy: none. Then prepare() runs the real aiconfigurator over the space, hands
	the gp sampler the ranking and says in the log that it is the default."""
	from inference_autotuner.engines import get_engine
	from inference_autotuner.search.prior import effective_prior, prepare
	from inference_autotuner.space import build_task_space

	base = {
		"task_name": "t",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "docker",
		"hardware": {"gpu": "H100", "gpu_count": 8},
		"parameters": {"max-num-seqs": [64, 128]},
		"parallel_config": {"tp": [2, 4]},
		"benchmark": {"traffic_scenarios": ["D(1024,256)"], "num_concurrency": [64]},
	}
	spec = TaskSpec.model_validate(base)
	assert effective_prior(spec) == "predict"
	assert effective_prior(TaskSpec.model_validate({**base, "optimization": {"prior": "none"}})) is None
	assert effective_prior(TaskSpec.model_validate({**base, "optimization": {"strategy": "random"}})) is None
	assert effective_prior(TaskSpec.model_validate({**base, "hardware": {"gpu_count": 8}})) is None
	assert effective_prior(TaskSpec.model_validate({**base, "base_runtime": "llamacpp", "parameters": {}})) is None
	assert effective_prior(TaskSpec.model_validate({**base, "deployment_mode": "predict"})) is None

	pytest.importorskip("aiconfigurator")
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	study = optuna.create_study(sampler=make_sampler(spec.optimization, space))
	logs: list[str] = []
	prepare(study, spec, space, get_engine("vllm"), logs.append, model_path=spec.model.ref)
	sampler = study.sampler
	assert isinstance(sampler, StructuredSampler)
	assert len(sampler._prior) == 4 and any(v is not None for v in sampler._prior.values())
	assert any("the default of strategy auto" in line and "4 configurations predicted" in line for line in logs), logs
