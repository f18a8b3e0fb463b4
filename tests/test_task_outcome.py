"""How a task ends and where its study lives (issue 14): a task whose every experiment failed ends `failed` with the
reasons counted; optimization.study_name / optimization.storage put the task's Optuna study in another database,
where a resumed run finds it again; a study that is not the task's own is refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from conftest import REPO, autotuner_cmd
from fastapi.testclient import TestClient

from inference_autotuner.paths import default_db_url
from inference_autotuner.runner.verdict import all_failed, reason_kind
from inference_autotuner.store import Experiment, Store, Task

EXITED = r"[^,]*engine exited with code 1 before it was ready[^,]*"  # one kind of failure, counted


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
	env = {**os.environ, "COLUMNS": "240"}  # tables unwrapped
	return subprocess.run([*autotuner_cmd(), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def write_spec(tmp_path: Path, spec: dict[str, Any]) -> Path:
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	return path


def tuning_spec(model_path: Path, name: str, parameters: dict[str, Any], **optimization: Any) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": parameters,
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"timeout_per_iteration": 90,
			**optimization,
		},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [2], "max_requests_per_iteration": 4},
	}


def trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
	return optuna.load_study(study_name=name, storage=storage).trials


# -- the verdict on stored rows (real SQLite) ---------------------------------------------------------------------
def _task_with(store: Store, name: str, rows: list[tuple[str, str | None]]) -> int:
	with store.session() as s:
		task = Task(name=name, spec={}, engine="llamacpp", deployment_mode="local", study_name=name)
		s.add(task)
		s.flush()
		for i, (status, reason) in enumerate(rows, 1):
			s.add(
				Experiment(
					task_id=task.id,
					number=i,
					params={"parallel": i},
					params_key=json.dumps({"parallel": i}),
					status=status,
					failure_reason=reason,
				)
			)
		return task.id


def test_verdict_counts_failure_reasons_and_spares_measured_or_refused_tasks(tmp_path: Path) -> None:
	store = Store(f"sqlite:///{tmp_path / 'verdict.db'}")
	crash = "engine exited with code 1 before it was ready; last log lines:\nerror: bad ctx\n  hint: full log: /x/1.log"
	crash2 = "engine exited with code 1 before it was ready; last log lines:\nsomething else"
	timeout = "timed out after 90 s (timeout_per_iteration)"
	failed = _task_with(store, "failed", [("failed", crash), ("failed", timeout), ("failed", crash2)])
	assert all_failed(store, failed) == (
		"all 3 experiments failed: 2 x engine exited with code 1 before it was ready, "
		"1 x timed out after 90 s (timeout_per_iteration)"
	)
	one = _task_with(store, "one", [("failed", "engine exited with code 3 during the load run (log: /a/b.log)")])
	assert all_failed(store, one) == "the only experiment failed: 1 x engine exited with code 3 during the load run"
	skipped = _task_with(store, "with-skipped", [("failed", crash), ("skipped", "does not fit"), ("failed", crash)])
	assert all_failed(store, skipped) == (
		"all 2 experiments failed (1 more skipped before launch): 2 x engine exited with code 1 before it was ready"
	)
	# measured (infeasible, pruned, success) or only refused before launch: the tool worked, the task completes
	for name, rows in {
		"infeasible": [("infeasible", "p90 latency SLO missed"), ("infeasible", "p90 latency SLO missed")],
		"some-measured": [("failed", crash), ("success", None)],
		"pruned": [("failed", crash), ("pruned", "behind the others")],
		"all-skipped": [("skipped", "does not fit"), ("skipped", "does not fit")],
		"interrupted-only": [("interrupted", "cancelled")],
		"nothing": [],
	}.items():
		assert all_failed(store, _task_with(store, name, rows)) is None, name
	assert reason_kind(None) == "no reason recorded"
	assert len(reason_kind("no request completed: " + "x" * 500)) == 120


# -- real tunings -------------------------------------------------------------------------------------------------
@pytest.mark.engine
@pytest.mark.slow
def test_task_whose_every_experiment_failed_ends_failed_in_its_own_storage(
	tmp_path: Path, model_path: Path, data_dir: Path
) -> None:
	"""A context size llama.cpp refuses makes every engine exit before it is ready: the task ends `failed` with the
	reasons counted (CLI tune/list/show, API), its study lives in optimization.storage, and resume finds it there."""
	storage = f"sqlite:///{data_dir / 'studies' / 'optuna.db'}"  # a spec's SQLite study stays in the data dir
	name = "always-fails"
	spec = tuning_spec(
		model_path,
		name,
		{"ctx-size": {"type": "choice", "values": [-5, -7, -9]}, "threads": 1},  # the origin's choice shape
		max_iterations=2,
		study_name="seed-study-that-fails",
		storage=storage,
	)
	path = write_spec(tmp_path, spec)
	p = cli("tune", str(path))
	assert p.returncode == 1, p.stdout + p.stderr
	assert "Traceback" not in p.stdout + p.stderr
	data = json.loads(cli("show", name, "--format", "json").stdout)
	why = data["error"]  # the engine's own words may vary; the count and the cause may not
	assert data["status"] == "failed" and re.fullmatch(f"all 2 experiments failed: 2 x {EXITED}", why), why
	assert {e["status"] for e in data["experiments"]} == {"failed"}
	assert f"task '{name}' failed: {why}" in " ".join(p.stderr.split())

	listed = cli("list")
	assert listed.returncode == 0 and any(name in line and "failed" in line for line in listed.stdout.splitlines())
	shown = cli("show", name)
	assert shown.returncode == 0, shown.stderr
	assert f"task failed: {why}" in " ".join(shown.stdout.split())

	from inference_autotuner.api import Settings, create_app

	with TestClient(create_app(Settings(run_worker=False)), base_url="http://localhost") as client:
		r = client.get(f"/api/tasks/name/{name}")
		assert r.status_code == 200, r.text
		task = r.json()
	assert task["status"] == "failed" and task["error"] == why
	assert task["study_name"] == "seed-study-that-fails"

	# the study lives in optimization.storage, not in the autotuner database
	assert len(trials(storage, "seed-study-that-fails")) == 2
	assert "seed-study-that-fails" not in optuna.get_all_study_names(default_db_url())

	# resume continues the same study in the same storage
	p = cli("resume", name, "--max-trials", "3")
	assert p.returncode == 1, p.stdout + p.stderr
	assert re.search(f"failed: all 3 experiments failed: 3 x {EXITED}$", " ".join(p.stderr.split())), p.stderr
	found = trials(storage, "seed-study-that-fails")
	assert len(found) == 3 and {t.params["ctx-size"] for t in found} == {-5, -7, -9}
	assert "seed-study-that-fails" not in optuna.get_all_study_names(default_db_url())


@pytest.mark.engine
@pytest.mark.slow
def test_study_in_external_storage_resumes_and_a_foreign_study_is_refused(
	tmp_path: Path, model_path: Path, data_dir: Path
) -> None:
	storage = f"sqlite:///{data_dir / 'optuna.db'}"
	spec = tuning_spec(
		model_path,
		"external-study",
		{"parallel": [1, 2], "threads": 1},
		strategy="bayesian",
		n_initial_random=1,
		seed=3,
		max_iterations=1,
		study_name="my-study",
		storage=storage,
	)
	path = write_spec(tmp_path, spec)
	p = cli("tune", str(path))
	assert p.returncode == 0, p.stdout + p.stderr
	p = cli("resume", "external-study", "--max-trials", "2")
	assert p.returncode == 0, p.stdout + p.stderr
	data = json.loads(cli("show", "external-study", "--format", "json").stdout)
	assert data["status"] == "completed"
	by_params = {e["params"]["parallel"]: e["score"] for e in data["experiments"]}
	assert len(data["experiments"]) == 2 and set(by_params) == {1, 2}
	study = optuna.load_study(study_name="my-study", storage=storage)
	complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
	# both runs told the one study (a proposal of a measured configuration is told its stored score)
	assert {t.params["parallel"] for t in complete} == {1, 2}
	assert all(t.value == by_params[t.params["parallel"]] for t in complete)
	assert study.user_attrs["autotuner_task"].startswith("task 1 created ")
	assert "my-study" not in optuna.get_all_study_names(default_db_url())

	# a study that some other program made in that storage is never continued
	other = optuna.create_study(study_name="not-mine", storage=storage)
	other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
	spec2 = {
		**spec,
		"task_name": "takes-foreign-study",
		"optimization": {**spec["optimization"], "study_name": "not-mine"},
	}
	p = cli("tune", str(write_spec(tmp_path, spec2)))
	assert p.returncode != 0 and "Traceback" not in p.stderr
	assert "the Optuna study 'not-mine' in optimization.storage belongs to something else" in " ".join(p.stderr.split())
	assert len(optuna.load_study(study_name="not-mine", storage=storage).trials) == 1, "nothing was added to it"


def test_plan_gives_predicted_and_measured_tasks_their_own_studies() -> None:
	from inference_autotuner.runner.plan import measured_spec, predicted_spec
	from inference_autotuner.services.validate import parse_spec

	spec = parse_spec(
		{
			"task_name": "p",
			"model": {"id_or_path": "smollm2"},
			"parameters": {"parallel": [1, 2]},
			"optimization": {"study_name": "shared", "storage": "sqlite:///studies.db"},
		}
	)
	assert predicted_spec(spec).optimization.study_name == "shared-predicted"
	assert measured_spec(spec, 1, "local").optimization.study_name == "shared-measured"
	plain = spec.model_copy(update={"optimization": spec.optimization.model_copy(update={"study_name": None})})
	assert predicted_spec(plain).optimization.study_name is None  # autotuner-task-<id> each
