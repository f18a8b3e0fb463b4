"""Dependencies shared by the routes (Annotated aliases) and the request-body parser for JSON or YAML."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request

from ..errors import SpecError, SpecProblem
from ..limits import MAX_BODY_BYTES
from ..spec.load import parse_document
from ..store import Store
from ..worker import TaskQueue
from .events import EventHub
from .settings import Settings

MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)
MAX_BODY = MAX_BODY_BYTES


def get_store(request: Request) -> Store:
	store: Store = request.app.state.store
	return store


def get_queue(request: Request) -> TaskQueue:
	queue: TaskQueue = request.app.state.queue
	return queue


def get_hub(request: Request) -> EventHub:
	hub: EventHub = request.app.state.hub
	return hub


def get_settings(request: Request) -> Settings:
	settings: Settings = request.app.state.settings
	return settings


StoreDep = Annotated[Store, Depends(get_store)]
QueueDep = Annotated[TaskQueue, Depends(get_queue)]
HubDep = Annotated[EventHub, Depends(get_hub)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="Task id")]
ExperimentId = Annotated[int, Path(ge=1, le=MAX_ID, description="Experiment id")]
PresetId = Annotated[int, Path(ge=1, le=MAX_ID, description="Preset id")]

SPEC_BODY = {
	"requestBody": {
		"required": True,
		"content": {
			"application/json": {"schema": {"type": "object", "description": "Task spec (seed task JSON shape)"}},
			"application/yaml": {"schema": {"type": "string", "description": "Task spec file (YAML)"}},
		},
	}
}


async def read_document(request: Request, what: str = "task spec") -> Any:
	"""The body as data: YAML when the content type says yaml, else JSON. (The guard middleware has refused every
	other content type with 415, text/plain included: a cross-site page can send that without a CORS preflight.)"""
	body = await request.body()  # the BodyLimits middleware has refused a body over MAX_BODY_BYTES (413)
	if len(body) > MAX_BODY:
		raise SpecError([SpecProblem("", f"the {what} is larger than {MAX_BODY} bytes")])
	if not body.strip():
		raise SpecError([SpecProblem("", f"the request body is empty: send the {what} as JSON or YAML")])
	kind = "yaml" if "yaml" in request.headers.get("content-type", "").lower() else "json"
	return parse_document(body, kind, what=what)  # within the caps of limits.py: depth, aliases, NaN, 1e400
