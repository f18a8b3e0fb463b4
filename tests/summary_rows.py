"""Tasks with the rows the runner stores for baselines, repeats, pruning and multi-objective searches (for the summary,
CLI and API tests). Numbers are picked so the expected statistics can be worked out by hand (see test_summary.py)."""

from __future__ import annotations

import json
from typing import Any

from inference_autotuner.store import Experiment, Store, Task

# (number, params, origin, status, objective value, saved seconds)
SINGLE: list[tuple[int, dict[str, Any], str, str, float | None, float | None]] = [
	(1, {"parallel": 1}, "baseline", "success", 100.0, None),
	(2, {"parallel": 1}, "baseline", "success", 102.0, None),
	(3, {"parallel": 1}, "baseline", "success", 98.0, None),
	(4, {"parallel": 2}, "search", "success", 130.0, None),
	(5, {"parallel": 4}, "search", "success", 150.0, None),
	(6, {"parallel": 8}, "search", "failed", None, None),
	(7, {"parallel": 3}, "search", "pruned", 60.0, 12.5),
	(8, {"parallel": 6}, "warm_start", "success", 140.0, 3.0),
	(9, {"parallel": 2}, "repeat", "success", 126.0, None),
	(10, {"parallel": 2}, "repeat", "success", 128.0, None),
	(11, {"parallel": 4}, "repeat", "success", 110.0, None),
	(12, {"parallel": 4}, "repeat", "success", 130.0, None),
]

# (number, params, status, objective_values) for maximize_throughput + minimize_latency
MULTI: list[tuple[int, dict[str, Any], str, list[float | None] | None]] = [
	(1, {"parallel": 1}, "success", [100.0, 1.0]),
	(2, {"parallel": 2}, "success", [150.0, 2.0]),
	(3, {"parallel": 3}, "success", [90.0, 1.5]),  # dominated by parallel=1
	(4, {"parallel": 4}, "success", [120.0, 1.2]),
	(5, {"parallel": 2}, "repeat", [130.0, 1.8]),  # status set to success below: a repeat of parallel=2
	(6, {"parallel": 5}, "failed", [999.0, 0.1]),  # failed: never on the front
	(7, {"parallel": 6}, "success", [None, 0.5]),  # incomplete values: left out
]


def _spec(name: str, optimization: dict[str, Any]) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llamacpp",
		"parameters": {"parallel": [1, 2, 3, 4, 6, 8]},
		"optimization": {"strategy": "grid_search", "max_iterations": 6, **optimization},
	}


def _task(store: Store, name: str, optimization: dict[str, Any]) -> int:
	with store.session() as s:
		task = Task(
			name=name,
			spec=_spec(name, optimization),
			engine="llamacpp",
			deployment_mode="local",
			status="completed",
			study_name=f"study-{name}",
		)
		s.add(task)
		s.flush()
		return task.id


def seed_single(store: Store, name: str = "noisy", *, baseline: bool = True, repeats: bool = True) -> int:
	"""A maximize_throughput task: baseline x3, search, warm start, failed, pruned, repeats of two configs."""
	tid = _task(store, name, {"objective": "maximize_throughput"})
	with store.session() as s:
		for number, params, origin, status, value, saved in SINGLE:
			if (origin == "baseline" and not baseline) or (origin == "repeat" and not repeats):
				continue
			s.add(
				Experiment(
					task_id=tid,
					number=number,
					params=params,
					params_key=json.dumps(params, sort_keys=True),
					status=status,
					origin=origin,
					objective_value=value,
					score=None if value is None or status != "success" else -value,
					objective_values=None if value is None else [value],
					saved_seconds=saved,
					figures={"total_throughput": value, "mean_ttft": 0.01} if value is not None else None,
					launch_command=f"llama-server --parallel {params['parallel']}",
					duration=5.0,
				)
			)
	return tid


def seed_multi(store: Store, name: str = "pareto") -> int:
	"""A maximize_throughput + minimize_latency task (see MULTI)."""
	tid = _task(store, name, {"objectives": ["maximize_throughput", "minimize_latency"], "strategy": "nsga2"})
	with store.session() as s:
		for number, params, status, values in MULTI:
			origin = "repeat" if status == "repeat" else "search"
			status = "success" if status == "repeat" else status
			value = values[0] if values else None
			s.add(
				Experiment(
					task_id=tid,
					number=number,
					params=params,
					params_key=json.dumps(params, sort_keys=True),
					status=status,
					origin=origin,
					objective_value=value,
					score=-value if value is not None and status == "success" else None,
					objective_values=values,
					figures={"total_throughput": value} if value is not None else None,
					duration=5.0,
				)
			)
	return tid


def ids_by_number(store: Store, task_id: int) -> dict[int, int]:
	from sqlalchemy import select

	with store.session() as s:
		return dict(s.execute(select(Experiment.number, Experiment.id).where(Experiment.task_id == task_id)).all())  # type: ignore[arg-type]
