"""Commands on the machine and services: gpus, models, serve, worker."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..errors import AutotunerError, UsageError
from .common import DbOpt, _fail, _store, app, console, models_app


@app.command()
def gpus(
	as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
	"""The GPUs this host has (NVML, else nvidia-smi) and which are free for experiments."""
	from ..gpus import MIB, GPUAllocator, describe, discover

	found = discover()
	free = {g.index for g in GPUAllocator(lambda: found).free()} if found else set()
	if as_json:
		console.print_json(json.dumps([{**d, "free": d["index"] in free} for d in describe(found)]))
		return
	if not found:
		console.print("no GPU found (no NVIDIA driver, nvidia-ml-py or nvidia-smi answered); engines run on the CPU")
		return
	table = Table(header_style="bold")
	for col in ("id", "name", "memory used / total", "util", "procs", "free", "uuid"):
		table.add_column(col)
	for g in found:
		mem = f"{g.memory_used // MIB} / {g.memory_total // MIB} MiB"
		util = "?" if g.utilization is None else f"{g.utilization}%"
		procs = "?" if g.processes is None else str(g.processes)
		table.add_row(str(g.index), g.name, mem, util, procs, "yes" if g.index in free else "no", g.uuid)
	console.print(table)
	console.print(f"[dim]source: {found[0].source}[/]")


@models_app.command("pull")
def models_pull(
	name: Annotated[str, typer.Argument(help="Known model name (e.g. smollm2)")],
	force: Annotated[bool, typer.Option("--force", help="Fetch again even if cached")] = False,
	format: Annotated[
		str,
		typer.Option(
			"--format",
			help="gguf (llama.cpp), or hf: a Hugging Face folder converted once from the GGUF (vLLM, SGLang)",
		),
	] = "gguf",
) -> None:
	"""Fetch a known model into the cache (checksum verified) and print its path."""
	from ..models import pull

	try:
		with console.status(f"fetching {name}…"):
			path = pull(name, force=force, say=lambda m: console.print(f"[dim]{m}[/]"), format=format)
		console.print(f"[green]{name}[/]: {path}")
	except AutotunerError as exc:
		_fail(exc)


@models_app.command("list")
def models_list() -> None:
	"""Known models and whether they are cached."""
	from ..models import KNOWN_MODELS, cached_path

	table = Table(header_style="bold")
	for col in ("name", "cached", "description"):
		table.add_column(col)
	for name, m in KNOWN_MODELS.items():
		p = cached_path(name)
		table.add_row(name, str(p) if p.exists() else "no", m.description)
	console.print(table)


RedisOpt = Annotated[
	str | None,
	typer.Option(
		"--redis", help="Redis URL: tasks go through an ARQ queue run by `autotuner worker` (env AUTOTUNER_REDIS)"
	),
]


@app.command()
def serve(
	host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
	port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8000,
	db: DbOpt = None,
	redis: RedisOpt = None,
	slots: Annotated[int, typer.Option("--slots", help="In-process worker: tasks run at the same time")] = 1,
	no_worker: Annotated[bool, typer.Option("--no-worker", help="Serve the API only; run no tasks here")] = False,
	allowed_host: Annotated[
		list[str] | None,
		typer.Option(
			"--allowed-host",
			help="Another Host name the server answers to, besides localhost, 127.0.0.1, [::1] and --host "
			"(repeat it; '*.example.com' for subdomains; env AUTOTUNER_ALLOWED_HOSTS, comma-separated)",
		),
	] = None,
	cors_origin: Annotated[
		list[str] | None,
		typer.Option(
			"--cors-origin",
			help="An origin (https://host[:port]) of another web app allowed to call this API; CORS stays closed "
			"without it (repeat it; env AUTOTUNER_CORS_ORIGINS, comma-separated)",
		),
	] = None,
) -> None:
	"""Serve the REST + WebSocket API (OpenAPI at /docs) with an in-process worker, or an ARQ queue with --redis.

	On loopback with no users it runs in single-user mode; any other --host needs users (`autotuner users add`),
	and every request then needs an API token."""
	import os

	import uvicorn

	from .. import users
	from ..api import Settings, create_app
	from ..api.settings import LOOPBACK_HOSTS, WILDCARD_BINDS, is_loopback
	from ..deploy.ports import port_in_use

	try:
		redis = redis or os.environ.get("AUTOTUNER_REDIS") or None
		hosts = [*LOOPBACK_HOSTS, *_listed(allowed_host, "AUTOTUNER_ALLOWED_HOSTS")]
		if host.strip("[]") not in WILDCARD_BINDS:
			hosts.append(host)
		remote = not is_loopback(host)
		settings = Settings(
			db_url=db,
			redis_url=redis,
			worker_slots=slots,
			run_worker=not no_worker,
			allowed_hosts=hosts,
			cors_origins=_listed(cors_origin, "AUTOTUNER_CORS_ORIGINS"),
			require_auth=remote,
		)
		store = _store(settings.db_url)  # fail early, with a clear message, on a bad database URL
		if remote and users.active_users(store) == 0:
			raise AutotunerError(
				f"refusing to serve on {host} without users: anyone who can reach it could run processes here",
				hint="add one first: autotuner users add NAME --role admin (or serve on 127.0.0.1)",
			)
		store.engine.dispose()
		if port_in_use(port, host):
			raise AutotunerError(f"port {port} on {host} is already in use", hint="pick another one with --port")
		mode = f"ARQ queue on {redis}" if redis else ("no worker" if no_worker else "in-process worker")
		console.print(f"serving on http://{host}:{port} (API docs at /docs; {mode})")
		console.print(
			f"[dim]answering to Host: {', '.join(settings.allowed_hosts)}; "
			+ (
				"API tokens required[/]"
				if remote
				else "single-user mode until a user is added (autotuner users add)[/]"
			),
			highlight=False,
		)
		uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
	except AutotunerError as exc:
		_fail(exc)


def _listed(given: list[str] | None, env: str) -> list[str]:
	"""Values of a repeatable option, else of a comma-separated environment variable."""
	import os

	if given:
		return [v for g in given for v in g.split(",") if v.strip()]
	return [v for v in os.environ.get(env, "").split(",") if v.strip()]


@app.command()
def worker(
	db: DbOpt = None,
	redis: RedisOpt = None,
	jobs: Annotated[int, typer.Option("--jobs", help="Tasks this worker runs at the same time")] = 1,
	metrics_port: Annotated[
		int | None, typer.Option("--metrics-port", help="Serve Prometheus /metrics of this worker on this port")
	] = None,
	metrics_host: Annotated[
		str, typer.Option("--metrics-host", help="Address for --metrics-port (0.0.0.0: every interface)")
	] = "127.0.0.1",
	name: Annotated[
		str | None, typer.Option("--name", help="This worker's name, unique among the workers (default: host-pid)")
	] = None,
	cpus: Annotated[
		str | None,
		typer.Option("--cpus", help="CPU cores its engines run on, e.g. 0-3,8 (default: all it may use)"),
	] = None,
	heartbeat_interval: Annotated[
		int, typer.Option("--heartbeat-interval", min=1, max=300, help="Seconds between an experiment's heartbeats")
	] = 5,
	grace_period: Annotated[
		int,
		typer.Option(
			"--grace-period", min=2, max=3600, help="Seconds without heartbeat before its experiment is measured again"
		),
	] = 30,
) -> None:
	"""Run tasks from the ARQ queue on Redis (start as many as you like, on this or other hosts sharing --db).

	On PostgreSQL, workers also share one task: an idle worker joins a running task's search (docs/distributed.md)."""
	import os

	from ..store.db import Heartbeat
	from ..worker.arq_worker import run_worker

	try:
		url = redis or os.environ.get("AUTOTUNER_REDIS")
		if not url:
			raise AutotunerError("a worker needs a Redis URL", hint="pass --redis redis://host:6379/0")
		if grace_period <= heartbeat_interval:
			raise UsageError("--grace-period must be longer than --heartbeat-interval", hint="e.g. 5 and 30")
		cores = _cores(cpus)
		store = _store(db)
		console.print(f"worker: queue {url}, database {store.url.split('@')[-1]}")
		if metrics_port is not None:
			from ..telemetry import serve_metrics

			try:
				serve_metrics(metrics_port, metrics_host)
			except OSError as exc:
				raise AutotunerError(
					f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}", hint="choose a free --metrics-port"
				) from None
			console.print(f"metrics: http://{metrics_host}:{metrics_port}/metrics")
		beat = Heartbeat(interval=heartbeat_interval, grace_period=grace_period)
		run_worker(store.url, url, max_jobs=jobs, name=name, cpus=cores, heartbeat=beat)
	except AutotunerError as exc:
		_fail(exc)


