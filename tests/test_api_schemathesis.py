"""Property-based checks of every route against the app's own OpenAPI schema (schemathesis, in-process ASGI).

No input may give a 5xx (Docker routes may answer their documented 503 when no Docker daemon is reachable), and
responses must match the schema; with auth off (single-user mode) and on (an admin's token on every call). The app runs without its worker: tasks that get started stay `queued`, no engine
is ever launched.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
	content_type_conformance,
	response_schema_conformance,
	status_code_conformance,
)

from inference_autotuner import users  # noqa: E402
from inference_autotuner.api import Settings, create_app  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402

VALID_SPEC: dict[str, Any] = {
	"task_name": "st-task",
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


# Loaded at import (schemathesis.pytest.from_fixture fails on pytest 9): each app gets its own temporary database.
# Schemathesis calls an ASGI app with Host: testserver, so that name is on these apps' Host allow-list.
_TMP = Path(tempfile.mkdtemp(prefix="autotuner-schemathesis-"))
atexit.register(shutil.rmtree, _TMP, True)
ASGI_HOST = "testserver"

# Auth off: single-user mode (no users, loopback). create_user is left out: a first user would turn auth on.
APP = create_app(Settings(db_url=f"sqlite:///{_TMP / 'st.db'}", run_worker=False, allowed_hosts=[ASGI_HOST]))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(operation_id="create_user")

# Auth on: tokens required (as when serving beyond loopback); every call carries an admin's token, so it reaches the
# route's own checks, and a browser's same-origin Origin header, which the guard lets through on writes.
_AUTH_DB = f"sqlite:///{_TMP / 'st-auth.db'}"
_ADMIN = "st-admin"
_ADMIN_TOKEN = users.add_user(Store(_AUTH_DB), _ADMIN, "admin")[1]
APP_AUTH = create_app(Settings(db_url=_AUTH_DB, run_worker=False, allowed_hosts=[ASGI_HOST], require_auth=True))
schema_auth = schemathesis.openapi.from_asgi("/openapi.json", APP_AUTH)
AUTH_HEADERS = {"Authorization": f"Bearer {_ADMIN_TOKEN}", "Origin": f"http://{ASGI_HOST}"}


# Examples per operation: the suite's budget (auth off, auth on), or AUTOTUNER_SCHEMATHESIS_EXAMPLES for both
# (benchmarks/abuse.py --schemathesis N runs the large budget and reads the request count from
# AUTOTUNER_SCHEMATHESIS_COUNT, a file this module writes when its tests are done).
_EXAMPLES = os.environ.get("AUTOTUNER_SCHEMATHESIS_EXAMPLES")
EXAMPLES_OFF = int(_EXAMPLES) if _EXAMPLES else 40
EXAMPLES_ON = int(_EXAMPLES) if _EXAMPLES else 40  # both modes: 6,238 requests in ~3.5 min on 2 shared cores
REQUESTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _count_requests() -> Iterator[None]:
	yield
	path = os.environ.get("AUTOTUNER_SCHEMATHESIS_COUNT")
	if path:
		Path(path).write_text(json.dumps(dict(REQUESTS)))


def _check(case: Any, headers: dict[str, str] | None = None) -> None:
	REQUESTS["auth on" if headers else "auth off"] += 1
	if case.operation.path.endswith("/logs") and isinstance(case.query, dict) and "follow" in case.query:
		case.query["follow"] = "false"  # SSE follow waits while a task is queued; without a worker, forever
	if case.operation.path.endswith("/revoke") and isinstance(case.path_parameters, dict):
		case.path_parameters["name"] = f"x{case.path_parameters.get('name', '')}"[:64]  # never the admin in use
	if headers:  # over any Authorization schemathesis generated for the bearer scheme
		case.headers = {**(case.headers or {}), **headers}
	response = case.call()
	docker_unavailable = case.operation.path.startswith("/api/docker") and response.status_code == 503
	assert response.status_code < 500 or docker_unavailable, (
		f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
	)
	if headers and not case.operation.path.endswith("/auth/session"):  # sign-in checks the token in its body
		assert response.status_code != 401, f"{case.method} {case.formatted_path}: the admin token was refused"
	if response.status_code < 400:
		case.validate_response(
			response, checks=[response_schema_conformance, content_type_conformance, status_code_conformance]
		)


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
	max_examples=EXAMPLES_OFF,
	deadline=None,
	derandomize=True,
	suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_schema_conformance(case: Any) -> None:
	_check(case)


@pytest.mark.timeout(300)
@schema_auth.parametrize()
@settings(
	max_examples=EXAMPLES_ON,
	deadline=None,
	derandomize=True,
	suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_with_auth_on(case: Any) -> None:
	_check(case, AUTH_HEADERS)


def test_task_lifecycle_without_worker_never_5xx(data_dir: Path) -> None:
	"""A valid task through start/cancel/restart/clear/delete with no worker: all 2xx/4xx, the task stays queued."""
	from fastapi.testclient import TestClient

	app = create_app(Settings(db_url=f"sqlite:///{data_dir / 'st.db'}", run_worker=False))
	with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
		task = c.post("/api/tasks/", json=VALID_SPEC, params={"start": "true"}).json()
		assert task["status"] == "queued"
		tid = task["id"]
		for method, path in [
			("post", f"/api/tasks/{tid}/start"),
			("post", f"/api/tasks/{tid}/restart"),
			("put", f"/api/tasks/{tid}"),
			("post", f"/api/tasks/{tid}/clear"),
			("delete", f"/api/tasks/{tid}"),
			("post", f"/api/tasks/{tid}/cancel"),
			("post", f"/api/tasks/{tid}/start"),
			("get", f"/api/tasks/{tid}/logs"),
			("post", f"/api/tasks/{tid}/clear"),
			("delete", f"/api/tasks/{tid}"),
		]:
			kw: dict[str, Any] = {"json": {"description": "x"}} if method == "put" else {}
			r = getattr(c, method)(path, **kw)
			assert r.status_code < 500, (method, path, r.status_code, r.text)
