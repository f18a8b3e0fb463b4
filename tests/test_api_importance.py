"""GET /api/tasks/{id}/importance: the report's parameter importance (PED-ANOVA on the task's real Optuna study) as
data, with a note where it cannot be computed; read by a viewer like every task read."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from inference_autotuner import users
from inference_autotuner.api import Settings, create_app
from inference_autotuner.reporting.collect import param_importance
from inference_autotuner.store import Experiment, Store, Task

PARALLEL = [1, 2, 4, 8]
THREADS = [1, 2]
UBATCH = [128, 256]


@pytest.fixture
def client() -> Iterator[TestClient]:
	with TestClient(
		create_app(Settings(run_worker=False)), base_url="http://localhost", raise_server_exceptions=False
	) as c:
		yield c


def store_of(client: TestClient) -> Store:
	return client.app.state.store  # type: ignore[attr-defined,no-any-return]


def make_task(store: Store, name: str, trials: list[tuple[dict[str, Any], float]], *, predicted: bool = False) -> int:
	"""A task with a real Optuna study in the task's storage (as the runner makes it), one trial per (params, value),
	and an experiment row per trial."""
	parameters = {"parallel": PARALLEL, "threads": THREADS, "ubatch-size": UBATCH}
	spec = {
		"task_name": name,
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llamacpp",
		"parameters": parameters,
		"optimization": {"strategy": "grid_search", "objective": "maximize_throughput", "max_iterations": 16},
	}
	with store.session() as s:
		task = Task(
			name=name,
			spec=spec,
			engine="llamacpp",
			deployment_mode="local",
			status="completed",
			study_name=f"study-{name}",
		)
		s.add(task)
		s.flush()
		tid = task.id
		for n, (params, value) in enumerate(trials, 1):
			s.add(
				Experiment(
					task_id=tid,
					number=n,
					params=params,
					params_key=json.dumps(params, sort_keys=True),
					status="success",
					origin="search",
					objective_value=value,
					score=-value,
					objective_values=[value],
					predicted=predicted,
				)
			)
	if trials:
		optuna.logging.set_verbosity(optuna.logging.WARNING)
		study = optuna.create_study(study_name=f"study-{name}", storage=store.study_storage(spec), direction="maximize")
		dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in parameters.items()}
		for params, value in trials:
			study.add_trial(
				optuna.trial.create_trial(params=params, distributions={k: dists[k] for k in params}, value=value)
			)
	return tid


def grid() -> list[tuple[dict[str, Any], float]]:
	"""Throughput set by parallel (x100 per step); threads and ubatch-size move it by a few tokens/s."""
	out = []
	for p, t, u in itertools.product(PARALLEL, THREADS, UBATCH):
		out.append(({"parallel": p, "threads": t, "ubatch-size": u}, 100.0 * p + 3.0 * t + u / 128))
	return out


def test_importance_names_the_parameter_that_mattered(client: TestClient) -> None:
	store = store_of(client)
	tid = make_task(store, "imp", grid())
	r = client.get(f"/api/tasks/{tid}/importance")
	assert r.status_code == 200, r.text
	body = r.json()
	assert body["task_id"] == tid and body["evaluator"] == "PED-ANOVA" and body["predicted"] is False
	assert body["objective"] == {"name": "maximize_throughput", "direction": "maximize", "unit": "tokens/s/GPU"}
	imp = body["importances"]
	assert list(imp)[0] == "parallel" and set(imp) <= {"parallel", "threads", "ubatch-size"}
	assert imp["parallel"] > 0.5 and sum(imp.values()) == pytest.approx(1.0)
	assert list(imp.values()) == sorted(imp.values(), reverse=True)  # most important first
	assert body["note"] is None
	# the very figures the report shows (one function)
	with store.session() as s:
		task = s.get(Task, tid)
		assert task is not None
		found, note = param_importance(store, dict(task.spec), task.study_name)
	assert found == pytest.approx(imp) and note is None


def test_importance_says_why_it_cannot_be_computed(client: TestClient) -> None:
	store = store_of(client)
	empty = make_task(store, "no-study", [])
	few = make_task(store, "few", grid()[:3], predicted=True)
	one = make_task(store, "one", [({"parallel": p, "threads": 1, "ubatch-size": 128}, 100.0 * p) for p in PARALLEL])
	same = make_task(store, "same", [({"parallel": 2, "threads": 1, "ubatch-size": 128}, v) for v in (1, 2, 3, 4)])
	cases = {
		empty: "no study yet",
		few: "3 completed trial(s) in the study: too few",
		same: "no parameter took more than one value",
	}
	for tid, why in cases.items():
		body = client.get(f"/api/tasks/{tid}/importance").json()
		assert body["importances"] == {} and why in body["note"], body
	assert client.get(f"/api/tasks/{few}/importance").json()["predicted"] is True
	body = client.get(f"/api/tasks/{one}/importance").json()
	assert body["importances"] == {"parallel": pytest.approx(1.0)} and "by construction" in body["note"]
	r = client.get("/api/tasks/99999/importance")
	assert r.status_code == 404 and "not found" in r.json()["detail"]


def test_importance_is_a_read_like_the_others(client: TestClient) -> None:
	store = store_of(client)
	tid = make_task(store, "auth", grid())
	_, viewer = users.add_user(store, "vic", "viewer")
	assert client.get(f"/api/tasks/{tid}/importance").status_code == 401  # users exist: a token is needed
	r = client.get(f"/api/tasks/{tid}/importance", headers={"Authorization": f"Bearer {viewer}"})
	assert r.status_code == 200 and list(r.json()["importances"])[0] == "parallel"


def test_reading_importance_creates_no_optuna_tables(tmp_path: Path) -> None:
	"""A read on a task whose study does not exist yet writes nothing: opening Optuna's storage would create its
	tables, racing the runner that creates them when the task starts."""
	store = Store()
	tid = make_task(store, "fresh", [])
	with store.session() as s:
		task = s.get(Task, tid)
		assert task is not None
		found, note = param_importance(store, dict(task.spec), task.study_name)
	assert found is None and note and "no study yet" in note
	assert not inspect(store.engine).has_table("studies")


def test_first_opens_of_the_optuna_storage_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	"""Optuna creates its tables and version row without a lock: opens at the same moment on a fresh database (the
	runner starting a task while the web page asks for its importance) all succeed."""
	for i in range(4):
		monkeypatch.setenv("AUTOTUNER_DATA_DIR", str(tmp_path / f"d{i}"))
		store = Store()
		barrier = threading.Barrier(3)
		errors: list[BaseException] = []

		def open_it(
			store: Store = store, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
		) -> None:
			barrier.wait()
			try:
				store.optuna_storage()
			except BaseException as exc:  # noqa: BLE001
				errors.append(exc)

		threads = [threading.Thread(target=open_it) for _ in range(3)]
		for t in threads:
			t.start()
		for t in threads:
			t.join()
		assert not errors, errors[0]
		assert inspect(store.engine).has_table("studies")


def test_importance_for_each_objective_of_a_multi_objective_task(client: TestClient) -> None:
	"""Two objectives, each driven by another parameter: throughput by parallel, P90 TTFT by ubatch-size (and a little
	by parallel 8). The API
	answers the primary one by default and another with ?objective=; the report shows both."""
	store = store_of(client)
	objectives = ["maximize_throughput", "minimize_p90_ttft"]
	parameters = {"parallel": PARALLEL, "threads": THREADS, "ubatch-size": UBATCH}
	spec = {
		"task_name": "mo",
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llamacpp",
		"parameters": parameters,
		"optimization": {"strategy": "nsga2", "objectives": objectives, "max_iterations": 16},
	}
	trials = [
		(p, (100.0 * p["parallel"] + p["threads"], 0.1 * p["ubatch-size"] / 128 + 0.01 * (p["parallel"] == 8)))
		for p, _ in grid()
	]
	with store.session() as s:
		task = Task(name="mo", spec=spec, engine="llamacpp", deployment_mode="local", status="completed")
		task.study_name = "study-mo"
		s.add(task)
		s.flush()
		tid = task.id
		for n, (params, values) in enumerate(trials, 1):
			s.add(
				Experiment(
					task_id=tid,
					number=n,
					params=params,
					params_key=json.dumps(params, sort_keys=True),
					status="success",
					origin="search",
					objective_value=values[0],
					objective_values=list(values),
				)
			)
	study = optuna.create_study(
		study_name="study-mo", storage=store.study_storage(spec), directions=["maximize", "minimize"]
	)
	dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in parameters.items()}
	for params, values in trials:
		study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, values=list(values)))

	primary = client.get(f"/api/tasks/{tid}/importance").json()
	assert primary["objective"]["name"] == "maximize_throughput" and list(primary["importances"])[0] == "parallel"
	second = client.get(f"/api/tasks/{tid}/importance", params={"objective": "minimize_p90_ttft"})
	assert second.status_code == 200, second.text
	body = second.json()
	assert body["objective"] == {"name": "minimize_p90_ttft", "direction": "minimize", "unit": "s"}
	assert list(body["importances"])[0] == "ubatch-size" and body["importances"]["ubatch-size"] > 0.5
	bad = client.get(f"/api/tasks/{tid}/importance", params={"objective": "maximize_goodput"})
	assert bad.status_code == 422 and "no objective 'maximize_goodput'" in bad.json()["detail"]
	# the report: one importance section per objective, from the same function
	from inference_autotuner.reporting import collect

	data = collect(store, tid)
	assert data.importance is not None and list(data.importance)[0] == "parallel"
	assert [(name, list(shares or {})[:1]) for name, shares, _ in data.importance_more] == [
		("minimize_p90_ttft", ["ubatch-size"])
	]
