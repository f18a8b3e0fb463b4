"""The built-in load generator: closed-loop (or open-loop Poisson arrivals, arrivals.py), async, streaming, against
any OpenAI-compatible server.

`run_load` keeps `concurrency` requests in flight until `max_requests` were sent or `max_duration` seconds passed,
then sends no more and lets the requests in flight finish (each may take up to `request_timeout` seconds; one that
does not finish is recorded as an "incomplete" error). Warm-up requests go first and are not counted.

Each request gets its own prompt of exactly the sampled input length (see prompts.py), built before the clock
starts so that building prompts neither loads the server nor slows the client during the run. Times are
time.perf_counter() seconds: `sent` when the request's last byte was written, `first_token` at the first chunk with
non-empty text, one `chunk_times` entry per such chunk, `end` after the last byte. Token counts come from the
server's `usage` (prompt_tokens includes a chat template's tokens); where a server sends no usage they are counted
with its tokenizer. Failures never raise: they become the request's `error` text.

The streaming hot path is aiohttp (its C HTTP parser; events of one network read handled together), on uvloop where
the tuner creates the loop (eventloop.py); prompt building and token counting stay on httpx. With `processes` > 1 the
run's concurrency (or request rate) is split over that many client processes (processes.py), whose records are
merged before any figure is computed.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import httpx
from yarl import URL

from ..errors import BenchmarkError
from .arrivals import drive_open_loop
from .audit import LoopMonitor, client_audit
from .metrics import GoodputSLO, RequestRecord, RunMetrics, compute_run_metrics
from .precision import MAX_WARM_ROUNDS, WARM_TIME_SHARE, PrecisionTracker, batch_size, steady
from .prompts import PromptBuilder
from .traffic import Scenario

Endpoint = Literal["completions", "chat"]
MAX_UNIQUE_PROMPTS = 2048
"""Distinct prompts built per run; longer runs reuse them in turn (then prefix caches may hit)."""
_BUILD_CONCURRENCY = 8
_PATHS: dict[str, str] = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}


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


@dataclass(slots=True)
class _Planned:
	input_tokens: int
	output_tokens: int
	variant: int
	prompt: str | None = None


def _usage_or_error(obj: dict[str, Any], rec: RequestRecord) -> None:
	usage = obj.get("usage")
	if usage:
		rec.input_tokens = int(usage.get("prompt_tokens") or 0)
		rec.output_tokens = int(usage.get("completion_tokens") or 0)
	if "error" in obj:
		err = obj["error"]
		msg = err.get("message", err) if isinstance(err, dict) else err
		rec.error = f"stream error: {str(msg)[:200]}"


_ERROR_NAMES = {"ClientConnectorError": "ConnectError", "ClientConnectorDNSError": "ConnectError"}
"""aiohttp's exception names that get the words errors had before the client moved to aiohttp (httpx's)."""


def _error_text(exc: BaseException) -> str:
	text = str(exc).strip()
	name = type(exc).__name__
	name = _ERROR_NAMES.get(name, name)
	return f"{name}: {text}"[:300] if text else name


async def _stamp_sent(session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestChunkSentParams) -> None:
	"""`sent` = when the request's last byte goes to the socket: aiohttp calls this just before it writes each chunk
	of the body (one chunk here, coalesced with the headers), so aiohttp's own request building is not TTFT."""
	ctx.trace_request_ctx.sent = time.perf_counter()


