"""The API on PostgreSQL (migrations incl. presets, CRUD, a real tiny run with Optuna on Postgres).

Needs AUTOTUNER_TEST_PG_URL (a role that may CREATE DATABASE); `.ci/run` starts PostgreSQL and sets it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_api import spec
from test_api_worker import FINAL, tiny_spec, wait_status

from inference_autotuner.api import Settings, create_app


@pytest.fixture
def pg_url() -> Iterator[str]:
	base = os.environ.get("AUTOTUNER_TEST_PG_URL")
	if not base:
		pytest.skip("AUTOTUNER_TEST_PG_URL is not set (a PostgreSQL URL; .ci/run starts PostgreSQL and sets it)")
	name = f"autotuner_test_{uuid.uuid4().hex[:10]}"
	admin = create_engine(base, isolation_level="AUTOCOMMIT")
	try:
		with admin.connect() as conn:
			conn.execute(text(f'CREATE DATABASE "{name}"'))
	except Exception as exc:
		pytest.skip(f"PostgreSQL at {base} is not usable: {exc}")
	try:
		yield make_url(base).set(database=name).render_as_string(hide_password=False)
	finally:
		with admin.connect() as conn:
			conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
		admin.dispose()


def test_api_on_postgres(pg_url: str) -> None:
	with TestClient(
		create_app(Settings(db_url=pg_url, run_worker=False)),
		base_url="http://localhost",
		raise_server_exceptions=False,
	) as c:
		assert c.get("/api/system/info").json()["database"]["dialect"] == "postgresql"
		assert "autotuner:autotuner" not in c.get("/api/system/info").text  # password hidden
		assert len(c.get("/api/presets/").json()) >= 23
		tid = c.post("/api/tasks/", json=spec("pg-task")).json()["id"]
		assert c.get("/api/tasks/name/pg-task").json()["id"] == tid
		r = c.post("/api/tasks/", json=spec(benchmark={"num_concurrency": [0]}))
		assert r.status_code == 422 and r.json()["detail"][0]["path"] == "benchmark.num_concurrency"
		assert c.get(f"/api/tasks/{2**31 - 1}").status_code == 404 and c.get(f"/api/tasks/{2**31}").status_code == 422
		assert c.get("/api/dashboard/db-statistics").json()["dialect"] == "postgresql"
		assert c.delete(f"/api/tasks/{tid}").status_code == 204


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_run_on_postgres(pg_url: str, model_path: Path) -> None:
	with TestClient(
		create_app(Settings(db_url=pg_url)), base_url="http://localhost", raise_server_exceptions=False
	) as c:
		tid = c.post("/api/tasks/", json=tiny_spec(model_path, "pg-run"), params={"start": True}).json()["id"]
		task = wait_status(c, tid, FINAL)
		assert task["status"] == "completed" and task["experiments_successful"] == 2
		assert c.post(f"/api/tasks/{tid}/clear").json()["experiments_total"] == 0
