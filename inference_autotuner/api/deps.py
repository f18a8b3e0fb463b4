"""Dependencies shared by the routes (Annotated aliases) and the request-body parser for JSON or YAML."""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import Depends, Path, Request

from ..errors import SpecError, SpecProblem
from ..store import Store
from ..worker import TaskQueue
from .events import EventHub
from .settings import Settings

MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)
MAX_BODY = 2_000_000


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
	body = await request.body()
	if len(body) > MAX_BODY:
		raise SpecError([SpecProblem("", f"the {what} is larger than {MAX_BODY} bytes")])
	if not body.strip():
		raise SpecError([SpecProblem("", f"the request body is empty: send the {what} as JSON or YAML")])
	try:
		text = body.decode("utf-8")
	except UnicodeDecodeError:
		raise SpecError([SpecProblem("", "the body is not UTF-8 text")]) from None
	ctype = request.headers.get("content-type", "").lower()
	if "yaml" in ctype:
		try:
			return yaml.safe_load(text)
		except yaml.YAMLError as exc:
			mark = getattr(exc, "problem_mark", None)
			where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
			problem = getattr(exc, "problem", None) or str(exc)
			raise SpecError([SpecProblem("", f"not valid YAML{where}: {problem}")]) from None
	try:
		return json.loads(text)
	except json.JSONDecodeError as exc:
		raise SpecError(
			[SpecProblem("", f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
		) from None