class _Tally:
	"""Where a run's measured requests go as they finish: the records, progress, precision and early stop. In a
	multi-process run the parent's tally is fed by every client process (processes.py)."""

	def __init__(
		self,
		stop_check: Callable[[RequestRecord], str | None] | None = None,
		precision: PrecisionTracker | None = None,
		sink: Callable[[RequestRecord], None] | None = None,
	) -> None:
		self.records: list[RequestRecord] = []
		self.stop_check = stop_check
		self.stopped_early: str | None = None
		self.halt = asyncio.Event()
		self.precision = precision
		self.enough = False  # the objective is known to benchmark.precision: send no more (those in flight finish)
		self.sink = sink  # a client process: each finished request also goes to its parent

	def finished(self, rec: RequestRecord, progress: Callable[[int, int], None] | None, total: int) -> None:
		"""Keep one measured request, report progress, and halt the run when `stop_check` says it is lost."""
		self.records.append(rec)
		if self.sink is not None:
			self.sink(rec)
		if progress is not None:
			try:
				progress(len(self.records), total)
			except Exception:  # a broken progress display must not stop the measurement
				pass
		if self.precision is not None and self.precision.add(rec):
			self.enough = True
		if self.stop_check is not None and self.stopped_early is None:
			why = self.stop_check(rec)
			if why:
				self.stopped_early = why
				self.halt.set()


