"""The FastAPI app: routes, error handling, and the lifespan that opens the store, seeds presets and runs the queue."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from .. import __version__
from ..store import Store
from . import errors, guard, limits, web
from .auth import AUTH_ERRORS, READ
from .events import EventHub
from .presets_data import seed_system_presets
from .routes import (
	auth,
	dashboard,
	docker,
	experiments,
	logs,
	metrics,
	presets,
	reports,
	runtime_params,
	specs,
	system,
	tasks,
	workers,
	ws,
)
from .settings import Settings

log = logging.getLogger(__name__)


def _make_queue(settings: Settings, store: Store, hub: EventHub) -> Any:
	if settings.redis_url:
		from ..worker.redis_queue import RedisQueue

		return RedisQueue(settings.redis_url, hub.publish)
	from ..worker import LocalWorker

	return LocalWorker(store, hub.publish, slots=settings.worker_slots)


def create_app(settings: Settings | None = None, **runner_kw: Any) -> FastAPI:
	"""The app. `runner_kw` go to every TaskRunner of the in-process worker (tests: a deployer, max_trials)."""
	settings = settings or Settings()

	@asynccontextmanager
	async def lifespan(app: FastAPI) -> AsyncIterator[None]:
		store = Store(settings.db_url)
		seed_system_presets(store)
		hub = EventHub()
		queue = _make_queue(settings, store, hub)
		if runner_kw and hasattr(queue, "runner_kw"):
			queue.runner_kw.update(runner_kw)
		app.state.store, app.state.hub, app.state.queue, app.state.settings = store, hub, queue, settings
		if settings.redis_url or settings.run_worker:
			await _maybe_async(queue.start())
		try:
			yield
		finally:
			await _maybe_async(queue.stop())
			store.engine.dispose()

	app = FastAPI(
		title="inference-autotuner",
		version=__version__,
		description="Tune LLM inference engine flags: tasks, experiments, presets, live events.",
		lifespan=lifespan,
		generate_unique_id_function=_operation_id,
	)
	errors.install(app)
	for module in (
		tasks,
		specs,
		logs,
		reports,
		experiments,
		presets,
		runtime_params,
		dashboard,
		docker,
		metrics,
		workers,
	):
		app.include_router(module.router, dependencies=[READ], responses=AUTH_ERRORS)  # a viewer at least
	for module in (auth, system, ws):  # their own rules: health is open, sign-in takes a token, ws checks itself
		app.include_router(module.router)
	limits.install(app)  # body size (413 from Content-Length) and the document caps of JSON bodies (422)
	guard.install(app, settings)  # Host allow-list, Origin check, JSON/YAML bodies; CORS only when configured
	web.install(app)  # the built web app at / (SPA fallback); last, after every API route
	_publish_events(app)
	return app


def _publish_events(app: FastAPI) -> None:
	"""The WebSocket's messages (runner/events.py's TaskEvent union) in the OpenAPI components, which OpenAPI has no
	place for otherwise: the web's TypeScript event types are generated from them."""
	from ..runner.events import event_schemas

	build = app.openapi

	def openapi() -> dict[str, Any]:
		if app.openapi_schema is None:
			schema = build()
			components = schema.setdefault("components", {}).setdefault("schemas", {})
			events = event_schemas()
			if clash := set(components) & set(events):  # pragma: no cover - a renamed model would shadow a route's
				raise RuntimeError(f"event schemas clash with the API's: {sorted(clash)}")
			components.update(events)
			app.openapi_schema = schema
		return app.openapi_schema

	app.openapi = openapi  # type: ignore[method-assign]


def _operation_id(route: APIRoute) -> str:
	return route.operation_id or route.name


async def _maybe_async(result: Any) -> Any:
	if hasattr(result, "__await__"):
		return await result
	return result
