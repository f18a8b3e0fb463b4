"""Issue 15, parts 2, 3 and 7: the server refuses foreign Origins, foreign Hosts and non-JSON/YAML bodies; users with
hashed tokens and roles; operators own their tasks and presets; names without control or bidi characters.

Each test failed before the fix (the headline: a cross-site `text/plain` POST of a task spec created and queued it).
Real SQLite, the real app in-process (TestClient) and the real `autotuner serve` process where it matters.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from inference_autotuner import users
from inference_autotuner.api import Settings, create_app
from inference_autotuner.store import Store

CLI = [sys.executable, "-m", "inference_autotuner.cli"]
BASE = "http://localhost"
OURS = "http://localhost"  # the Origin a browser sends for a page this server served
EVIL = "https://evil.example"


def spec(name: str = "sec-task", **over: Any) -> dict[str, Any]:
	s: dict[str, Any] = {
		"task_name": name,
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1], "threads": [1]},
		"optimization": {"baseline": False, "repeat_top_k": 0, "warm_start": False, "max_iterations": 1},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [1], "max_requests_per_iteration": 2},
	}
	s.update(over)
	return s


@pytest.fixture
def client() -> Iterator[TestClient]:
	with TestClient(create_app(Settings(run_worker=False)), base_url=BASE, raise_server_exceptions=False) as c:
		yield c


def store_of(c: TestClient) -> Store:
	store: Store = c.app.state.store  # type: ignore[attr-defined]
	return store


def bearer(token: str) -> dict[str, str]:
	return {"Authorization": f"Bearer {token}"}


def task_names(c: TestClient, headers: dict[str, str] | None = None) -> list[str]:
	r = c.get("/api/tasks/", headers=headers or {})
	assert r.status_code == 200, r.text
	return [t["name"] for t in r.json()]


# ---- part 2: cross-site and network ---------------------------------------------------------------------------------


def test_cross_site_text_plain_spec_is_refused_and_creates_nothing(client: TestClient) -> None:
	"""The attack of the issue: a page on another site POSTs a spec as text/plain (no CORS preflight needed) with
	?start=true. Before: 201 and a queued task. Now: 403 (foreign Origin) or 415 (text/plain), and no row."""
	body = json.dumps(spec("pwn", env={"PYTHONWARNINGS": "ignore::0:x", "BROWSER": "sh -c id"}))
	for headers in (
		{"Content-Type": "text/plain", "Origin": EVIL},
		{"Content-Type": "text/plain;charset=UTF-8", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain"},  # no Origin (an old browser, or a proxy that drops it): still 415
		{"Content-Type": "application/x-www-form-urlencoded", "Origin": OURS},
		{"Content-Type": "multipart/form-data; boundary=x", "Origin": OURS},
		{"Content-Type": "application/json", "Origin": EVIL},
		{"Content-Type": "application/json", "Origin": "null"},  # sandboxed iframe, file:// page
	):
		r = client.post("/api/tasks/?start=true", content=body, headers=headers)
		assert r.status_code in (403, 415), (headers, r.status_code, r.text)
		assert r.json()["detail"] and r.json()["hint"]
	assert task_names(client) == []
	assert client.post("/api/tasks/", content=body, headers={"Content-Type": "text/plain"}).status_code == 415
	assert (
		client.post("/api/tasks/", content=body, headers={"Content-Type": "text/plain", "Origin": EVIL})
		.json()["detail"]
		.startswith("cross-origin request refused")
	)


def test_writes_accept_json_and_yaml_only(client: TestClient) -> None:
	ok_json = client.post("/api/tasks/", content=json.dumps(spec("j")), headers={"Content-Type": "application/json"})
	ok_yaml = client.post(
		"/api/tasks/", content=yaml.safe_dump(spec("y")), headers={"Content-Type": "application/yaml"}
	)
	assert ok_json.status_code == 201 and ok_yaml.status_code == 201
	tid = ok_json.json()["id"]
	bodies = {
		("put", f"/api/tasks/{tid}"): json.dumps({"description": "x"}),
		("post", "/api/presets/"): json.dumps({"name": "p", "parameters": {}}),
		("post", "/api/presets/import"): json.dumps({"name": "p2", "parameters": {}}),
		("post", "/api/presets/merge"): json.dumps({"preset_ids": [1]}),
		("post", "/api/runtime-params/llamacpp/validate"): json.dumps({"parameters": {}}),
	}
	for (method, url), body in bodies.items():
		for ctype in ("text/plain", "application/x-www-form-urlencoded", "text/html", "application/xml"):
			r = client.request(method, url, content=body, headers={"Content-Type": ctype})
			assert r.status_code == 415, (method, url, ctype, r.text)
			assert "application/json or application/yaml" in r.json()["hint"]
		r = client.request(method, url, content=body, headers={"Content-Type": "application/json; charset=utf-8"})
		assert r.status_code < 400, (method, url, r.text)
	no_type = client.post("/api/tasks/", content=b'{"a": 1}', headers={"Content-Type": ""})
	assert no_type.status_code == 415
	# bodiless actions need no Content-Type
	assert client.post(f"/api/tasks/{tid}/clear").status_code == 200


def _state_changing_routes(client: TestClient) -> list[tuple[str, str]]:
	out = []
	for path, item in client.get("/openapi.json").json()["paths"].items():
		for method in item:
			if method in ("post", "put", "patch", "delete"):
				url = path.replace("{task_id}", "1").replace("{preset_id}", "1").replace("{engine}", "llamacpp")
				out.append((method, url.replace("{container_id}", "abc").replace("{name}", "nobody")))
	return out


def test_foreign_origin_is_refused_on_every_state_changing_route(client: TestClient) -> None:
	routes = _state_changing_routes(client)
	assert len(routes) >= 15, routes
	for method, url in routes:
		for origin in (EVIL, "http://localhost.evil.example", "http://localhost:1234", "null"):
			r = client.request(method, url, json={}, headers={"Origin": origin})
			assert r.status_code == 403, (method, url, origin, r.status_code, r.text)
		r = client.request(method, url, json={}, headers={"Sec-Fetch-Site": "cross-site"})
		assert r.status_code == 403, (method, url)
		same = client.request(method, url, json={}, headers={"Origin": OURS, "Sec-Fetch-Site": "same-origin"})
		assert same.status_code not in (403, 415), (method, url, same.text)  # reaches the route (404, 422, 503...)
	assert task_names(client) == []
	# reads stay readable (a browser will not show them to a foreign page: no CORS headers)
	r = client.get("/api/tasks/", headers={"Origin": EVIL})
	assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_websocket_refuses_foreign_origin(client: TestClient) -> None:
	tid = client.post("/api/tasks/", json=spec()).json()["id"]
	for origin in (EVIL, "null", "http://localhost:9999"):
		with (
			pytest.raises(WebSocketDisconnect) as exc,
			client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}", headers={"Origin": origin}) as ws,
		):
			ws.receive_json()
		assert exc.value.code == 1008
	with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}", headers={"Origin": OURS}) as ws:
		assert ws.receive_json()["snapshot"] is True


def test_host_allow_list_stops_dns_rebinding(client: TestClient) -> None:
	"""A rebound name (evil.example resolving to 127.0.0.1) arrives with Host: evil.example: refused, reads too."""
	for host in ("evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io", "", "a b"):
		r = client.get("/api/tasks/", headers={"Host": host})
		assert r.status_code == 400, (host, r.text)
		assert "allowed-host" in r.json()["hint"]
	for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
		assert client.get("/api/tasks/", headers={"Host": host}).status_code == 200, host
	with (
		pytest.raises(WebSocketDisconnect),
		client.websocket_connect("ws://localhost/api/ws/tasks/1", headers={"Host": "evil.example"}),
	):
		pass
	# the web app's files are behind the same check
	assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_allowed_hosts_and_cors_are_configurable(data_dir: Path) -> None:
	settings = Settings(
		run_worker=False, allowed_hosts=["tuner.example.com", "*.lab.example"], cors_origins=["https://ui.example"]
	)
	with TestClient(create_app(settings), base_url="http://tuner.example.com") as c:
		assert c.get("/api/tasks/").status_code == 200
		assert c.get("/api/tasks/", headers={"Host": "gpu1.lab.example:8000"}).status_code == 200
		assert c.get("/api/tasks/", headers={"Host": "localhost"}).status_code == 400  # not listed here
		pre = c.options(
			"/api/tasks/",
			headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"},
		)
		assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://ui.example"
		assert c.post("/api/tasks/", json=spec(), headers={"Origin": "https://ui.example"}).status_code == 201
		assert c.post("/api/tasks/", json=spec("b"), headers={"Origin": EVIL}).status_code == 403
		bad = c.options("/api/tasks/", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
		assert "access-control-allow-origin" not in bad.headers
	from inference_autotuner.errors import AutotunerError

	for bad_settings in ({"allowed_hosts": ["*"]}, {"allowed_hosts": ["http://x"]}, {"cors_origins": ["*"]}):
		with pytest.raises(AutotunerError):
			Settings(**bad_settings)  # type: ignore[arg-type]


def test_cors_is_closed_by_default(client: TestClient) -> None:
	pre = client.options("/api/tasks/", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
	assert "access-control-allow-origin" not in pre.headers
	assert "access-control-allow-origin" not in client.get("/api/tasks/", headers={"Origin": EVIL}).headers


# ---- part 3: users, roles, ownership --------------------------------------------------------------------------------


def test_single_user_mode_on_loopback_without_users(client: TestClient) -> None:
	me = client.get("/api/auth/me").json()
	assert me == {
		"name": "local",
		"role": "admin",
		"user_id": None,
		"auth_enabled": False,
		"can_write": True,
		"is_admin": True,
	}
	task = client.post("/api/tasks/", json=spec()).json()
	assert task["owner_id"] is None and task["owner"] is None
	assert client.post(f"/api/tasks/{task['id']}/start").status_code == 200


@pytest.fixture
def people(client: TestClient) -> dict[str, str]:
	"""Tokens of an admin, two operators and a viewer (added the way `autotuner users add` adds them)."""
	store = store_of(client)
	return {
		name: users.add_user(store, name, role)[1]
		for name, role in (("root", "admin"), ("alice", "operator"), ("bob", "operator"), ("vic", "viewer"))
	}


def test_first_user_turns_authentication_on_at_once(client: TestClient) -> None:
	assert client.get("/api/tasks/").status_code == 200
	_, token = users.add_user(store_of(client), "first", "admin")
	r = client.get("/api/tasks/")
	assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
	assert "token" in r.json()["detail"]
	assert client.get("/api/tasks/", headers=bearer(token)).status_code == 200
	assert client.post("/api/tasks/", json=spec()).status_code == 401
	assert task_names(client, bearer(token)) == []
	assert client.get("/api/system/health").status_code == 200  # probes stay open
	assert client.get("/api/system/info").status_code == 401


def test_tokens_are_stored_hashed_and_revocable(client: TestClient, people: dict[str, str]) -> None:
	store = store_of(client)
	path = store.url.split("///", 1)[1]
	with sqlite3.connect(path) as db:
		stored = [row for row in db.execute("SELECT name, token_hash, token_hint FROM users")]
	raw = Path(path).read_bytes()
	for name, token in people.items():
		assert token.encode() not in raw  # not in the database file at all
		assert any(n == name and h == users.hash_token(token) and token.startswith(hint) for n, h, hint in stored)
	for bad in ("", "atk_nope", people["alice"] + "x", "Basic " + people["alice"]):
		r = client.get("/api/tasks/", headers={"Authorization": bad if bad.startswith("Basic") else f"Bearer {bad}"})
		assert r.status_code == 401, bad
	assert client.get("/api/tasks/", headers=bearer(people["alice"])).status_code == 200
	users.revoke_user(store, "alice")
	assert client.get("/api/tasks/", headers=bearer(people["alice"])).status_code == 401
	users.revoke_user(store, "bob")
	users.revoke_user(store, "vic")
	users.revoke_user(store, "root")
	assert client.get("/api/tasks/").status_code == 401  # revoking every user does not reopen the server


def test_viewer_reads_only(client: TestClient, people: dict[str, str]) -> None:
	alice, vic = bearer(people["alice"]), bearer(people["vic"])
	tid = client.post("/api/tasks/", json=spec(), headers=alice).json()["id"]
	assert client.get(f"/api/tasks/{tid}", headers=vic).status_code == 200
	assert client.get("/api/presets/", headers=vic).status_code == 200
	assert client.get(f"/api/tasks/{tid}/logs", headers=vic).status_code == 200
	assert client.post("/api/runtime-params/llamacpp/validate", json={"parameters": {}}, headers=vic).status_code == 200
	for method, url, body in (
		("post", "/api/tasks/", spec("v")),
		("post", f"/api/tasks/{tid}/start", None),
		("post", f"/api/tasks/{tid}/cancel", None),
		("post", f"/api/tasks/{tid}/clear", None),
		("put", f"/api/tasks/{tid}", {"description": "x"}),
		("delete", f"/api/tasks/{tid}", None),
		("post", "/api/presets/", {"name": "v", "parameters": {}}),
		("get", "/api/docker/containers", None),
		("get", "/api/users/", None),
	):
		r = client.request(method, url, headers=vic, **({"json": body} if body is not None else {}))
		assert r.status_code == 403, (method, url, r.text)
		assert "vic is a viewer" in r.json()["detail"]
	assert client.get(f"/api/tasks/{tid}", headers=vic).json()["status"] == "pending"


def test_operators_change_only_their_own_tasks_admin_any(client: TestClient, people: dict[str, str]) -> None:
	alice, bob, root = bearer(people["alice"]), bearer(people["bob"]), bearer(people["root"])
	task = client.post("/api/tasks/", json=spec(), headers=alice).json()
	tid = task["id"]
	assert task["owner"] == "alice" and task["owner_id"] is not None
	assert client.get("/api/tasks/", headers=bob).json()[0]["owner"] == "alice"  # everyone reads
	for method, url, body in (
		("post", f"/api/tasks/{tid}/start", None),
		("post", f"/api/tasks/{tid}/restart", None),
		("post", f"/api/tasks/{tid}/cancel", None),
		("post", f"/api/tasks/{tid}/clear", None),
		("put", f"/api/tasks/{tid}", {"description": "bob was here"}),
		("delete", f"/api/tasks/{tid}", None),
	):
		r = client.request(method, url, headers=bob, **({"json": body} if body is not None else {}))
		assert r.status_code == 403, (method, url, r.text)
		assert "belongs to alice" in r.json()["detail"]
	after = client.get(f"/api/tasks/{tid}", headers=bob).json()
	assert after["status"] == "pending" and after["description"] is None
	assert client.post(f"/api/tasks/{tid}/start", headers=alice).json()["status"] == "queued"
	assert client.post(f"/api/tasks/{tid}/cancel", headers=alice).json()["status"] == "cancelled"
	assert client.post(f"/api/tasks/{tid}/start", headers=root).json()["status"] == "queued"  # admin: any task
	assert client.post(f"/api/tasks/{tid}/cancel", headers=root).status_code == 200
	assert client.delete(f"/api/tasks/{tid}", headers=bob).status_code == 403
	assert client.delete(f"/api/tasks/{tid}", headers=root).status_code == 204
	# a task made in single-user mode has no owner: only admins change it
	with store_of(client).session() as s:
		from inference_autotuner.store import Task

		s.add(Task(name="old", spec=spec("old"), engine="llamacpp", deployment_mode="local", study_name="s"))
	old = client.get("/api/tasks/name/old", headers=bob).json()
	assert old["owner"] is None
	r = client.post(f"/api/tasks/{old['id']}/start", headers=bob)
	assert r.status_code == 403 and "has no owner" in r.json()["detail"]
	assert client.put(f"/api/tasks/{old['id']}", json={"description": "x"}, headers=root).status_code == 200


def test_presets_are_owned_too(client: TestClient, people: dict[str, str]) -> None:
	alice, bob, root = bearer(people["alice"]), bearer(people["bob"]), bearer(people["root"])
	p = client.post("/api/presets/", json={"name": "alices", "parameters": {"threads": [1]}}, headers=alice).json()
	assert p["owner_id"] is not None
	assert client.put(f"/api/presets/{p['id']}", json={"description": "x"}, headers=bob).status_code == 403
	assert client.delete(f"/api/presets/{p['id']}", headers=bob).status_code == 403
	imp = client.post(
		"/api/presets/import?overwrite=true", json=[{"name": "alices", "parameters": {"x": 1}}], headers=bob
	).json()
	assert imp["skipped"] == ["alices"] and imp["imported"] == []
	assert client.get(f"/api/presets/{p['id']}", headers=bob).json()["parameters"] == {"threads": [1]}
	assert client.put(f"/api/presets/{p['id']}", json={"description": "mine"}, headers=alice).status_code == 200
	assert client.delete(f"/api/presets/{p['id']}", headers=root).status_code == 204


def test_docker_routes_are_for_admins(client: TestClient, people: dict[str, str]) -> None:
	for who in ("alice", "vic"):
		for method, url in (("get", "/api/docker/containers"), ("post", "/api/docker/containers/abc/stop")):
			assert client.request(method, url, headers=bearer(people[who])).status_code == 403, (who, url)
	r = client.get("/api/docker/containers", headers=bearer(people["root"]))
	assert r.status_code in (200, 503)  # 503: no Docker daemon here


def test_users_api_for_admins(client: TestClient, people: dict[str, str]) -> None:
	root, alice = bearer(people["root"]), bearer(people["alice"])
	assert client.get("/api/users/", headers=alice).status_code == 403
	assert client.post("/api/users/", json={"name": "eve", "role": "admin"}, headers=alice).status_code == 403
	listed = client.get("/api/users/", headers=root).json()
	assert {u["name"] for u in listed} == set(people) and all("token" not in u for u in listed)
	new = client.post("/api/users/", json={"name": "carol", "role": "operator"}, headers=root).json()
	assert new["user"]["role"] == "operator" and new["token"].startswith("atk_")
	assert client.get("/api/auth/me", headers=bearer(new["token"])).json()["name"] == "carol"
	assert client.post("/api/users/", json={"name": "carol", "role": "viewer"}, headers=root).status_code == 409
	assert client.post("/api/users/", json={"name": "x", "role": "god"}, headers=root).status_code == 422
	assert client.post("/api/users/", json={"name": "bad name", "role": "viewer"}, headers=root).status_code == 422
	assert client.post("/api/users/carol/revoke", headers=root).json()["revoked_at"] is not None
	assert client.get("/api/auth/me", headers=bearer(new["token"])).status_code == 401
	assert client.post("/api/users/nobody/revoke", headers=root).status_code == 404


def test_web_sign_in_sets_a_strict_httponly_cookie(client: TestClient, people: dict[str, str]) -> None:
	assert client.get("/api/auth/me").status_code == 401  # the web app shows its sign-in page
	assert client.post("/api/auth/session", json={"token": "atk_wrong"}).status_code == 401
	r = client.post("/api/auth/session", json={"token": people["alice"]}, headers={"Origin": OURS})
	assert r.status_code == 200 and r.json()["name"] == "alice" and r.json()["can_write"] is True
	cookie = r.headers["set-cookie"].lower()
	assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
	assert client.get("/api/auth/me").json()["role"] == "operator"  # the cookie now signs every request
	tid = client.post("/api/tasks/", json=spec(), headers={"Origin": OURS}).json()["id"]
	assert client.get(f"/api/tasks/{tid}").json()["owner"] == "alice"
	# the cookie does not make a cross-site write possible
	assert client.post(f"/api/tasks/{tid}/start", headers={"Origin": EVIL}).status_code == 403
	assert client.delete("/api/auth/session").status_code == 204
	client.cookies.clear()
	assert client.get("/api/auth/me").status_code == 401


def test_websocket_needs_a_token_when_auth_is_on(client: TestClient, people: dict[str, str]) -> None:
	tid = client.post("/api/tasks/", json=spec(), headers=bearer(people["alice"])).json()["id"]
	with (
		pytest.raises(WebSocketDisconnect) as exc,
		client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}") as ws,
	):
		ws.receive_json()
	assert exc.value.code == 1008
	with client.websocket_connect(f"ws://localhost/api/ws/tasks/{tid}", headers=bearer(people["vic"])) as ws:
		assert ws.receive_json()["status"] == "pending"
	client.post("/api/auth/session", json={"token": people["vic"]})
	with client.websocket_connect(
		f"ws://localhost/api/ws/tasks/{tid}", headers={"Origin": OURS}
	) as ws:  # the web app: cookie
		assert ws.receive_json()["task_id"] == tid


def test_migration_keeps_experiments_and_adds_owners(tmp_path: Path) -> None:
	"""0004 -> 0005 on SQLite must not rebuild `tasks` (that would cascade-delete every experiment)."""
	from alembic import command

	from inference_autotuner.store import Experiment, Task
	from inference_autotuner.store.db import alembic_config

	url = f"sqlite:///{tmp_path / 'old.db'}"
	store = Store(url)
	command.downgrade(alembic_config(url), "0004")
	with sqlite3.connect(tmp_path / "old.db") as db:
		db.execute("PRAGMA foreign_keys=ON")
		db.execute(
			"INSERT INTO tasks (id, name, spec, engine, deployment_mode, status, study_name, created_at, elapsed) "
			"VALUES (1, 't', '{}', 'llamacpp', 'local', 'completed', 's', '2026-01-01', 0)"
		)
		db.execute(
			"INSERT INTO experiments (task_id, number, params, params_key, status, predicted, origin, pareto) "
			"VALUES (1, 1, '{}', 'k', 'success', 0, 'search', 0)"
		)
	store.engine.dispose()
	store = Store(url)  # migrates to head
	with store.session() as s:
		assert s.query(Experiment).count() == 1
		assert s.get(Task, 1).owner_id is None
	user, _ = users.add_user(store, "owner", "operator")
	with store.session() as s:
		s.get(Task, 1).owner_id = user.id
	store.engine.dispose()


def test_cli_users_add_list_revoke(data_dir: Path) -> None:
	run = lambda *a: subprocess.run([*CLI, "users", *a], capture_output=True, text=True, timeout=120)  # noqa: E731
	r = run("list")
	assert r.returncode == 0 and "single-user mode" in r.stdout
	r = run("add", "alice", "--role", "operator")
	assert r.returncode == 0, r.stderr
	token = r.stdout.strip().splitlines()[-1]
	assert token.startswith("atk_") and len(token) > 40
	r = run("list")
	assert r.returncode == 0 and "alice" in r.stdout and "operator" in r.stdout and token not in r.stdout
	assert token[:8] in r.stdout
	for args, text in (
		(("add", "alice", "--role", "viewer"), "already exists"),
		(("add", "bob", "--role", "superuser"), "unknown role"),
		(("add", "bad\u202ename"), "bidirectional"),
		(("add", "tab\tname"), "control character"),
		(("revoke", "nobody"), "no user named"),
	):
		r = run(*args)
		assert r.returncode in (1, 2) and text in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
	assert run("add", "bob", "--role", "superuser").returncode == 2
	r = run("revoke", "alice")
	assert r.returncode == 0 and "revoked" in r.stdout
	store = Store()
	assert users.authenticate(store, token) is None
	store.engine.dispose()


def _free_port() -> int:
	import socket

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return int(s.getsockname()[1])


def _serve(*args: str) -> tuple[subprocess.Popen[bytes], str]:
	port = _free_port()
	proc = subprocess.Popen(
		[*CLI, "serve", "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
	)
	url = f"http://127.0.0.1:{port}"
	deadline = time.monotonic() + 60
	while True:
		try:
			httpx.get(f"{url}/api/system/health", timeout=2)
			return proc, url
		except httpx.HTTPError:
			assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
			assert time.monotonic() < deadline, "serve did not answer within 60 s"
			time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
	proc.send_signal(signal.SIGINT)
	assert proc.wait(30) == 0


def test_serve_off_loopback_refuses_to_start_without_users(data_dir: Path) -> None:
	r = subprocess.run(
		[*CLI, "serve", "--host", "0.0.0.0", "--port", str(_free_port())], capture_output=True, text=True
	)
	assert r.returncode == 1 and "without users" in r.stderr and "users add" in r.stderr
	assert "Traceback" not in r.stderr


def test_serve_off_loopback_with_users_needs_tokens(data_dir: Path) -> None:
	store = Store()
	_, token = users.add_user(store, "ops", "operator")
	users.add_user(store, "gone", "viewer")
	store.engine.dispose()
	proc, url = _serve("--host", "0.0.0.0", "--allowed-host", "tuner.example.com")
	try:
		assert httpx.get(f"{url}/api/tasks/").status_code == 401
		assert httpx.get(f"{url}/api/tasks/", headers=bearer(token)).status_code == 200
		named = httpx.get(f"{url}/api/tasks/", headers={**bearer(token), "Host": "tuner.example.com"})
		assert named.status_code == 200
		assert httpx.get(f"{url}/api/tasks/", headers={**bearer(token), "Host": "evil.example"}).status_code == 400
	finally:
		_stop(proc)


def test_real_server_refuses_the_cross_site_attack_and_runs_nothing(data_dir: Path, tmp_path: Path) -> None:
	"""The issue's request, sent to a real `autotuner serve` (with its worker) as a foreign page's fetch would."""
	marker = tmp_path / "pwned"
	attack = spec("pwn", env={"PYTHONWARNINGS": "ignore::0:antigravity.x", "BROWSER": f"touch {marker}"})
	proc, url = _serve()
	try:
		for headers in (
			{"Content-Type": "text/plain", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
			{"Content-Type": "text/plain"},
			{"Content-Type": "application/json", "Origin": EVIL},
		):
			r = httpx.post(f"{url}/api/tasks/?start=true", content=json.dumps(attack), headers=headers)
			assert r.status_code in (403, 415), (headers, r.text)
		rebound = httpx.post(
			f"{url}/api/tasks/?start=true",
			json=attack,
			headers={"Host": "evil.example", "Origin": "http://evil.example"},
		)
		assert rebound.status_code == 400
		assert httpx.get(f"{url}/api/tasks/").json() == []
		time.sleep(1)
		assert not marker.exists()
	finally:
		_stop(proc)


# ---- part 7: names --------------------------------------------------------------------------------------------------

BAD_NAMES = [
	"",
	"   ",
	"nul\x00name",
	"new\nline",
	"esc\x1b[31mred",
	"bidi\u202eexe.txt",
	"iso\u2066x",
	"del\x7f",
	" pad",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_task_and_preset_names_refuse_control_bidi_and_blank(client: TestClient, name: str) -> None:
	r = client.post("/api/tasks/", json=spec(name))
	assert r.status_code == 422, r.text
	assert any(p["path"] == "task_name" for p in r.json()["detail"]), r.json()
	r = client.post("/api/tasks/", content=yaml.safe_dump(spec(name)), headers={"Content-Type": "application/yaml"})
	assert r.status_code == 422
	r = client.post("/api/presets/", json={"name": name, "parameters": {}})
	assert r.status_code == 422 and r.json()["detail"][0]["path"] == "name", r.text
	r = client.post("/api/presets/import", json=[{"name": name, "parameters": {}}])
	assert r.status_code == 422, r.text
	ok = client.post("/api/presets/", json={"name": f"ok-{len(name)}-{ord(name[-1]) if name else 0}", "parameters": {}})
	assert client.put(f"/api/presets/{ok.json()['id']}", json={"name": name}).status_code == 422
	assert task_names(client) == []
	assert all(p["name"] != name for p in client.get("/api/presets/").json())


def test_good_names_still_work(client: TestClient) -> None:
	for name in ("llama 8b · tp2", "задача-1", "名前", "a.b_c-d (copy)", "emoji 🚀"):
		r = client.post("/api/tasks/", json=spec(name))
		assert r.status_code == 201, (name, r.text)
	task = client.post("/api/tasks/", json=spec("x")).json()
	r = client.put(f"/api/tasks/{task['id']}", json={"spec": spec("bad\u202ename")})
	assert r.status_code == 422


def test_cli_refuses_bad_task_names_with_exit_2(tmp_path: Path) -> None:
	for i, name in enumerate(["bidi\u202ename", "nul\x00", "  "]):
		path = tmp_path / f"bad{i}.yaml"
		path.write_text(yaml.safe_dump(spec(name)), encoding="utf-8")
		r = subprocess.run([*CLI, "validate", str(path)], capture_output=True, text=True, timeout=120)
		assert r.returncode == 2, (name, r.stdout, r.stderr)
		out = r.stdout + r.stderr
		assert "task_name" in out and "Traceback" not in out and "\u202e" not in out and "\x00" not in out
