"""Sim-to-real (`autotuner plan SPEC --top K`): rank the space by prediction, measure the top K for real, compare.

1. Predict: the spec runs as a task named `<task_name>-predicted` in deployment_mode predict (aiconfigurator), over
   the whole grid when the space is finite (predictions cost milliseconds), else the spec's own search and budget.
2. Measure: the K best predicted configurations (by score, SLO penalties included) run, in that order, as the task
   `<task_name>-measured` on the real deployment: `measure_mode` when given, else the spec's own deployment_mode
   (a spec in predict mode must name one). Both tasks are ordinary tasks: resumable, listed, exported, and each
   experiment stays labelled predicted or measured.
3. Report: per configuration, predicted vs measured objective and key figures, with the error
   (predicted - measured) / measured in %.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import AutotunerError
from ..scoring import OBJECTIVE_INFO
from ..space import build_task_space, params_key
from ..spec.models import OptimizationSpec, TaskSpec
from ..store import ExperimentStatus, Store
from ..store.queries import experiments_of
from .events import EventSink, LogMessage, no_events
from .task import TaskRunner, get_or_create_task

MAX_PREDICTIONS = 5000
COMPARED = ("mean_ttft", "mean_tpot", "mean_e2e_latency", "output_throughput")


def _error_pct(predicted: float | None, measured: float | None) -> float | None:
	if predicted is None or measured is None or measured == 0:
		return None
	return (predicted - measured) / abs(measured) * 100.0


def _study(opt: OptimizationSpec, role: str) -> dict[str, str]:
	"""The predicted and the measured task each get their own study: a named one gets the role as a suffix."""
	return {"study_name": f"{opt.study_name[:225]}-{role}"} if opt.study_name else {}


def predicted_spec(spec: TaskSpec) -> TaskSpec:
	size = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config).size()
	opt = spec.optimization
	if size is not None and size <= MAX_PREDICTIONS:
		opt = opt.model_copy(update={"strategy": "grid_search", "max_iterations": size})
	# predictions do not vary and the ranking is the point: no baseline, repeats or warm start
	opt = opt.model_copy(update={"baseline": False, "repeat_top_k": 0, "warm_start": False, **_study(opt, "predicted")})
	return spec.model_copy(
		update={"task_name": f"{spec.task_name}-predicted", "deployment_mode": "predict", "optimization": opt}
	)


def measured_spec(spec: TaskSpec, top: int, measure_mode: str | None) -> TaskSpec:
	mode = measure_mode or (spec.deployment_mode if spec.deployment_mode != "predict" else None)
	if mode is None or mode == "predict":
		raise AutotunerError(
			"autotuner plan measures on a real deployment, and this spec is in predict mode",
			hint="pass --measure-mode local|docker|kubernetes|ome (or give the spec its real deployment_mode)",
		)
	opt = spec.optimization.model_copy(
		update={"max_iterations": top, "warm_start": False, **_study(spec.optimization, "measured")}
	)
	return spec.model_copy(
		update={"task_name": f"{spec.task_name}-measured", "deployment_mode": mode, "optimization": opt}
	)


def run_plan(
	store: Store,
	spec: TaskSpec,
	top: int,
	*,
	measure_mode: str | None = None,
	emit: EventSink = no_events,
	cancel: threading.Event | None = None,
	measure_engine: Any = None,
	measure_deployer: Any = None,
) -> dict[str, Any]:
	"""Predict, measure the top `top`, and return the comparison (see `plan_table` for its shape)."""
	if top < 1:
		raise AutotunerError("--top must be at least 1")
	mspec = measured_spec(spec, top, measure_mode)  # refuse a missing real mode before predicting anything
	pspec = predicted_spec(spec)
	cancel = cancel or threading.Event()
	pid = get_or_create_task(store, pspec)
	emit(LogMessage(message=f"predicting {pspec.optimization.max_iterations} configuration(s)"))
	TaskRunner(store, pid, emit=emit, cancel=cancel).run()
	ranked = sorted(
		(e for e in experiments_of(store, pid) if e.status == ExperimentStatus.SUCCESS and e.score is not None),
		key=lambda e: (e.score, e.number),
	)
	if not ranked:
		raise AutotunerError(
			f"no configuration of '{spec.task_name}' is predicted feasible: nothing to measure",
			hint=f"see why with: autotuner show {pspec.task_name}",
		)
	chosen = ranked[:top]
	mid = get_or_create_task(store, mspec)
	emit(LogMessage(message=f"measuring the top {len(chosen)} on deployment_mode {mspec.deployment_mode}"))
	runner = TaskRunner(
		store,
		mid,
		emit=emit,
		cancel=cancel,
		enqueue=[dict(e.params) for e in chosen],
		engine=measure_engine,
		deployer=measure_deployer,
	)
	runner.run()
	measured = {e.params_key: e for e in experiments_of(store, mid)}
	direction, _figure, unit = OBJECTIVE_INFO[spec.optimization.objective]
	rows: list[dict[str, Any]] = []
	for rank, p in enumerate(chosen, 1):
		m = measured.get(params_key(p.params))
		pf, mf = p.figures or {}, (m.figures if m else None) or {}
		rows.append(
			{
				"rank": rank,
				"params": p.params,
				"predicted_objective": p.objective_value,
				"measured_objective": m.objective_value if m else None,
				"error_pct": _error_pct(p.objective_value, m.objective_value if m else None),
				"measured_status": m.status if m else "not measured",
				"measured_reason": m.failure_reason if m else None,
				"figures": {
					k: {"predicted": pf.get(k), "measured": mf.get(k), "error_pct": _error_pct(pf.get(k), mf.get(k))}
					for k in COMPARED
				},
			}
		)
	ok = [r for r in rows if r["measured_objective"] is not None]
	best_measured = (
		(max if direction == "maximize" else min)(ok, key=lambda r: r["measured_objective"])["rank"] if ok else None
	)
	errors = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
	return {
		"task_name": spec.task_name,
		"objective": spec.optimization.objective,
		"unit": unit,
		"predicted_task": pspec.task_name,
		"measured_task": mspec.task_name,
		"measure_mode": mspec.deployment_mode,
		"predicted_configurations": len(experiments_of(store, pid)),
		"predicted_feasible": len(ranked),
		"rows": rows,
		"best_measured_rank": best_measured,
		"mean_abs_error_pct": sum(errors) / len(errors) if errors else None,
	}
