"""What one run of the built-in client is made of: the planned requests, the tally of finished ones, and LoadRun,
which sends one streaming request and reads it back (bench/client.py drives a closed loop with it, arrivals.py an open
loop, processes.py a share of either in a client process).

Times are time.perf_counter() seconds: `sent` when the request's last byte was written, `first_token` at the first
chunk with non-empty text, one `chunk_times` entry per such chunk, `end` after the last byte. Token counts come from
the server's `usage` (prompt_tokens includes a chat template's tokens); where a server sends no usage they are counted
with its tokenizer. Failures never raise: they become the request's `error` text.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import httpx
from yarl import URL

from ..errors import BenchmarkError
from .compose import build_prompt, chat_messages, completion_text
from .metrics import RequestRecord
from .precision import MAX_WARM_ROUNDS, WARM_TIME_SHARE, PrecisionTracker, steady
from .prompts import PromptBuilder
from .tally import Tally
from .traffic import Scenario

Endpoint = Literal["completions", "chat"]
PATHS: dict[str, str] = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
BUILD_CONCURRENCY = 8
"""Prompts built (or counted) at once before a run."""
_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}


@dataclass(slots=True)
class Planned:
	"""One request to send: synthetic (`input_tokens` of prompt variant `variant`), or a workload's (compose.py)."""

	input_tokens: int
	output_tokens: int
	variant: int
	prompt: str | None = None
	text: str | None = None  # a workload's user text (from a file)
	system: str | None = None  # its system prompt
	reply: str | None = None  # the file's reply: output_tokens are its tokens (capped), counted before the run
	prefix_tokens: int = 0  # shared_prefix: a group's prefix of this many tokens ...
	prefix_variant: int = 0  # ... built from this variant (the same for the whole group)
	block_variants: tuple[int, ...] = ()  # trace (Mooncake): one variant per shared block
	history: list[dict[str, str]] = field(default_factory=list)  # sessions: earlier turns and the replies given
	answer: str = ""  # sessions: the reply the server gave (set when the request finished)
	at: float | None = None  # trace: seconds after the start it is due


def _usage_or_error(obj: dict[str, Any], rec: RequestRecord) -> None:
	usage = obj.get("usage")
	if usage:
		rec.input_tokens = int(usage.get("prompt_tokens") or 0)
		rec.output_tokens = int(usage.get("completion_tokens") or 0)
		details = usage.get("prompt_tokens_details")
		if isinstance(details, dict) and details.get("cached_tokens") is not None:
			rec.cached_tokens = int(details["cached_tokens"])
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


class LoadRun(Tally):
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
		self.url = URL(base_url + PATHS[endpoint], encoded=True)
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
		self.block_tokens = 512  # a trace's Mooncake block size (bench/workload.py)
		self.max_output_tokens = 512  # a dataset's cap on counted reply lengths

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

	async def prompt(self, item: Planned) -> str:
		"""The item's user text (built, or from the file); a file reply's tokens become its output length."""
		if item.prompt is None:
			builder = await self.get_builder()
			completions = self.endpoint == "completions"
			item.prompt = await build_prompt(builder, item, completions=completions, block_tokens=self.block_tokens)
		if item.output_tokens <= 0 and item.reply is not None:
			builder = await self.get_builder()
			counted = await builder.count_tokens(item.reply)
			item.output_tokens = max(1, min(counted, self.max_output_tokens))
		return item.prompt

	async def prebuild(self, items: list[Planned]) -> None:
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

		await asyncio.gather(*(work() for _ in range(min(BUILD_CONCURRENCY, len(items)))))

	async def warm_up(self, first: list[Planned], clients: list[aiohttp.ClientSession], max_duration: float) -> None:
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
			round_items = [Planned(*self.scenario.sample(rng), variant=PromptBuilder.new_variant()) for _ in first]

	async def _warm_round(self, items: list[Planned], clients: list[aiohttp.ClientSession]) -> list[RequestRecord]:
		pending = iter(items)
		done: list[RequestRecord] = []

		async def warm_worker(client: aiohttp.ClientSession) -> None:
			for item in pending:
				done.append(await self.one(client, item))

		await asyncio.gather(*(warm_worker(c) for c in clients[: len(items)]))
		return done

	def payload(self, item: Planned, prompt: str) -> bytes:
		body = dict(self.body)
		body["max_tokens"] = item.output_tokens
		body.setdefault("ignore_eos", True)
		body["stream"] = True
		body["stream_options"] = {"include_usage": True}
		if self.endpoint == "chat":
			body["messages"] = chat_messages(item, prompt)
		else:
			body["prompt"] = completion_text(item, prompt)
		return json.dumps(body, ensure_ascii=False).encode()

	async def one(self, client: aiohttp.ClientSession, item: Planned, scheduled: float | None = None) -> RequestRecord:
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
			item.answer = "".join(texts)
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

	def payload_text(self, item: Planned) -> str:
		"""The whole text a request sends (for counting its tokens when the server gives no usage)."""
		prompt = item.prompt or ""
		if self.endpoint == "chat":
			return "\n".join(m["content"] for m in chat_messages(item, prompt))
		return completion_text(item, prompt)

	async def _fill_counts(self, rec: RequestRecord, item: Planned, texts: list[str]) -> None:
		"""When the server sent no usage, count with its tokenizer (never estimate)."""
		if rec.output_tokens > 0 and rec.input_tokens > 0:
			return
		try:
			builder = await self.get_builder()
			if rec.output_tokens <= 0:
				rec.output_tokens = await builder.count_tokens("".join(texts))
			if rec.input_tokens <= 0 and (item.text is not None or item.prefix_tokens or item.block_variants):
				rec.input_tokens = await builder.count_tokens(self.payload_text(item))
			elif rec.input_tokens <= 0:
				# the prompt was built to this exact count (the content only, for chat)
				rec.input_tokens = item.input_tokens
		except (httpx.HTTPError, BenchmarkError) as exc:
			rec.error = f"no usage in the response and counting tokens failed: {_error_text(exc)}"


_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
"""What a reused keep-alive connection the server had closed gives (as aiohttp's own retry of idempotent requests)."""
_NO_RETRY = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""... but not a new connection that could not be made: the request never reached a server."""


def client_http(request_timeout: float) -> httpx.AsyncClient:
	"""The httpx client that builds prompts (/tokenize). No idle connections are kept: servers with a fixed pool of
	HTTP threads (llama.cpp) would otherwise spend threads on them that the measured requests need."""
	limits = httpx.Limits(max_connections=BUILD_CONCURRENCY, max_keepalive_connections=0)
	timeout = httpx.Timeout(connect=min(30.0, request_timeout), read=request_timeout, write=request_timeout, pool=None)
	return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)