class _Run(_Tally):
	"""State of one run_load call (or of one client process of a multi-process run)."""

	def __init__(
		self,
		client: httpx.AsyncClient,
		base_url: str,
		endpoint: Endpoint,
		body: dict[str, Any],
		request_timeout: float,
		model_tokenizer: str | None,
		stop_check: Callable[[RequestRecord], str | None] | None = None,
		precision: PrecisionTracker | None = None,
		sink: Callable[[RequestRecord], None] | None = None,
	) -> None:
		super().__init__(stop_check, precision, sink)
		self.client = client  # httpx, for /tokenize (prompt building, token counting)
		self.base_url = base_url
		self.endpoint = endpoint
		self.url = URL(base_url + _PATHS[endpoint], encoded=True)
		self.body = body
		self.request_timeout = request_timeout
		self.model_tokenizer = model_tokenizer
		self.builder: PromptBuilder | None = None
		self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(30.0, request_timeout))
		self._trace = aiohttp.TraceConfig()
		self._trace.on_request_chunk_sent.append(_stamp_sent)
		self._ssl: ssl.SSLContext | None = None
		self.warm_rounds = 0
		self.warm_steady = False
		self.scenario: Scenario | None = None  # warm-up rounds after the first draw their sizes from it
		self.warm_rng = random.Random(0)

	def worker_client(self) -> aiohttp.ClientSession:
		"""A session with a one-connection pool for one worker (O(1) per request, whatever the concurrency); no
		proxies or other settings from the environment (trust_env off), no cookies kept."""
		if self._ssl is None and self.url.scheme == "https":
			self._ssl = ssl.create_default_context()
		connector = aiohttp.TCPConnector(limit=1, limit_per_host=1, ssl=self._ssl or True)
		return aiohttp.ClientSession(
			connector=connector,
			timeout=self.timeout,
			trust_env=False,
			cookie_jar=aiohttp.DummyCookieJar(),
			trace_configs=[self._trace],
		)

	async def get_builder(self) -> PromptBuilder:
		if self.builder is None:
			self.builder = await PromptBuilder.create(self.client, self.base_url, model_tokenizer=self.model_tokenizer)
		return self.builder

	async def prompt(self, item: _Planned) -> str:
		if item.prompt is None:
			builder = await self.get_builder()
			item.prompt = await builder.build(
				item.input_tokens, variant=item.variant, with_special=self.endpoint == "completions"
			)
		return item.prompt

	async def prebuild(self, items: list[_Planned]) -> None:
		"""Build every prompt before the clock starts. Transport errors are left for the requests to report."""
		try:
			await self.get_builder()
		except httpx.HTTPError:
			return
		queue = iter(items)

		async def work() -> None:
			for item in queue:
				try:
					await self.prompt(item)
				except httpx.HTTPError:
					return

		await asyncio.gather(*(work() for _ in range(min(_BUILD_CONCURRENCY, len(items)))))

	async def warm_up(self, first: list[_Planned], clients: list[aiohttp.ClientSession], max_duration: float) -> None:
		"""Warm-up rounds of len(first) requests (not measured), up to len(clients) at once, until one round's mean
		E2E latency is within the steady-state tolerance of the round before (bench/precision.py)."""
		if not first:
			return
		deadline = time.perf_counter() + WARM_TIME_SHARE * max_duration
		previous: list[RequestRecord] | None = None
		round_items = first
		while True:
			done = await self._warm_round(round_items, clients)
			self.warm_rounds += 1
			if previous is not None and steady(previous, done):
				self.warm_steady = True
				return
			if self.warm_rounds >= MAX_WARM_ROUNDS or time.perf_counter() >= deadline or self.halt.is_set():
				return
			previous = done
			assert self.scenario is not None
			rng = self.warm_rng
			round_items = [_Planned(*self.scenario.sample(rng), variant=PromptBuilder.new_variant()) for _ in first]

	async def _warm_round(self, items: list[_Planned], clients: list[aiohttp.ClientSession]) -> list[RequestRecord]:
		pending = iter(items)
		done: list[RequestRecord] = []

		async def warm_worker(client: aiohttp.ClientSession) -> None:
			for item in pending:
				done.append(await self.one(client, item))

		await asyncio.gather(*(warm_worker(c) for c in clients[: len(items)]))
		return done

	def payload(self, item: _Planned, prompt: str) -> bytes:
		body = dict(self.body)
		body["max_tokens"] = item.output_tokens
		body.setdefault("ignore_eos", True)
		body["stream"] = True
		body["stream_options"] = {"include_usage": True}
		if self.endpoint == "chat":
			body["messages"] = [{"role": "user", "content": prompt}]
		else:
			body["prompt"] = prompt
		return json.dumps(body, ensure_ascii=False).encode()

	async def one(self, client: aiohttp.ClientSession, item: _Planned, scheduled: float | None = None) -> RequestRecord:
		"""Send one request; `scheduled` is when it was due: an open-loop schedule's time, a closed-loop worker's
		previous request's end (default: now)."""
		scheduled = time.perf_counter() if scheduled is None else scheduled
		try:
			prompt = await self.prompt(item)
		except (httpx.HTTPError, BenchmarkError) as exc:
			now = time.perf_counter()
			return RequestRecord(
				scheduled=scheduled, sent=now, end=now, error=f"building the prompt: {_error_text(exc)}"
			)
		content = self.payload(item, prompt)
		rec = RequestRecord(scheduled=scheduled, sent=time.perf_counter())
		texts: list[str] = []
		try:
			async with asyncio.timeout(self.request_timeout):
				started: list[bool] = []
				try:
					await self._stream(client, rec, content, texts, started)
				except _STALE as exc:
					if started or isinstance(exc, _NO_RETRY):
						raise
					# a kept-alive connection the server closed just as it was reused: no response began
					await self._stream(client, rec, content, texts, started)
		except aiohttp.ClientError as exc:  # before TimeoutError: aiohttp's connect timeout is both
			rec.error = _error_text(exc)
		except TimeoutError:
			rec.error = f"incomplete: no complete response within {self.request_timeout:g} s"
		except OSError as exc:
			rec.error = _error_text(exc)
		except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
			rec.error = f"bad response: {_error_text(exc)}"
		if rec.error is None and rec.end is not None:
			await self._fill_counts(rec, item, texts)
		return rec

	async def _stream(
		self,
		client: aiohttp.ClientSession,
		rec: RequestRecord,
		content: bytes,
		texts: list[str],
		started: list[bool],
	) -> None:
		"""Send one request and read its SSE stream into `rec`; generated text pieces go to `texts`;
		`started` gets an entry once the response began.

		Kept lean for high request rates: each wake-up reads every byte that arrived (one network read, as a rule),
		raw bytes are split on newlines and only `data:` lines are parsed. Events of one read share its arrival time.
		"""
		chunk_times = rec.chunk_times
		loads = json.loads
		perf = time.perf_counter
		handle = self._chat_event if self.endpoint == "chat" else self._completion_event
		rest = b""
		done = False
		rec.sent = perf()  # stamped again when the body's last byte is written (_stamp_sent)
		async with client.post(self.url, data=content, headers=_HEADERS, trace_request_ctx=rec) as resp:
			started.append(True)
			if resp.status != 200:
				body = (await resp.read()).decode("utf-8", "replace")
				rec.end = perf()
				rec.error = f"HTTP {resp.status}: {body[:200]}"
				return
			read = resp.content.readany
			# read to the end even after [DONE], so that the connection goes back to the pool
			while data := await read():
				if done:
					continue
				now = perf()
				lines = (rest + data).split(b"\n") if rest else data.split(b"\n")
				rest = lines.pop()
				for line in lines:
					if not line.startswith(b"data:"):
						continue
					payload = line[5:].strip()
					if payload == b"[DONE]":
						done = True
						break
					handle(loads(payload), rec, now, texts)
			if not done and rest.startswith(b"data:") and rest[5:].strip() not in (b"", b"[DONE]"):
				handle(loads(rest[5:]), rec, perf(), texts)
		rec.end = perf()
		if chunk_times:
			rec.first_token = chunk_times[0]
		elif rec.error is None:
			rec.error = "no content received"

	@staticmethod
	def _completion_event(obj: dict[str, Any], rec: RequestRecord, now: float, texts: list[str]) -> None:
		choices = obj.get("choices")
		if choices:
			text = choices[0].get("text")
			if text:
				rec.chunk_times.append(now)
				texts.append(text)
		if obj.get("usage") or "error" in obj:
			_usage_or_error(obj, rec)

	@staticmethod
	def _chat_event(obj: dict[str, Any], rec: RequestRecord, now: float, texts: list[str]) -> None:
		choices = obj.get("choices")
		if choices:
			delta = choices[0].get("delta")
			if delta:
				text = delta.get("content") or delta.get("reasoning_content")
				if text:
					rec.chunk_times.append(now)
					texts.append(text)
		if obj.get("usage") or "error" in obj:
			_usage_or_error(obj, rec)

	async def _fill_counts(self, rec: RequestRecord, item: _Planned, texts: list[str]) -> None:
		"""When the server sent no usage, count with its tokenizer (never estimate)."""
		if rec.output_tokens > 0 and rec.input_tokens > 0:
			return
		try:
			builder = await self.get_builder()
			if rec.output_tokens <= 0:
				rec.output_tokens = await builder.count_tokens("".join(texts))
			if rec.input_tokens <= 0:
				# the prompt was built to this exact count (the content only, for chat)
				rec.input_tokens = item.input_tokens
		except (httpx.HTTPError, BenchmarkError) as exc:
			rec.error = f"no usage in the response and counting tokens failed: {_error_text(exc)}"


