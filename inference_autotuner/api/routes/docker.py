"""/api/docker/containers: the containers this tool started (by label): list, logs, stats, stop, restart, remove.

Talks to the Docker Engine API on its unix socket ($DOCKER_HOST=unix://... or /var/run/docker.sock); when Docker is
not reachable every route answers 503 saying so.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse

from ..auth import ADMIN
from ..errors import NotFound, Unavailable
from ..schemas import ErrorBody

router = APIRouter(prefix="/api/docker", tags=["docker"], dependencies=[ADMIN])  # the host's containers: admins
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 503: {"model": ErrorBody}}
LABEL_PREFIXES = ("autotuner.",)  # deploy/docker.py labels: autotuner.managed=true, autotuner.task, ...
ContainerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


def _socket() -> str:
	host = os.environ.get("DOCKER_HOST", "")
	return host.removeprefix("unix://") if host.startswith("unix://") else "/var/run/docker.sock"


def _call(method: str, path: str, **kw: Any) -> httpx.Response:
	sock = _socket()
	if not os.path.exists(sock):
		raise Unavailable(
			f"Docker is not reachable: no socket at {sock}",
			hint="start dockerd (or set DOCKER_HOST=unix:///path/docker.sock) to manage containers here",
		)
	try:
		with httpx.Client(transport=httpx.HTTPTransport(uds=sock), base_url="http://docker", timeout=30) as c:
			return c.request(method, path, **kw)
	except httpx.HTTPError as exc:
		raise Unavailable(f"Docker is not reachable at {sock}: {exc}", hint="is dockerd running?") from None


def _ours(labels: dict[str, str] | None) -> bool:
	return any(k.startswith(LABEL_PREFIXES) for k in (labels or {}))


def _container(cid: str) -> dict[str, Any]:
	r = _call("GET", f"/containers/{cid}/json")
	if r.status_code == 404 or (r.status_code == 200 and not _ours(r.json().get("Config", {}).get("Labels"))):
		raise NotFound(f"no container '{cid}' started by this tool", hint="GET /api/docker/containers lists them")
	if r.status_code != 200:
		raise Unavailable(f"Docker answered {r.status_code}: {r.text[:200]}")
	data: dict[str, Any] = r.json()
	return data


@router.get("/containers", operation_id="list_containers", responses=ERRORS)
def list_containers(all: Annotated[bool, Query(description="Include stopped containers")] = True) -> list[Any]:
	r = _call("GET", "/containers/json", params={"all": "1" if all else "0"})
	if r.status_code != 200:
		raise Unavailable(f"Docker answered {r.status_code}: {r.text[:200]}")
	return [
		{
			"id": c.get("Id", "")[:12],
			"name": (c.get("Names") or ["?"])[0].lstrip("/"),
			"image": c.get("Image"),
			"state": c.get("State"),
			"status": c.get("Status"),
			"labels": c.get("Labels"),
			"created": c.get("Created"),
		}
		for c in r.json()
		if _ours(c.get("Labels"))
	]


@router.get("/containers/{container_id}", operation_id="get_container", responses=ERRORS)
def get_container(container_id: ContainerId) -> dict[str, Any]:
	c = _container(container_id)
	return {
		"id": c.get("Id", "")[:12],
		"name": c.get("Name", "").lstrip("/"),
		"state": c.get("State"),
		"config": c.get("Config"),
	}


@router.get(
	"/containers/{container_id}/logs", operation_id="container_logs", response_class=PlainTextResponse, responses=ERRORS
)
def container_logs(container_id: ContainerId, tail: Annotated[int, Query(ge=1, le=100000)] = 500) -> PlainTextResponse:
	_container(container_id)
	r = _call("GET", f"/containers/{container_id}/logs", params={"stdout": 1, "stderr": 1, "tail": tail})
	raw, out = r.content, bytearray()
	while len(raw) >= 8 and raw[0] in (0, 1, 2) and raw[1:4] == b"\0\0\0":  # multiplexed stream frames
		size = int.from_bytes(raw[4:8], "big")
		out += raw[8 : 8 + size]
		raw = raw[8 + size :]
	return PlainTextResponse((bytes(out) + raw).decode("utf-8", errors="replace"))


@router.get("/containers/{container_id}/stats", operation_id="container_stats", responses=ERRORS)
def container_stats(container_id: ContainerId) -> dict[str, Any]:
	_container(container_id)
	r = _call("GET", f"/containers/{container_id}/stats", params={"stream": "false"})
	data: dict[str, Any] = r.json() if r.status_code == 200 else {}
	return data


def _action(container_id: str, method: str, path: str) -> Response:
	_container(container_id)
	r = _call(method, path)
	if r.status_code >= 400 and r.status_code != 304:
		raise Unavailable(f"Docker answered {r.status_code}: {r.text[:200]}")
	return Response(status_code=204)


@router.post("/containers/{container_id}/stop", operation_id="stop_container", status_code=204, responses=ERRORS)
def stop_container(container_id: ContainerId) -> Response:
	return _action(container_id, "POST", f"/containers/{container_id}/stop")


@router.post("/containers/{container_id}/restart", operation_id="restart_container", status_code=204, responses=ERRORS)
def restart_container(container_id: ContainerId) -> Response:
	return _action(container_id, "POST", f"/containers/{container_id}/restart")


@router.delete("/containers/{container_id}", operation_id="remove_container", status_code=204, responses=ERRORS)
def remove_container(container_id: ContainerId) -> Response:
	return _action(container_id, "DELETE", f"/containers/{container_id}?force=true")
