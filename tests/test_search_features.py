"""Issue 8, the runner's side: multi-objective studies and the stored Pareto front, constraints told to Optuna, warm
start, pruning, baseline and repeats, parallel experiments.

Search behaviour is checked on a predicted landscape (aiconfigurator: real predictions, milliseconds each, the
`predict` extra); the runner's real-process parts (parallel engines, baseline, repeats, a pruner stopping a
configuration after its first load level, a multi-objective MO-TPE study and its front) on the real llama.cpp engine.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import optuna
import pytest
from sqlalchemy import select

from inference_autotuner.runner.events import LogMessage, TaskEvent
from inference_autotuner.runner.task import TaskRunner, get_or_create_task
from inference_autotuner.scoring import dominates
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.store import Experiment, ExperimentOrigin, ExperimentStatus, Store, Task

needs_predict = pytest.mark.skipif(
	importlib.util.find_spec("aiconfigurator") is None,
	reason="aiconfigurator is not installed (pip install -e '.[predict]')",
)


def predicted(name: str, **opt: Any) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [16, 64, 256]},
		"quant_config": {"gemm_dtype": ["auto", "fp8"], "kvcache_dtype": ["auto", "fp8"]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "seed": 5, **opt},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [64]},
		"slo": {"tpot": {"threshold": 0.05, "hard_fail": True, "fail_ratio": 0.0}},
	}


def run(spec: dict[str, Any], **kw: Any) -> tuple[Store, int, list[TaskEvent]]:
	store = Store()
	task_id = get_or_create_task(store, parse_spec(spec))
	events: list[TaskEvent] = []
	TaskRunner(store, task_id, emit=events.append, cancel=threading.Event(), **kw).run()
	return store, task_id, events


def _message(ev: TaskEvent) -> str:
	return ev.message if isinstance(ev, LogMessage) else ""


def rows(store: Store, task_id: int) -> list[Experiment]:
	with store.session() as s:
		found = s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)).all()
		s.expunge_all()
		return list(found)


def study_of(store: Store, task_id: int) -> optuna.Study:
	with store.session() as s:
		task = s.get(Task, task_id)
		assert task is not None
		name = task.study_name
	return optuna.load_study(study_name=name, storage=store.optuna_storage())


@needs_predict
@pytest.mark.parametrize("strategy", ["nsga2", "mo_tpe"])
def test_multi_objective_front_is_stored_and_undominated(strategy: str) -> None:
	spec = predicted(
		f"mo-{strategy}",
		strategy=strategy,
		objectives=["maximize_throughput", "minimize_p90_ttft"],
		max_iterations=24,
	)
	store, task_id, _ = run(spec)
	exps = rows(store, task_id)
	assert len(exps) == 24
	ok = [e for e in exps if e.status == ExperimentStatus.SUCCESS]
	front = [e for e in ok if e.pareto]
	assert len(front) >= 2, "throughput per GPU and p90 TTFT trade off across TP sizes"
	# in lower-is-better coordinates: -throughput, ttft
	pts = {e.number: (-e.objective_values[0], e.objective_values[1]) for e in ok}  # type: ignore[index]
	for e in front:
		assert not any(dominates(pts[o.number], pts[e.number]) for o in ok), f"experiment {e.number} is dominated"
	for e in ok:
		if not e.pareto:
			assert any(dominates(pts[o.number], pts[e.number]) for o in front), f"{e.number} should be on the front"
	study = study_of(store, task_id)
	assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
	told = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
	assert told and all(set(t.constraints) == {"slo", "failure"} for t in told)
	by_trial = {e.trial_number: e for e in exps}
	for t in told:  # infeasible (hard TPOT SLO) experiments are infeasible for the sampler too
		e = by_trial.get(t.number)
		if e is not None and e.status == ExperimentStatus.INFEASIBLE:
			assert t.constraints["slo"] > 0
		if e is not None and e.status == ExperimentStatus.SUCCESS:
			assert t.constraints["slo"] == 0 and t.constraints["failure"] == 0


@needs_predict
def test_refused_configurations_are_constraint_violations() -> None:
	"""tp=16 on 8 GPUs is refused before launch: recorded, never run, and told as a failure constraint."""
	spec = predicted("refused", strategy="grid_search", max_iterations=12)
	spec["parallel_config"] = {"tp": [8, 16]}
	spec["parameters"] = {"max-num-seqs": [64, 256]}
	spec["quant_config"] = None
	store, task_id, _ = run(spec)
	exps = rows(store, task_id)
	refused = [e for e in exps if e.params.get("__parallel__tp") == 16]
	assert refused and all(e.status in (ExperimentStatus.SKIPPED, ExperimentStatus.INFEASIBLE) for e in refused)
	study = study_of(store, task_id)
	by_number = {t.number: t for t in study.trials}
	for e in refused:
		assert e.trial_number is not None
		c = by_number[e.trial_number].constraints
		assert c["failure"] > 0 or c["slo"] > 0


@needs_predict
def test_warm_start_takes_the_best_of_an_earlier_similar_task() -> None:
	store, first_id, _ = run(predicted("earlier", strategy="bayesian", max_iterations=10))
	best = sorted(
		(e for e in rows(store, first_id) if e.status == ExperimentStatus.SUCCESS and e.score is not None),
		key=lambda e: e.score,  # type: ignore[arg-type, return-value]
	)[:2]
	spec = predicted("later", strategy="bayesian", max_iterations=4, warm_start=True, warm_start_top_k=2, seed=9)
	_, later_id, events = run(spec)
	later = rows(store, later_id)
	assert [e.origin for e in later[:2]] == [ExperimentOrigin.WARM_START] * 2
	assert [e.params_key for e in later[:2]] == [e.params_key for e in best]
	assert all(e.origin == ExperimentOrigin.SEARCH for e in later[2:])
	assert len(later) == 4, "warm-start experiments count in max_iterations"
	assert any("warm start: 2 configuration(s)" in _message(ev) for ev in events)
	# a different model is not similar: nothing to start from
	other = predicted("other-model", strategy="bayesian", max_iterations=2, warm_start=True)
	other["model"] = {"id_or_path": "Qwen/Qwen3-8B"}
	_, other_id, _ = run(other)
	assert all(e.origin == ExperimentOrigin.SEARCH for e in rows(store, other_id))
	# the same model on 4 of the same GPUs: the earlier tasks' best configurations that fit 4 GPUs come first
	four = predicted("four-gpus", strategy="bayesian", max_iterations=3, warm_start=True, warm_start_top_k=1)
	four["hardware"]["gpu_count"] = 4
	four["parallel_config"] = {"tp": [1, 2, 4]}
	_, four_id, events = run(four)
	first = rows(store, four_id)[0]
	assert first.origin == ExperimentOrigin.WARM_START and first.params["__parallel__tp"] <= 4, first.params
	assert any("[same GPU type]" in _message(ev) for ev in events), [_message(ev) for ev in events]


@needs_predict
def test_pruner_stops_configurations_behind_at_their_first_levels() -> None:
	spec = predicted("pruned", strategy="random", max_iterations=20, pruner="median")
	spec["benchmark"]["num_concurrency"] = [8, 32, 64, 128]
	store, task_id, _ = run(spec)
	exps = rows(store, task_id)
	pruned = [e for e in exps if e.status == ExperimentStatus.PRUNED]
	assert pruned, "the median pruner stops some configurations"
	assert all(e.runs is not None and len(e.runs) < 4 for e in pruned)
	study = study_of(store, task_id)
	assert sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials) >= len(pruned)
	full = [e for e in exps if e.status == ExperimentStatus.SUCCESS]
	assert full and all(len(e.runs or []) == 4 for e in full)


def llama(name: str, model_path: Path, **opt: Any) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": [1], "ctx-size": 2048},
		"optimization": {
			"strategy": "grid_search",
			"max_iterations": 2,
			"timeout_per_iteration": 120,
			"warm_start": False,
			**opt,
		},
		"benchmark": {
			"traffic_scenarios": ["D(16,8)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 4,
			"warmup_requests": 0,
		},
	}


def test_baseline_first_and_repeats_of_the_best(model_path: Path) -> None:
	"""Baseline (engine defaults) first, the search, then the best config and the baseline measured again."""
	spec = llama("repeats", model_path, repeat_top_k=1, repeats=1, noise_runs=1)  # one baseline run before the search
	store, task_id, _ = run(spec)
	exps = rows(store, task_id)
	assert [e.origin for e in exps[:3]] == ["baseline", "search", "search"]
	assert exps[0].params == {"threads": 1, "ctx-size": 2048}, "only the fixed flags (a one-element list is fixed)"
	assert all(e.status == ExperimentStatus.SUCCESS for e in exps), [(e.number, e.failure_reason) for e in exps]
	repeats = [e for e in exps if e.origin == ExperimentOrigin.REPEAT]
	assert len(exps) == 5 and len(repeats) == 2
	searched = [e for e in exps if e.origin == ExperimentOrigin.SEARCH]
	top = min(searched, key=lambda e: e.score)  # type: ignore[arg-type, return-value]
	assert {r.params_key for r in repeats} == {top.params_key, exps[0].params_key}
	with store.session() as s:
		task = s.get(Task, task_id)
		assert task is not None and task.status == "completed"
		best = s.get(Experiment, task.best_experiment_id)
		assert best is not None and best.params_key in {top.params_key, exps[0].params_key}


def test_parallel_experiments_overlap_and_differ(model_path: Path) -> None:
	"""max_parallel 2 with one thread per engine on 2 cores: two engines at once, all four configurations once."""
	spec = llama("parallel", model_path, max_parallel=2, baseline=False, repeat_top_k=0, max_iterations=4)
	spec["parameters"]["batch-size"] = [256, 512]
	store, task_id, events = run(spec)
	exps = rows(store, task_id)
	assert len(exps) == 4 and len({e.params_key for e in exps}) == 4
	assert all(e.status == ExperimentStatus.SUCCESS for e in exps), [(e.number, e.failure_reason) for e in exps]
	assert any("2 experiment(s) at once" in _message(ev) for ev in events)
	spans = sorted((e.started_at, e.finished_at) for e in exps)
	assert any(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1)), "no two experiments overlapped"
	# the other experiment's engine is counted apart in each run's audit: not as this run's client (which then
	# looked saturated) nor as another user of the machine
	audits = [r["audit"] for e in exps for r in (e.runs or []) if isinstance(r, dict) and r.get("audit")]
	assert any((a.get("sibling_cpu") or 0) > 0 for a in audits), audits
	assert not any(a.get("client_bound") for a in audits)


@needs_predict
def test_a_baseline_inside_the_grid_is_not_measured_again() -> None:
	"""baseline: {your flags} inside the space: the grid measures only the other configurations, then stops."""
	spec = predicted("baseline-in-grid", strategy="grid_search", max_iterations=10, baseline={"max-num-seqs": 64})
	spec["quant_config"] = None
	spec["parallel_config"] = None
	spec["parameters"] = {"max-num-seqs": [16, 64, 256], "tensor-parallel-size": 2}
	store, task_id, events = run(spec)
	exps = rows(store, task_id)
	assert [e.origin for e in exps] == ["baseline", "search", "search"]
	assert exps[0].params == {"max-num-seqs": 64, "tensor-parallel-size": 2}
	assert sorted(e.params["max-num-seqs"] for e in exps[1:]) == [16, 256]
	assert any("all 3 configurations measured" in _message(ev) for ev in events)


def test_median_pruner_on_real_llamacpp_stops_a_queueing_configuration(model_path: Path) -> None:
	"""Multi-fidelity on the real engine: two configurations that batch 4 requests are measured at both load levels;
	then --parallel 1, which queues them, is pruned by the median pruner after its first level and never runs the
	second. Its mean TTFT at concurrency 4 waits for 1.5 earlier 128-token answers on average: 3.3 s against 0.7 s
	measured on a loaded 2-core machine, a queueing effect that CPU noise does not hide."""
	spec = llama(
		"pruned-real",
		model_path,
		strategy="random",
		pruner="median",
		objective="minimize_ttft",
		baseline=False,
		repeat_top_k=0,
		max_iterations=3,
	)
	spec["parameters"]["parallel"] = [1, 4, 8]
	spec["benchmark"].update(
		traffic_scenarios=["D(16,128)"], num_concurrency=[4, 8], max_requests_per_iteration=4, warmup_requests=1
	)
	order = [{"parallel": 4, "threads": 1, "ctx-size": 2048}, {"parallel": 8, "threads": 1, "ctx-size": 2048}]
	order.append({"parallel": 1, "threads": 1, "ctx-size": 2048})
	store, task_id, events = run(spec, enqueue=order)
	exps = rows(store, task_id)
	assert [e.params["parallel"] for e in exps] == [4, 8, 1]
	assert [e.status for e in exps] == ["success", "success", "pruned"], [(e.number, e.failure_reason) for e in exps]
	assert [len(e.runs or []) for e in exps] == [2, 2, 1], "the pruned one ran its first level only"
	ttft = [e.runs[0]["ttft"]["mean"] for e in exps]  # type: ignore[index]
	assert ttft[2] > max(ttft[:2]), ttft
	assert (exps[2].saved_seconds or 0) > 0, "the time the skipped level would have taken is reported"
	states = [t.state for t in study_of(store, task_id).trials]
	assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.PRUNED]


def test_multi_objective_on_real_llamacpp(model_path: Path) -> None:
	"""MO-TPE on the real engine: every experiment stores both natural figures, the study is told both (with its
	constraints), and the stored front is exactly the undominated experiments."""
	spec = llama(
		"mo-real",
		model_path,
		strategy="mo_tpe",
		objectives=["maximize_throughput", "minimize_ttft"],
		baseline=False,
		repeat_top_k=0,
		max_iterations=3,
		seed=3,
	)
	spec["parameters"]["parallel"] = [1, 2, 4]
	store, task_id, _ = run(spec)
	exps = rows(store, task_id)
	assert len(exps) == 3 and all(e.status == ExperimentStatus.SUCCESS for e in exps), [
		(e.number, e.failure_reason) for e in exps
	]
	assert all(e.objective_values is not None and len(e.objective_values) == 2 for e in exps)
	pts = {e.number: (-e.objective_values[0], e.objective_values[1]) for e in exps}  # type: ignore[index]
	front = {e.number for e in exps if e.pareto}
	undominated = {n for n, p in pts.items() if not any(dominates(q, p) for q in pts.values())}
	assert front and front == undominated
	study = study_of(store, task_id)
	assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
	told = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
	assert len(told) >= 3 and all(set(t.constraints) == {"slo", "failure"} for t in told)
	# a proposal of a configuration already measured is told its stored figures, never measured again
	by_parallel = {e.params["parallel"]: e for e in exps}
	for t in told:
		assert t.values == pytest.approx(by_parallel[t.params["parallel"]].objective_values)
