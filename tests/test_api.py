"""The REST API without an engine: CRUD, validation (422 with field paths), 404/409, presets, runtime params."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from inference_autotuner.api import Settings, create_app


def spec(name: str = "api-task", **over: Any) -> dict[str, Any]:
	s: dict[str, Any] = {
		"task_name": name,
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": [1]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 2,
		},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [1], "max_requests_per_iteration": 4},
	}
	s.update(over)
	return s


@pytest.fixture
def client() -> Iterator[TestClient]:
	with TestClient(
		create_app(Settings(run_worker=False)), base_url="http://localhost", raise_server_exceptions=False
	) as c:
		yield c


def test_health_info_and_openapi(client: TestClient) -> None:
	r = client.get("/api/system/health")
	assert r.status_code == 200 and r.json()["database"] == "ok" and r.json()["queue"] == "in-process"
	info = client.get("/api/system/info").json()
	assert info["database"]["dialect"] == "sqlite" and "llamacpp" in info["engines"]
	ops = [o["operationId"] for p in client.get("/openapi.json").json()["paths"].values() for o in p.values()]
	assert "create_task" in ops and "list_task_experiments" in ops and len(ops) == len(set(ops))


def test_create_json_and_yaml_get_list_update_delete(client: TestClient) -> None:
	r = client.post("/api/tasks/", json=spec())
	assert r.status_code == 201, r.text
	task = r.json()
	assert task["status"] == "pending" and task["engine"] == "llamacpp" and task["max_iterations"] == 2
	r = client.post(
		"/api/tasks/", content=yaml.safe_dump(spec("yaml-task")), headers={"Content-Type": "application/yaml"}
	)
	assert r.status_code == 201, r.text
	assert client.get(f"/api/tasks/{task['id']}").json()["name"] == "api-task"
	assert client.get("/api/tasks/name/yaml-task").json()["name"] == "yaml-task"
	r = client.get("/api/tasks/", params={"q": "yaml", "limit": 10})
	assert [t["name"] for t in r.json()] == ["yaml-task"] and r.headers["X-Total-Count"] == "1"
	assert len(client.get("/api/tasks/", params={"status": "pending"}).json()) == 2
	assert client.post("/api/tasks/", json=spec()).status_code == 409  # same name
	new = spec(
		optimization={
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 5,
		}
	)
	r = client.put(f"/api/tasks/{task['id']}", json={"spec": new, "description": "more"})
	assert r.status_code == 200 and r.json()["max_iterations"] == 5 and r.json()["description"] == "more"
	r = client.put(f"/api/tasks/{task['id']}", json={"spec": spec(parameters={"bogus-flag": [1]})})
	assert r.status_code == 422 and r.json()["detail"][0]["path"] == "parameters.bogus-flag"
	assert client.delete(f"/api/tasks/{task['id']}").status_code == 204
	assert client.get(f"/api/tasks/{task['id']}").status_code == 404


def test_experiments_planned_counts_baseline_and_repeats(client: TestClient) -> None:
	"""max_iterations + baseline x noise_runs + repeats * (repeat_top_k + baseline), no repeats in predict mode."""
	r = client.post("/api/tasks/", json=spec("plain"))  # no baseline, no repeats: the search budget
	assert r.status_code == 201, r.text
	assert r.json()["experiments_planned"] == 2
	full = spec("full", optimization={"strategy": "grid_search", "max_iterations": 2, "warm_start": False})
	r = client.post("/api/tasks/", json=full)  # defaults: baseline x3 (noise_runs), repeats 2 of the top 2 + baseline
	assert r.status_code == 201, r.text
	assert r.json()["experiments_planned"] == 2 + 3 + 2 * (2 + 1)
	r = client.post("/api/tasks/", json={**full, "task_name": "predicted", "deployment_mode": "predict"})
	assert r.status_code == 201, r.text
	assert r.json()["experiments_planned"] == 2 + 1
	rows = {t["name"]: t["experiments_planned"] for t in client.get("/api/tasks/").json()}
	assert rows == {"plain": 2, "full": 11, "predicted": 3}


def test_list_shows_best_objective_value_and_unit(client: TestClient) -> None:
	from inference_autotuner.store import Experiment, Task

	tid = client.post("/api/tasks/", json=spec("best-task")).json()["id"]
	other = client.post(
		"/api/tasks/",
		json=spec(
			"no-best",
			optimization={"baseline": False, "repeat_top_k": 0, "warm_start": False, "objective": "minimize_ttft"},
		),
	).json()
	assert other["best_objective_value"] is None and other["objective_unit"] == "s"
	store = client.app.state.store  # type: ignore[attr-defined]
	with store.session() as s:
		for n, value in ((1, 10.5), (2, 42.25)):
			s.add(
				Experiment(
					task_id=tid,
					number=n,
					params={"parallel": n},
					params_key=str(n),
					status="success",
					objective_value=value,
				)
			)
		s.flush()
		best = s.query(Experiment).filter_by(task_id=tid, number=2).one()
		s.get(Task, tid).best_experiment_id = best.id
	rows = {t["name"]: t for t in client.get("/api/tasks/").json()}
	assert rows["best-task"]["best_objective_value"] == 42.25
	assert rows["best-task"]["objective_unit"] == "tokens/s/GPU"
	assert rows["best-task"]["experiments_total"] == 2 and rows["best-task"]["max_iterations"] == 2
	assert rows["no-best"]["best_objective_value"] is None
	assert client.get(f"/api/tasks/{tid}").json()["best_objective_value"] == 42.25


@pytest.mark.parametrize(
	("body", "ctype", "path"),
	[
		(spec(benchmark={"num_concurrency": [0]}), "application/json", "benchmark.num_concurrency"),
		(spec(parameters={"paralel": [1, 2]}), "application/json", "parameters.paralel"),
		(spec(optimization={"stratgy": "grid"}), "application/json", "optimization.stratgy"),
		({"model": {"id_or_path": "x"}}, "application/json", "task_name"),
		("{not json", "application/json", ""),
		("a: [1, 2\n", "application/yaml", ""),
		([1, 2], "application/json", ""),
		("", "application/json", ""),
	],
)
def test_bad_specs_are_422_with_field_paths(client: TestClient, body: Any, ctype: str, path: str) -> None:
	content = body if isinstance(body, str) else (yaml.safe_dump(body) if "yaml" in ctype else None)
	kw: dict[str, Any] = {"content": content} if content is not None else {"json": body}
	r = client.post("/api/tasks/", headers={"Content-Type": ctype}, **kw)
	assert r.status_code == 422, r.text
	detail = r.json()["detail"]
	assert any(d["path"] == path for d in detail), detail
	assert all(d["msg"] for d in detail)


def test_unknown_ids_and_bad_ids(client: TestClient) -> None:
	for url in (
		"/api/tasks/999",
		"/api/tasks/name/nope",
		"/api/experiments/999",
		"/api/experiments/task/999",
		"/api/presets/999",
		"/api/tasks/999/logs",
		"/api/tasks/999/experiments/5/logs",
		"/api/runtime-params/nosuchengine",
	):
		r = client.get(url)
		assert r.status_code == 404, (url, r.text)
		assert r.json()["detail"]
	for method, url in (
		("post", "/api/tasks/999/start"),
		("post", "/api/tasks/999/cancel"),
		("delete", "/api/tasks/9"),
	):
		assert client.request(method, url).status_code == 404
	for url in ("/api/tasks/abc", "/api/tasks/0", f"/api/tasks/{2**70}", "/api/experiments/task/1?sort_by=evil"):
		r = client.get(url)
		assert r.status_code == 422, (url, r.text)
		assert r.json()["detail"][0]["path"]


def test_cancel_and_clear_state_rules(client: TestClient) -> None:
	tid = client.post("/api/tasks/", json=spec()).json()["id"]
	assert client.post(f"/api/tasks/{tid}/cancel").status_code == 409  # pending: nothing to cancel
	r = client.post(f"/api/tasks/{tid}/start")  # no worker runs in this app: it stays queued
	assert r.status_code == 200 and r.json()["status"] == "queued"
	assert client.post(f"/api/tasks/{tid}/start").status_code == 409
	assert client.delete(f"/api/tasks/{tid}").status_code == 409
	assert client.put(f"/api/tasks/{tid}", json={"description": "x"}).status_code == 409
	assert client.post(f"/api/tasks/{tid}/cancel").json()["status"] == "cancelled"
	assert client.post(f"/api/tasks/{tid}/clear").json()["status"] == "pending"
	assert client.get(f"/api/tasks/{tid}/logs").json() == {"task_id": tid, "logs": "", "lines": 0}


def test_presets_crud_merge_import_export(client: TestClient) -> None:
	system = client.get("/api/presets/").json()
	names = {p["name"] for p in system}
	assert {"quant-default", "quant-kv-cache-fp8", "parallel-vllm-single-gpu", "llamacpp-cpu-throughput"} <= names
	assert len([p for p in system if p["category"] == "parallel"]) == 18
	sys_id = system[0]["id"]
	assert client.delete(f"/api/presets/{sys_id}").status_code == 409
	a = client.post("/api/presets/", json={"name": "a", "parameters": {"parallel": [1, 2], "threads": 1}}).json()
	b = client.post("/api/presets/", json={"name": "b", "parameters": {"parallel": [2, 4], "batch-size": 512}}).json()
	assert client.post("/api/presets/", json={"name": "a", "parameters": {}}).status_code == 409
	r = client.post("/api/presets/", json={"name": "c", "category": "nope", "parameters": {}})
	assert r.status_code == 422 and r.json()["detail"][0]["path"] == "category"

	def merge(strategy: str) -> dict[str, Any]:
		r = client.post("/api/presets/merge", json={"preset_ids": [a["id"], b["id"]], "strategy": strategy})
		assert r.status_code == 200, r.text
		return r.json()

	assert merge("union")["parameters"] == {"parallel": [1, 2, 4], "threads": 1, "batch-size": 512}
	assert merge("intersection")["parameters"] == {"parallel": 2}
	last = merge("last_wins")
	assert last["parameters"] == {"parallel": [2, 4], "threads": 1, "batch-size": 512}
	assert last["conflicts"] == ["parallel"]
	r = client.put(f"/api/presets/{a['id']}", json={"description": "d", "parameters": {"threads": [1, 2]}})
	assert r.json()["parameters"] == {"threads": [1, 2]} and r.json()["description"] == "d"
	exported = client.get(f"/api/presets/{a['id']}/export")
	assert "attachment" in exported.headers["content-disposition"]
	assert client.delete(f"/api/presets/{a['id']}").status_code == 204
	r = client.post(
		"/api/presets/import", content=yaml.safe_dump(exported.json()), headers={"Content-Type": "application/yaml"}
	)
	assert r.status_code == 201 and [p["name"] for p in r.json()["imported"]] == ["a"]
	r = client.post("/api/presets/import", json=[exported.json(), {"name": "quant-default", "parameters": {}}])
	assert r.json()["skipped"] == ["a", "quant-default"]
	r = client.post("/api/presets/import", json=[{"name": "bad"}])
	assert r.status_code == 422 and r.json()["detail"][0]["path"] == "parameters"
	everything = client.get("/api/presets/export").json()
	assert len(everything) == len(system) + 2


def test_runtime_params(client: TestClient) -> None:
	engines = client.get("/api/runtime-params/").json()
	assert any(e["name"] == "llamacpp" for e in engines)
	flags = client.get("/api/runtime-params/llama.cpp").json()
	tuned = client.get("/api/runtime-params/llamacpp/commonly-tuned").json()
	assert {"parallel", "threads"} <= {f["name"] for f in tuned} and len(tuned) < len(flags)
	ok = client.post("/api/runtime-params/llamacpp/validate", json={"parameters": {"parallel": [1, 4]}}).json()
	assert ok == {"engine": "llamacpp", "valid": True, "problems": []}
	bad = client.post(
		"/api/runtime-params/llamacpp/validate", json={"parameters": {"paralel": [1], "threads": ["x"]}}
	).json()
	assert not bad["valid"]
	assert {p["path"] for p in bad["problems"]} >= {"parameters.paralel"}
	assert client.post("/api/runtime-params/llamacpp/validate", json={"params": {}}).status_code == 422


def test_dashboard_and_docker(client: TestClient) -> None:
	assert client.get("/api/dashboard/gpu-status").json()["gpus"] is not None
	ws = client.get("/api/dashboard/worker-status").json()
	assert ws["mode"] == "in-process"
	client.post("/api/tasks/", json=spec())
	stats = client.get("/api/dashboard/db-statistics").json()
	assert stats["tasks"]["total"] == 1 and stats["presets"] >= 23
	assert client.get("/api/dashboard/experiment-timeline", params={"hours": 1}).json() == []
	r = client.get("/api/docker/containers")
	assert r.status_code in (200, 503)
	if r.status_code == 503:
		assert "Docker is not reachable" in r.json()["detail"]
	assert client.get("/api/docker/containers/..%2Fetc").status_code in (404, 422, 503)


def test_system_presets_are_the_engines_presets_by_the_name_a_spec_takes(client: TestClient) -> None:
	"""Issue 14: the wizard sent the stored name (quant-kv-cache-fp8) and got a 422; each quantization/parallel system
	preset says the name a spec accepts (spec_name), and its values are the engine's own preset."""
	from inference_autotuner.engines.parallel import PARALLEL_PRESETS
	from inference_autotuner.engines.quant import QUANT_PRESETS

	quant = client.get("/api/presets/", params={"category": "quantization"}).json()
	assert {p["spec_name"]: p["parameters"] for p in quant if p["is_system"]} == QUANT_PRESETS
	parallel = client.get("/api/presets/", params={"category": "parallel"}).json()
	for p in parallel:
		engine_values = PARALLEL_PRESETS[p["runtime"]][p["spec_name"]]
		assert p["name"] == f"parallel-{p['runtime']}-{p['spec_name']}"
		assert all(engine_values[k] == v for k, v in p["parameters"].items())
		assert all(v == 1 for k, v in engine_values.items() if k not in p["parameters"])
	assert client.get("/api/presets/", params={"category": "parameters"}).json()[0]["spec_name"] is None
	user = client.post("/api/presets/", json={"name": "my-q", "category": "quantization", "parameters": {}}).json()
	assert user["spec_name"] is None  # a spec cannot name a user preset: its values go in instead

	# Every one of them, by its spec_name, makes a task the API accepts; the stored name does not.
	kv = next(p for p in quant if p["name"] == "quant-kv-cache-fp8")
	for i, p in enumerate(parallel):
		body = spec(
			f"preset-{i}",
			base_runtime=p["runtime"],
			parameters={},
			quant_config={"presets": [kv["spec_name"]]},
			parallel_config={"presets": [p["spec_name"]]},
		)
		r = client.post("/api/tasks/", json=body)
		assert r.status_code == 201, (p["name"], r.text)
	r = client.post("/api/tasks/", json=spec("stored-name", quant_config={"presets": [kv["name"]]}))
	assert r.status_code == 422 and r.json()["detail"][0]["path"].startswith("quant_config.presets")