_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
"""What a reused keep-alive connection the server had closed gives (as aiohttp's own retry of idempotent requests)."""
_NO_RETRY = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""... but not a new connection that could not be made: the request never reached a server."""


@dataclass
class _Outcome:
	"""What a run's requests gave, before any figure is computed."""

	records: list[RequestRecord]
	stalls: list[float] = field(default_factory=list)
	warm_rounds: int = 0
	warm_steady: bool = False
	stopped_early: str | None = None
	enough: bool = False


def _client_http(request_timeout: float) -> httpx.AsyncClient:
	"""The httpx client that builds prompts (/tokenize). No idle connections are kept: servers with a fixed pool of
	HTTP threads (llama.cpp) would otherwise spend threads on them that the measured requests need."""
	limits = httpx.Limits(max_connections=_BUILD_CONCURRENCY, max_keepalive_connections=0)
	timeout = httpx.Timeout(connect=min(30.0, request_timeout), read=request_timeout, write=request_timeout, pool=None)
	return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)


async def _measure(run: _Run, drive: Coroutine[Any, Any, None], cancel: asyncio.Event | None) -> list[float]:
	"""Run `drive` until it ends, `cancel` is set or the run halts (early stop); the event loop's stalls meanwhile.

	On cancel or halt the requests in flight are dropped; BenchmarkError from the drive propagates."""
	task = asyncio.create_task(drive)
	waiter = asyncio.create_task(cancel.wait()) if cancel is not None else None
	halted = asyncio.create_task(run.halt.wait())
	monitor = LoopMonitor()  # the client's own lag: how late its event loop wakes up (bench/audit.py)
	monitor.start()
	try:
		waits = {task, halted} if waiter is None else {task, waiter, halted}
		await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
	finally:
		for t in (task, waiter, halted):
			if t is not None and not t.done():
				t.cancel()
		await asyncio.gather(*(t for t in (waiter, halted) if t is not None), return_exceptions=True)
		await monitor.stop()
	try:
		await task
	except asyncio.CancelledError:
		if (cancel is None or not cancel.is_set()) and not run.halt.is_set():
			raise
	return monitor.stalls


