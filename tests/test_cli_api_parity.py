"""CLI and API give the same answers on the same store: `list`, `show`, `best` and `delete` against GET /api/tasks/,
GET /api/tasks/{id} (+ experiments + summary), the recommended experiment, and DELETE /api/tasks/{id}.

The store holds a task tuned for real (llama.cpp, two experiments, through `autotuner tune`), a task created through
the API and never started, and a task with the rows the runner writes for baselines, repeats and pruning."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, autotuner_cmd
from fastapi.testclient import TestClient
from summary_rows import seed_multi, seed_single
from typer.testing import CliRunner

from inference_autotuner.api import Settings, create_app
from inference_autotuner.cli import app
from inference_autotuner.paths import logs_dir, safe_name
from inference_autotuner.runner.summary import refresh_pareto
from inference_autotuner.store import Store, Task


def tiny_spec(model_path: Path, name: str) -> dict[str, Any]:
	return {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": [1], "ctx-size": 1024},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 2,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(16,8)"],
			"num_concurrency": [1],
			"max_requests_per_iteration": 4,
			"warmup_requests": 0,
		},
	}


def cli(db: str, *args: str) -> tuple[int, Any, str]:
	"""Exit code, stdout as JSON (when it is), stderr, of an in-process `autotuner` command on this database."""
	r = CliRunner().invoke(app, [*args, "--db", db], env={"COLUMNS": "200"})
	try:
		out: Any = json.loads(r.stdout)
	except ValueError:
		out = r.stdout
	return r.exit_code, out, r.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
	return f"sqlite:///{tmp_path / 'parity.db'}"


@pytest.fixture
def api(db: str) -> Iterator[TestClient]:
	with TestClient(create_app(Settings(db_url=db, run_worker=False)), base_url="http://localhost") as c:
		yield c


def api_show(api: TestClient, tid: int) -> dict[str, Any]:
	"""What `autotuner show --format json` is, from the API's routes."""
	task = api.get(f"/api/tasks/{tid}").json()
	task["experiments"] = api.get(f"/api/experiments/task/{tid}").json()
	task["summary"] = api.get(f"/api/tasks/{tid}/summary").json()
	return task


def api_best(api: TestClient, tid: int) -> dict[str, Any] | None:
	"""What `autotuner best --format json` is, from the API: the summary's recommended experiment (else the task's
	stored best) with the summary."""
	summary = api.get(f"/api/tasks/{tid}/summary").json()
	rec = summary["recommended"]
	eid = rec["experiment_id"] if rec else api.get(f"/api/tasks/{tid}").json()["best_experiment_id"]
	return None if eid is None else {**api.get(f"/api/experiments/{eid}").json(), "summary": summary}


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cli_and_api_answer_alike(db: str, api: TestClient, model_path: Path, tmp_path: Path) -> None:
	spec = tmp_path / "spec.yaml"
	spec.write_text(yaml.safe_dump(tiny_spec(model_path, "tuned")))
	env = {**os.environ, "COLUMNS": "200"}
	run = subprocess.run(
		[*autotuner_cmd(), "tune", str(spec), "--db", db],
		capture_output=True,
		text=True,
		cwd=REPO,
		env=env,
		timeout=500,
	)
	assert run.returncode == 0, run.stdout + run.stderr
	created = api.post("/api/tasks/", json=tiny_spec(model_path, "created"))
	assert created.status_code == 201, created.text
	seed_single(Store(db), "seeded")  # baseline, repeats, a pruned and a failed experiment

	code, listed, _ = cli(db, "list", "--format", "json")
	assert code == 0 and listed == api.get("/api/tasks/").json()
	assert [t["name"] for t in listed] == ["seeded", "created", "tuned"]  # newest first, both
	tuned = next(t for t in listed if t["name"] == "tuned")
	assert tuned["experiments_total"] == tuned["experiments_successful"] == tuned["experiments_finished"] == 2
	assert tuned["best_objective_value"] > 0 and tuned["objective_unit"]

	for t in listed:
		code, shown, _ = cli(db, "show", t["name"], "--format", "json")
		assert code == 0 and shown == api_show(api, t["id"]), t["name"]
		code, best, _ = cli(db, "best", str(t["id"]), "--format", "json")
		assert code == 0 and best == api_best(api, t["id"]), t["name"]
	assert cli(db, "best", "created", "--format", "json")[1] is None  # nothing measured: both say so
	seeded = cli(db, "show", "seeded", "--format", "json")[1]
	assert {e["origin"] for e in seeded["experiments"]} >= {"baseline", "repeat", "search"}
	assert seeded["summary"]["recommended"]["n"] >= 2 and "duration" in seeded["experiments"][0]

	# delete: the CLI removes the tuned task with its logs; the API then agrees it is gone, and the other way round
	folder = logs_dir() / f"task_{tuned['id']}_{safe_name('tuned')}"
	assert folder.is_dir()
	code, out, err = cli(db, "delete", "tuned", "--yes")
	assert code == 0, err
	assert not folder.exists()
	assert api.get(f"/api/tasks/{tuned['id']}").status_code == 404
	assert api.delete(f"/api/tasks/{created.json()['id']}").status_code == 204
	code, _, err = cli(db, "show", "created")
	assert code == 2 and "no task named or numbered 'created'" in err
	code, listed, _ = cli(db, "list", "--format", "json")
	assert [t["name"] for t in listed] == ["seeded"] and listed == api.get("/api/tasks/").json()


def test_delete_refuses_a_running_task_alike(db: str, api: TestClient) -> None:
	"""One rule: a queued or running task is refused by both (cancel it first), with the same words."""
	store = Store(db)
	tid = seed_single(store, "busy")
	with store.session() as s:
		task = s.get(Task, tid)
		assert task is not None
		task.status = "running"
	r = api.delete(f"/api/tasks/{tid}")
	assert r.status_code == 409 and r.json()["detail"] == "task 'busy' is running: cannot delete it"
	code, _, err = cli(db, "delete", "busy", "--yes")
	assert code == 1 and "error: task 'busy' is running: cannot delete it" in " ".join(err.split())
	assert "cancel it first" in " ".join(err.split()) and "--force" in err
	assert api.get(f"/api/tasks/{tid}").json()["status"] == "running"  # both left it as it was
	# --force: the CLI's way for a task whose tuner was killed; then the one rule lets it go
	code, _, err = cli(db, "delete", "busy", "--yes", "--force")
	assert code == 0, err
	assert api.get(f"/api/tasks/{tid}").status_code == 404


def test_pareto_alike(db: str, api: TestClient) -> None:
	"""`autotuner pareto --format json` is GET /api/tasks/{id}/pareto; a single-objective task is refused by both."""
	store = Store(db)
	multi = seed_multi(store, "front")
	refresh_pareto(store, multi)
	single = seed_single(store, "single")
	code, front, _ = cli(db, "pareto", "front", "--format", "json")
	assert code == 0 and front == api.get(f"/api/tasks/{multi}/pareto").json()
	assert sorted(p["number"] for p in front["front"]) == [1, 2, 4]
	r = api.get(f"/api/tasks/{single}/pareto")
	code, _, err = cli(db, "pareto", "single", "--format", "json")
	assert r.status_code == 409 and code == 1 and r.json()["detail"] in " ".join(err.split())
