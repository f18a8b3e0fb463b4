"""`autotuner explain` prints exactly what the runner launches: for every spec in examples/ and tests/data/, each
configuration the real runner measures has, row for row, the argv, status and world size explain showed for it.

The runner is the real TaskRunner with the spec's own deployer (local process, docker, Kubernetes/OME, prediction).
What cannot run here is stood in for at the last step only: the deployer's `start` records the argv it was handed
and refuses (no engine, no Docker image of vLLM, no cluster, no GPU here), its preflight and sweep do nothing, and
the model is where explain looks for it (no download). Predicted specs run the real prediction (aiconfigurator).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inference_autotuner.deploy.base import Launch
from inference_autotuner.errors import DeployError
from inference_autotuner.explain import explain
from inference_autotuner.runner import measure as measure_module
from inference_autotuner.runner import task as task_module
from inference_autotuner.runner.launch import DEFAULT_PORT, model_location
from inference_autotuner.runner.task import TaskRunner, get_or_create_task
from inference_autotuner.services.validate import load_spec
from inference_autotuner.space import params_key
from inference_autotuner.store import Experiment, Store

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted([*REPO.glob("examples/*.yaml"), *REPO.glob("tests/data/*.json"), *REPO.glob("tests/data/*.yaml")])
MEASURED = 6  # configurations the runner measures per spec (plus the baseline)


def _recording(deployer: Any, launched: list[tuple[list[str], dict[str, str]]]) -> None:
	"""Let the real deployer build everything, then record the Launch `start` gets instead of starting it."""
	if deployer is None:
		return  # a prediction launches nothing: the real one runs

	class Recording(type(deployer)):  # type: ignore[misc]
		def preflight(self) -> None:
			return None

		def sweep(self) -> int:
			return 0

		def start(self, launch: Launch, **kw: Any) -> Any:
			assert launch.world_size >= 1 and isinstance(launch.world_size, int)
			launched.append((list(launch.argv), dict(launch.env)))
			raise DeployError("recorded by the test, not started")

	deployer.__class__ = Recording


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_explain_prints_what_the_runner_launches(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.chdir(REPO)  # specs name model folders relative to the repository
	monkeypatch.setenv("AUTOTUNER_WORKLOAD_DIRS", str(REPO / "examples" / "workloads"))  # as the examples say
	spec = load_spec(path)
	if spec.deployment_mode == "predict":
		pytest.importorskip("aiconfigurator", reason="deployment_mode predict needs the predict extra")
	shown = explain(spec, limit=200)
	by_key = {params_key(r["params"]): r for r in shown["experiments"]}
	spec = spec.model_copy(
		update={"optimization": spec.optimization.model_copy(update={"repeat_top_k": 0, "repeats": 0})}
	)

	launched: list[tuple[list[str], dict[str, str]]] = []
	store = Store()
	task_id = get_or_create_task(store, spec)
	runner = TaskRunner(store, task_id, cancel=threading.Event(), max_trials=MEASURED)
	_recording(runner.deployer, launched)
	monkeypatch.setattr(task_module, "resolve_model", lambda ref, **kw: model_location(spec, runner.deployer))
	monkeypatch.setattr(measure_module, "free_port", lambda: DEFAULT_PORT)
	runner.run()

	with store.session() as s:
		rows = list(s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)))
		s.expunge_all()
	assert rows, "the runner measured nothing"
	if shown["space_size"] is None:  # a continuous space: explain shows its own draws; ask it about the runner's
		given = explain(spec, configs=[dict(e.params) for e in rows])["experiments"]
		by_key.update({params_key(r["params"]): r for r in given})
	elif shown["space_size"] <= 200:
		assert len(by_key) == shown["space_size"] + (spec.optimization.baseline is not False) - _baseline_in(shown)
	for exp in rows:
		row = by_key.get(exp.params_key)
		assert row is not None, f"explain never showed the runner's configuration {exp.params}"
		plan = (exp.gpu_info or {}).get("plan") or {}
		assert row["status"] == plan.get("status", "ok"), (exp.params, row["reason"], exp.failure_reason)
		if row["status"] != "ok":
			assert exp.status == row["status"] and exp.launch_argv is None and row["world_size"] is None
			continue
		assert row["world_size"] == plan["world_size"]
		assert row["argv"] == exp.launch_argv, f"explain: {row['argv']}\nrunner:  {exp.launch_argv}"
	started = [e for e in rows if e.launch_argv]
	assert [e.launch_argv for e in started] == [argv for argv, _ in launched], "stored argv = argv handed over"
	for exp, (_, env) in zip(started, launched, strict=True):
		assert by_key[exp.params_key]["env"] == env, "explain shows the environment the engine gets"


def _baseline_in(shown: dict[str, Any]) -> int:
	"""1 when the baseline's parameters are also one of the space's configurations (one key for both rows)."""
	rows = shown["experiments"]
	base = [params_key(r["params"]) for r in rows if r["origin"] == "baseline"]
	return int(bool(base) and base[0] in {params_key(r["params"]) for r in rows if r["origin"] == "search"})