def test_seeding_refreshes_changed_system_presets_and_keeps_user_ones(tmp_path: Any) -> None:
	from inference_autotuner.api.presets_data import seed_system_presets, system_presets
	from inference_autotuner.store import Store
	from inference_autotuner.store.models import Preset

	store = Store(f"sqlite:///{tmp_path / 'p.db'}")
	with store.session() as s:  # a database seeded by an older version, plus a user preset
		s.add(Preset(name="quant-kv-cache-fp8", category="quantization", parameters={"x": 1}, is_system=True))
		s.add(Preset(name="parallel-vllm-gone", category="parallel", parameters={"tp": 2}, is_system=True))
		s.add(Preset(name="mine", category="parallel", parameters={"tp": 2}, is_system=False))
	assert seed_system_presets(store) == len(system_presets()) - 1
	with store.session() as s:
		rows = {p.name: p for p in s.query(Preset)}
		assert rows["quant-kv-cache-fp8"].parameters["kvcache_dtype"] == "fp8"
		assert "parallel-vllm-gone" not in rows and rows["mine"].parameters == {"tp": 2}
	assert seed_system_presets(store) == 0
	store.engine.dispose()


def test_explain_a_draft_spec_lists_each_configuration_argv(client: TestClient) -> None:
	"""POST /api/specs/explain: the wizard's live preview of the flags; nothing is stored."""
	body = spec(
		"draft",
		base_runtime="vllm",
		model={"id_or_path": "Qwen/Qwen2.5-0.5B"},
		parameters={"max-num-seqs": [8, 16]},
		quant_config={"presets": ["kv-cache-fp8", "default"]},
		parallel_config={"presets": ["single-gpu"]},
	)
	r = client.post("/api/specs/explain", json=body)
	assert r.status_code == 200, r.text
	out = r.json()
	assert out["engine"] == "vllm" and out["space_size"] == 4 and out["shown"] == 4
	argvs = [e["argv"] for e in out["experiments"]]
	assert all(a and "--max-num-seqs" in a for a in argvs)
	assert sum("--kv-cache-dtype" in a for a in argvs) == 2  # the fp8 KV cache preset, mapped by the engine
	r = client.post(
		"/api/specs/explain", params={"limit": 1}, content=yaml.safe_dump(body), headers={"Content-Type": "text/yaml"}
	)
	assert r.status_code == 200 and r.json()["shown"] == 1
	bad = client.post("/api/specs/explain", json={**body, "quant_config": {"presets": ["quant-kv-cache-fp8"]}})
	assert bad.status_code == 422
	problem = bad.json()["detail"][0]
	assert problem["path"] == "quant_config.presets[0]" and "did you mean 'kv-cache-fp8'" in problem["hint"]
	assert client.get("/api/tasks/").json() == []