def _cores(text: str | None) -> list[int] | None:
	"""--cpus 0-3,8 -> [0, 1, 2, 3, 8]; cores this process may not use are refused."""
	import os

	if not text:
		return None
	cores: set[int] = set()
	try:
		for part in text.split(","):
			lo, _, hi = part.strip().partition("-")
			cores.update(range(int(lo), int(hi or lo) + 1))
	except ValueError:
		raise UsageError(f"--cpus {text!r}: not a core list", hint="e.g. --cpus 0-3,8") from None
	allowed = os.sched_getaffinity(0)
	if not cores or not cores <= allowed:
		missing = sorted(cores - allowed)
		raise UsageError(
			f"--cpus {text!r}: {len(missing)} of these cores are not available here (e.g. {missing[0]})",
			hint=f"pick from {sorted(allowed)}",
		)
	return sorted(cores)


@app.command()
def workers(
	db: DbOpt = None,
	redis: RedisOpt = None,
	as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
	"""The workers on Redis: host, resources, the tasks each serves and the experiments it is measuring."""
	import os

	from ..services.workers import list_workers
	from ..worker.redis_queue import RedisQueue

	try:
		url = redis or os.environ.get("AUTOTUNER_REDIS")
		if not url:
			raise AutotunerError("workers are listed from Redis", hint="pass --redis redis://host:6379/0")
		queue = RedisQueue(url, lambda _ev: None)
		try:
			found = list_workers(_store(db), queue.workers())
		finally:
			queue._sync.close()
	except AutotunerError as exc:
		_fail(exc)
	if as_json:
		console.print_json(json.dumps([w.model_dump(mode="json") for w in found]))
		return
	if not found:
		console.print("no worker is running (start one: autotuner worker --redis URL --db URL)")
		return
	table = Table(header_style="bold")
	for col in ("worker", "host", "state", "cpus", "gpus", "tasks", "measuring"):
		table.add_column(col)
	for w in found:
		cpus = w.resources.get("cpus") or []
		tasks = ", ".join([*(str(t) for t in w.tasks), *(f"{t} (joined)" for t in w.joined)])
		now = ", ".join(f"{e.task_name} #{e.number}" for e in w.running)
		table.add_row(w.id, w.host or "", w.state, str(len(cpus)), str(w.resources.get("gpus", 0)), tasks, now)
	console.print(table)


if __name__ == "__main__":
	app()
