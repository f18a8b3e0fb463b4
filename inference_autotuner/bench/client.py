"""The built-in load generator: closed-loop (or open-loop Poisson arrivals, arrivals.py), async, streaming, against
any OpenAI-compatible server.

`run_load(req)` (req: the RunRequest every driver gets, bench/request.py) keeps `req.concurrency` requests in flight
until `req.max_requests` were sent or `req.max_duration_s` seconds passed, then sends no more and lets the requests in
flight finish (each may take up to `req.request_timeout` seconds; one that does not finish is recorded as an
"incomplete" error). Warm-up requests go first and are not counted.

Each request gets its own prompt of exactly the sampled input length (see prompts.py), built before the clock
starts so that building prompts neither loads the server nor slows the client during the run. Times are
time.perf_counter() seconds: `sent` when the request's last byte was written, `first_token` at the first chunk with
non-empty text, one `chunk_times` entry per such chunk, `end` after the last byte. Token counts come from the
server's `usage` (prompt_tokens includes a chat template's tokens); where a server sends no usage they are counted
with its tokenizer. Failures never raise: they become the request's `error` text.

The streaming hot path is aiohttp (its C HTTP parser; events of one network read handled together), on uvloop where
the tuner creates the loop (eventloop.py); prompt building and token counting stay on httpx. With `req.client_processes` > 1 the
run's concurrency (or request rate) is split over that many client processes (processes.py), whose records are
merged before any figure is computed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

import httpx

from .arrivals import drive_open_loop
from .audit import client_audit
from .loops import drive_closed_loop, drive_sessions, measure
from .metrics import RequestRecord, RunMetrics, compute_run_metrics
from .planner import MAX_UNIQUE_PROMPTS, RunPlan, plan_run, workload_of
from .precision import PrecisionTracker, batch_size
from .request import RunRequest
from .sender import PATHS, Endpoint, LoadRun, client_http
from .tally import Outcome, Tally


def normalize_base_url(base_url: str) -> str:
	"""`http://host:port` for `http://host:port/`, `http://host:port/v1` and the like."""
	url = base_url.strip().rstrip("/")
	return url[: -len("/v1")] if url.endswith("/v1") else url


async def fetch_model_name(base_url: str, *, timeout: float = 10.0) -> str | None:
	"""The first model id the server lists at GET /v1/models; None when it lists none or cannot be asked."""
	url = normalize_base_url(base_url) + "/v1/models"
	try:
		async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
			resp = await client.get(url)
			if resp.status_code != 200:
				return None
			data = resp.json().get("data") or []
			first = data[0].get("id") if data and isinstance(data[0], dict) else None
			return first if isinstance(first, str) and first else None
	except (httpx.HTTPError, ValueError, AttributeError):
		return None


def _check(req: RunRequest) -> None:
	if req.request_rate is not None and req.request_rate <= 0:
		raise ValueError("request_rate must be > 0 (requests/s)")
	if req.concurrency < 1:
		raise ValueError("concurrency must be >= 1")
	if req.client_processes < 1:
		raise ValueError("client_processes must be >= 1")
	if req.endpoint not in PATHS:
		raise ValueError(f"unknown endpoint {req.endpoint!r}; valid: completions, chat")


def _body(req: RunRequest) -> dict[str, Any]:
	body: dict[str, Any] = {"model": req.model} if req.model else {}
	body.update(req.extra_body or {})
	for key in ("prompt", "messages", "stream", "stream_options"):
		body.pop(key, None)
	return body


async def run_load(
	req: RunRequest, cancel: asyncio.Event | None = None, *, records: list[RequestRecord] | None = None
) -> RunMetrics:
	"""Drive one run and measure it (RunRequest: bench/request.py; its times are seconds).

	Never raises for what the server does (errors become records); raises BenchmarkError when prompts of an exact
	length cannot be built (no /tokenize and no local tokenizer `req.tokenizer_dir`). When `cancel` is set the run
	stops at once and the requests finished so far are measured (those in flight are dropped).

	records: when given, every measured request's RequestRecord is appended to it (warm-up ones are not).
	req.request_rate: open loop instead (bench/arrivals.py): Poisson arrivals at this many requests/s, seeded by
	req.seed; req.concurrency is then ignored (the run is reported with concurrency None).
	req.stop_check: called with each measured request as it finishes; a text return stops the run at once (requests
	in flight are dropped) and becomes RunMetrics.stopped_early (bench/early_stop.py).
	req.objectives, req.precision: the run sends no more requests once every objective's relative 95 % half-width is
	at most `precision` (bench/precision.py); RunMetrics.half_width is recorded whenever objectives are given.
	Warm-up: rounds of req.warmup requests until steady state (bench/precision.py).
	req.client_processes: client processes that share the load (processes.py); at most the concurrency (closed
	loop) and the request count.
	"""
	_check(req)
	base_url = normalize_base_url(req.base_url)
	endpoint: Endpoint = "chat" if req.endpoint == "chat" else "completions"
	planned = plan_run(req)
	warm, plan = planned.warm, planned.requests
	wl = workload_of(req)
	body = _body(req)
	rate = req.request_rate
	conc = None if rate is not None else req.concurrency
	objectives = tuple(req.objectives)
	tracker = PrecisionTracker(objectives, req.precision, batch_size(conc), req.goodput_slo) if objectives else None
	n = min(req.client_processes, req.max_requests, req.concurrency if rate is None else req.max_requests)
	if wl is not None:
		n = 1  # workloads run in one client process (spec validation says so)
	if n > 1:
		from .processes import Job, run_in_processes

		job = Job(base_url, endpoint, body, req.request_timeout, req.tokenizer_dir, req.scenario, req.seed,
			req.max_duration_s)  # fmt: skip
		tally = Tally(req.stop_check, tracker)
		out = await run_in_processes(tally, job, warm, plan, n, req.concurrency, rate, cancel, req.progress)
	else:
		async with client_http(req.request_timeout) as client:
			run = LoadRun(client, base_url, endpoint, body, req.request_timeout, req.tokenizer_dir, req.stop_check,
				tracker)  # fmt: skip
			run.scenario = req.scenario
			run.warm_rng = random.Random(f"warm-up-{req.seed}")
			if wl is not None:
				run.block_tokens, run.max_output_tokens = wl.block_tokens, wl.max_output_tokens
			drive = _drive(run, req, planned, rate)
			stalls = await measure(run, drive, cancel)
		out = Outcome(run.records, stalls, run.warm_rounds, run.warm_steady, run.stopped_early, run.enough)
	if records is not None:
		records.extend(out.records)
	return _metrics(req, out, tracker, n)


def _drive(run: LoadRun, req: RunRequest, p: RunPlan, rate: float | None) -> Coroutine[Any, Any, None]:
	if p.sessions is not None:
		return drive_sessions(
			run, p.warm, p.sessions, req.concurrency, req.max_duration_s, p.think_time_s, req.progress
		)
	if p.offsets is not None:  # a trace: its own times (the rate is not used)
		return drive_open_loop(
			run, p.warm, p.requests, 1.0, req.max_duration_s, req.seed, req.progress, offsets=p.offsets
		)
	if rate is not None:
		return drive_open_loop(run, p.warm, p.requests, rate, req.max_duration_s, req.seed, req.progress)
	return drive_closed_loop(run, p.warm, p.requests, req.concurrency, req.max_duration_s, req.progress)


def _metrics(req: RunRequest, out: Outcome, tracker: PrecisionTracker | None, processes: int) -> RunMetrics:
	rate = req.request_rate
	wl = workload_of(req)
	trace = wl is not None and wl.kind == "trace"
	conc = None if rate is not None or trace else req.concurrency
	if trace and out.records:  # a trace's arrival rate: its requests over the span of their due times
		sched = [r.scheduled for r in out.records]
		span = max(sched) - min(sched)
		rate = (len(sched) - 1) / span if span > 0 else None
	metrics = compute_run_metrics(
		out.records, scenario=str(req.scenario), concurrency=conc, request_rate=rate, goodput_slo=req.goodput_slo
	)
	metrics.stopped_early = out.stopped_early
	if tracker is not None:
		metrics.half_width = tracker.half_width()
		metrics.precise_at = tracker.reached_at if out.enough else None
	metrics.warmup_rounds = out.warm_rounds
	metrics.warmup_steady = out.warm_steady if out.warm_rounds else None
	metrics.audit = client_audit(out.records, concurrency=conc, request_rate=rate, stalls=out.stalls)
	if processes > 1:
		metrics.audit.client_processes = processes
	if metrics.warm_start:
		metrics.audit.notes.append(
			"started on a warm prefix cache: the run's first request found most of its prompt cached (an earlier "
			"run's prompts; docs/workloads.md, cache hygiene)"
		)
	if wl is not None:
		metrics.workload, metrics.workload_sha256 = wl.label, wl.sha256
		metrics.speedup = (req.speedup or wl.speedup) if trace else None
	return metrics


__all__ = ["MAX_UNIQUE_PROMPTS", "fetch_model_name", "normalize_base_url", "run_load"]