def _shares(total: int, parts: int) -> list[int]:
	"""`total` split into `parts` near-equal whole shares (the first ones one larger), e.g. 33 over 2: [17, 16]."""
	return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def run_load(
	base_url: str,
	*,
	scenario: Scenario,
	concurrency: int,
	max_requests: int,
	max_duration: float,
	warmup_requests: int = 0,
	endpoint: Endpoint = "completions",
	model: str | None = None,
	extra_body: dict[str, Any] | None = None,
	goodput_slo: GoodputSLO | None = None,
	seed: int = 0,
	request_timeout: float = 300.0,
	cancel: asyncio.Event | None = None,
	progress: Callable[[int, int], None] | None = None,
	model_tokenizer: str | None = None,
	records: list[RequestRecord] | None = None,
	request_rate: float | None = None,
	stop_check: Callable[[RequestRecord], str | None] | None = None,
	objectives: Sequence[str] = (),
	precision: float | None = None,
	processes: int = 1,
) -> RunMetrics:
	"""Drive one run and measure it. max_duration and request_timeout are in seconds.

	Never raises for what the server does (errors become records); raises BenchmarkError when prompts of an exact
	length cannot be built (no /tokenize and no local tokenizer). When `cancel` is set the run stops at once and the
	requests finished so far are measured (those in flight are dropped).

	model_tokenizer: a local tokenizer folder, used only when the server has no /tokenize endpoint.
	records: when given, every measured request's RequestRecord is appended to it (warm-up ones are not).
	request_rate: open loop instead (bench/arrivals.py): Poisson arrivals at this many requests/s, seeded by `seed`;
	`concurrency` is then ignored (the run is reported with concurrency None).
	stop_check: called with each measured request as it finishes; a text return stops the run at once (requests in
	flight are dropped) and becomes RunMetrics.stopped_early (bench/early_stop.py).
	objectives, precision: the run sends no more requests once every objective's relative 95 % half-width is at
	most `precision` (bench/precision.py); RunMetrics.half_width is recorded whenever `objectives` are given.
	Warm-up: rounds of `warmup_requests` until steady state (bench/precision.py).
	processes: client processes that share the load (benchmark.client_processes, processes.py); at most the
	concurrency (closed loop) and the request count.
	"""
	if request_rate is not None and request_rate <= 0:
		raise ValueError("request_rate must be > 0 (requests/s)")
	if concurrency < 1:
		raise ValueError("concurrency must be >= 1")
	if processes < 1:
		raise ValueError("processes must be >= 1")
	if endpoint not in _PATHS:
		raise ValueError(f"unknown endpoint {endpoint!r}; valid: completions, chat")
	base_url = normalize_base_url(base_url)
	rng = random.Random(seed)
	warm = [_Planned(*scenario.sample(rng), variant=PromptBuilder.new_variant()) for _ in range(warmup_requests)]
	plan: list[_Planned] = []
	for i in range(max_requests):
		if i < MAX_UNIQUE_PROMPTS:
			plan.append(_Planned(*scenario.sample(rng), variant=PromptBuilder.new_variant()))
		else:
			again = plan[i % MAX_UNIQUE_PROMPTS]
			plan.append(_Planned(again.input_tokens, again.output_tokens, again.variant))
	body: dict[str, Any] = {"model": model} if model else {}
	body.update(extra_body or {})
	for key in ("prompt", "messages", "stream", "stream_options"):
		body.pop(key, None)

	conc = None if request_rate is not None else concurrency
	tracker = PrecisionTracker(tuple(objectives), precision, batch_size(conc), goodput_slo) if objectives else None
	n = min(processes, max_requests, concurrency if request_rate is None else max_requests)
	if n > 1:
		from .processes import Job, run_in_processes

		job = Job(base_url, endpoint, body, request_timeout, model_tokenizer, scenario, seed, max_duration)
		tally = _Tally(stop_check, tracker)
		out = await run_in_processes(tally, job, warm, plan, n, concurrency, request_rate, cancel, progress)
	else:
		async with _client_http(request_timeout) as client:
			run = _Run(client, base_url, endpoint, body, request_timeout, model_tokenizer, stop_check, tracker)
			run.scenario = scenario
			run.warm_rng = random.Random(f"warm-up-{seed}")
			if request_rate is not None:
				drive = drive_open_loop(run, warm, plan, request_rate, max_duration, seed, progress)
			else:
				drive = _drive(run, warm, plan, concurrency, max_duration, progress)
			stalls = await _measure(run, drive, cancel)
		out = _Outcome(run.records, stalls, run.warm_rounds, run.warm_steady, run.stopped_early, run.enough)
	if records is not None:
		records.extend(out.records)
	metrics = compute_run_metrics(
		out.records,
		scenario=str(scenario),
		concurrency=conc,
		request_rate=request_rate,
		goodput_slo=goodput_slo,
	)
	metrics.stopped_early = out.stopped_early
	if tracker is not None:
		metrics.half_width = tracker.half_width()
		metrics.precise_at = tracker.reached_at if out.enough else None
	metrics.warmup_rounds = out.warm_rounds
	metrics.warmup_steady = out.warm_steady if out.warm_rounds else None
	metrics.audit = client_audit(out.records, concurrency=conc, request_rate=request_rate, stalls=out.stalls)
	if n > 1:
		metrics.audit.client_processes = n
	return metrics


