"""Prometheus metrics: counted from the runner's events (TaskLog hands every event to `observe`), plus a collector
that reads the store at scrape time (tasks by status, queue depth).

Each process counts what it runs itself: `autotuner serve` with its in-process worker, or each `autotuner worker`
(`--metrics-port`); the store collector is served by `autotuner serve` only, so summing over processes never counts
a task twice. See docs/api.md (Metrics) for every name and label.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()  # this process's event counters (not prometheus_client's global default registry)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

EXPERIMENTS_STARTED = Counter(
	"autotuner_experiments_started",
	"Experiments this process started, by what proposed them (search, warm_start, baseline, repeat, ...)",
	["origin"],
	registry=REGISTRY,
)
EXPERIMENTS_FINISHED = Counter(
	"autotuner_experiments_finished",
	"Experiments this process finished, by status (success, infeasible, failed, pruned, skipped, interrupted) and "
	"reason class (none when it succeeded)",
	["status", "reason"],
	registry=REGISTRY,
)
EXPERIMENT_DURATION = Histogram(
	"autotuner_experiment_duration_seconds",
	"Wall time of one experiment (start-up, load runs, teardown), by status",
	["status"],
	buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf")),
	registry=REGISTRY,
)
ENGINE_START = Histogram(
	"autotuner_engine_start_seconds",
	"From launching an engine to its health check passing",
	buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, float("inf")),
	registry=REGISTRY,
)
RUNS = Counter(
	"autotuner_runs",
	"Load runs (one load level of one scenario) finished, measured or predicted",
	["predicted"],
	registry=REGISTRY,
)
CLIENT_LAG = Histogram(
	"autotuner_load_client_lag_seconds",
	"Worst delay of a measured load run between a request's scheduled and actual send (RunMetrics.max_send_lag): "
	"the load client falling behind its own schedule",
	buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, float("inf")),
	registry=REGISTRY,
)
TASKS_RUN = Counter(
	"autotuner_task_runs_finished",
	"Task runs this process ended, by the status they ended in (completed, failed, cancelled, queued when a worker "
	"stopped and handed it back)",
	["status"],
	registry=REGISTRY,
)
TASKS_RUNNING = Gauge("autotuner_tasks_in_progress", "Tasks this process is running now", registry=REGISTRY)

_running: set[int] = set()
_lock = threading.Lock()

# reason classes: a failure reason is free text (it names numbers, paths, log lines); a label must be a small set
_REASONS: list[tuple[str, re.Pattern[str]]] = [
	("cancelled", re.compile(r"cancel", re.I)),
	("out_of_memory", re.compile(r"out-of-memory|out of memory|does not fit|OOM", re.I)),
	("bad_flag", re.compile(r"bad-flag|bad-config|unrecognized argument|invalid choice", re.I)),
	("startup_timeout", re.compile(r"not ready after|startup_timeout", re.I)),
	("engine_start", re.compile(r"before (it|the engine) was ready|could not start|executable .* not found", re.I)),
	("engine_crash", re.compile(r"exited with code", re.I)),
	("timeout", re.compile(r"timed out|timeout_per_iteration", re.I)),
	("client_bound", re.compile(r"load generator could not drive", re.I)),
	("no_request_completed", re.compile(r"no request completed|no run (was measured|completed)", re.I)),
	("slo", re.compile(r"SLO|threshold", re.I)),
	("pruned", re.compile(r"pruned|stopped early", re.I)),
	("prediction", re.compile(r"aiconfigurator|predict", re.I)),
	("constraint", re.compile(r"constraint|not allowed|refus|skipped|invalid", re.I)),
]
REASON_CLASSES = ("none", *(name for name, _ in _REASONS), "other")


def reason_class(status: str | None, reason: str | None) -> str:
	"""A small, fixed label for a free-text failure reason (`none` when there is none)."""
	if not reason:
		return "none" if status in (None, "success") else "other"
	for name, pattern in _REASONS:
		if pattern.search(reason):
			return name
	return "other"


def _number(value: Any) -> float | None:
	return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def observe(ev: dict[str, Any]) -> None:
	"""Count one runner event (never raises: metrics must not break a run)."""
	try:
		_observe(ev)
	except Exception:  # pragma: no cover - a malformed event is skipped
		pass


def _observe(ev: dict[str, Any]) -> None:
	kind = ev.get("type")
	if kind == "experiment_started":
		EXPERIMENTS_STARTED.labels(origin=str(ev.get("origin") or "search")).inc()
	elif kind == "experiment_finished":
		status = str(ev.get("status") or "unknown")
		EXPERIMENTS_FINISHED.labels(status=status, reason=reason_class(status, ev.get("reason"))).inc()
		duration = _number(ev.get("duration"))
		if duration is not None:
			EXPERIMENT_DURATION.labels(status=status).observe(max(duration, 0.0))
	elif kind == "engine_ready":
		seconds = _number(ev.get("seconds"))
		if seconds is not None:
			ENGINE_START.observe(max(seconds, 0.0))
	elif kind == "run_finished":
		metrics = ev.get("metrics") or {}
		predicted = bool(metrics.get("predicted"))
		RUNS.labels(predicted=str(predicted).lower()).inc()
		lag = _number(metrics.get("max_send_lag"))
		if lag is not None and not predicted:
			CLIENT_LAG.observe(max(lag, 0.0))
	elif kind == "task_status":
		task_id = ev.get("task_id")
		status = str(ev.get("status"))
		with _lock:
			if status == "running":
				_running.add(task_id)  # type: ignore[arg-type]
			elif task_id in _running:
				_running.discard(task_id)  # type: ignore[arg-type]
				TASKS_RUN.labels(status=status).inc()
			TASKS_RUNNING.set(len(_running))


class StoreCollector(Collector):
	"""Tasks by status and the queue depth, read from the store at each scrape (one GROUP BY on tasks)."""

	def __init__(self, store: Any, queue: Any = None) -> None:
		self.store = store
		self.queue = queue

	def collect(self) -> Iterator[Metric]:
		from sqlalchemy import func, select

		from .store import Task, TaskStatus

		with self.store.session() as s:
			counts = dict(s.execute(select(Task.status, func.count()).group_by(Task.status)).all())
		tasks = GaugeMetricFamily("autotuner_tasks", "Tasks in the store, by status", labels=["status"])
		statuses = [str(v) for v in TaskStatus]
		for status in sorted({*statuses, *counts}):
			tasks.add_metric([str(status)], float(counts.get(status, 0)))
		yield tasks
		yield GaugeMetricFamily(
			"autotuner_queue_depth",
			"Tasks waiting for a worker (status queued in the store)",
			value=float(counts.get(TaskStatus.QUEUED, 0)),
		)
		workers = self._workers()
		if workers is not None:
			busy = GaugeMetricFamily("autotuner_workers", "Workers the queue knows of, by state", labels=["state"])
			states: dict[str, int] = {"busy": 0, "idle": 0}
			for w in workers:
				state = str(w.get("state") or "unknown")
				states[state] = states.get(state, 0) + 1
			for state, n in sorted(states.items()):
				busy.add_metric([state], float(n))
			yield busy

	def _workers(self) -> list[dict[str, Any]] | None:
		if self.queue is None:
			return None
		try:
			return list(self.queue.workers())
		except Exception:
			return None


class _Joined(Collector):
	def __init__(self, collectors: Iterable[Collector]) -> None:
		self.collectors = list(collectors)

	def collect(self) -> Iterator[Metric]:
		for c in self.collectors:
			yield from c.collect()


def exposition(accept: str | None, *extra: Collector) -> tuple[bytes, str]:
	"""This process's metrics (+ `extra` collectors) in the format the scraper asked for (text or OpenMetrics)."""
	registry = CollectorRegistry(auto_describe=False)
	registry.register(_Joined([REGISTRY, *extra]))
	encoder, content_type = choose_encoder(accept or "")
	return encoder(registry), content_type


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
	"""A /metrics endpoint on its own port for `autotuner worker` (prometheus-client's own HTTP server thread)."""
	from prometheus_client import start_http_server

	start_http_server(port, addr=host, registry=REGISTRY)
