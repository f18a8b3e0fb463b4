"""GET /api/tasks/{id}/summary and /pareto, and the new experiment fields, over rows the runner writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from summary_rows import ids_by_number, seed_multi, seed_single

from inference_autotuner.api import Settings, create_app
from inference_autotuner.runner.summary import refresh_pareto
from inference_autotuner.store import Store


@pytest.fixture
def client() -> Iterator[TestClient]:
	with TestClient(
		create_app(Settings(run_worker=False)), base_url="http://localhost", raise_server_exceptions=False
	) as c:
		yield c


def store_of(client: TestClient) -> Store:
	return client.app.state.store  # type: ignore[attr-defined,no-any-return]


def test_summary_route(client: TestClient) -> None:
	store = store_of(client)
	tid = seed_single(store)
	ids = ids_by_number(store, tid)
	r = client.get(f"/api/tasks/{tid}/summary")
	assert r.status_code == 200, r.text
	s = r.json()
	assert s["recommended"]["experiment_id"] == ids[4] and s["recommended"]["n"] == 3
	assert s["recommended"]["objective"]["mean"] == pytest.approx(128)
	assert s["recommended"]["objective"]["ci_low"] == pytest.approx(123.031324, abs=1e-5)
	assert s["ranking"] == "confidence_bound" and s["baseline"]["number"] == 1
	assert s["gain"]["value"] == pytest.approx(0.28) and s["gain"]["ci_low"] == pytest.approx(0.2346681, abs=1e-6)
	assert s["saved_seconds"] == 15.5 and s["experiments_by_status"]["pruned"] == 1
	assert s["objectives"] == [{"name": "maximize_throughput", "direction": "maximize", "unit": "tokens/s/GPU"}]
	assert s["pareto"] == [] and s["multi_objective"] is False
	assert client.get("/api/tasks/999/summary").status_code == 404
	r = client.get(f"/api/tasks/{tid}/pareto")
	assert r.status_code == 409 and "no Pareto front" in r.json()["detail"] and r.json()["hint"]


def test_pareto_route_and_experiment_fields(client: TestClient) -> None:
	store = store_of(client)
	tid = seed_multi(store)
	refresh_pareto(store, tid)
	ids = ids_by_number(store, tid)
	r = client.get(f"/api/tasks/{tid}/pareto")
	assert r.status_code == 200, r.text
	body = r.json()
	assert [o["direction"] for o in body["objectives"]] == ["maximize", "minimize"]
	assert sorted(p["number"] for p in body["front"]) == [1, 2, 4]
	p2 = next(p for p in body["front"] if p["number"] == 2)
	assert p2["objective_values"] == pytest.approx([140.0, 1.9]) and p2["experiment_ids"] == [ids[2], ids[5]]
	assert client.get("/api/tasks/999/pareto").status_code == 404
	exps = client.get(f"/api/experiments/task/{tid}").json()
	by_number = {e["number"]: e for e in exps}
	assert by_number[5]["origin"] == "repeat" and by_number[5]["pareto"] is True
	assert by_number[3]["pareto"] is False and by_number[3]["objective_values"] == [90.0, 1.5]
	assert by_number[7]["objective_values"] == [None, 0.5] and by_number[1]["saved_seconds"] is None
	task = client.get(f"/api/tasks/{tid}").json()
	assert task["objective_unit"] == "tokens/s/GPU"  # the primary (first) objective's unit


def test_openapi_types_the_new_routes(client: TestClient) -> None:
	schema = client.get("/openapi.json").json()
	paths = schema["paths"]
	summary = paths["/api/tasks/{task_id}/summary"]["get"]
	assert summary["operationId"] == "get_task_summary"
	assert summary["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/TaskSummary")
	assert paths["/api/tasks/{task_id}/pareto"]["get"]["operationId"] == "get_task_pareto"
	for name in ("TaskSummary", "ConfigStats", "ValueStats", "Gain", "ParetoFront", "ParetoPoint"):
		assert name in schema["components"]["schemas"], name
	assert "origin" in schema["components"]["schemas"]["ExperimentPublic"]["properties"]