async def _drive(
	run: _Run,
	warm: list[_Planned],
	plan: list[_Planned],
	concurrency: int,
	max_duration: float,
	progress: Callable[[int, int], None] | None,
	gate: Callable[[], Awaitable[float]] | None = None,
) -> None:
	"""The closed loop. `gate` (a client process of a multi-process run): awaited once warm, gives the start time
	every process shares (time.perf_counter seconds)."""
	await run.prebuild(_distinct(warm + plan))
	clients = [run.worker_client() for _ in range(concurrency)]
	try:
		await run.warm_up(warm, clients, max_duration)
		total = len(plan)
		state = {"next": 0}
		start = time.perf_counter() if gate is None else await gate()
		deadline = start + max_duration

		async def worker(client: aiohttp.ClientSession) -> None:
			due = start  # closed loop: a request is due when its worker's previous one ended (the audit's lag)
			while True:
				i = state["next"]
				if i >= total or run.enough or time.perf_counter() >= deadline:
					return
				state["next"] = i + 1
				rec = await run.one(client, plan[i], scheduled=due)
				run.finished(rec, progress, total)
				due = rec.end if rec.end is not None else time.perf_counter()
				if run.halt.is_set():
					return

		await asyncio.gather(*(worker(c) for c in clients[:total]))
	finally:
		await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def _distinct(items: list[_Planned]) -> list[_Planned]:
	"""The items whose prompts differ (same length and variant: same prompt; a plan repeats after
	MAX_UNIQUE_PROMPTS)."""
	seen: set[tuple[int, int]] = set()
	out: list[_Planned] = []
	for item in items:
		key = (item.input_tokens, item.variant)
		if key not in seen:
			seen.add(key)
			out.append(item)
	return out
