"""The built-in client's aiohttp streaming path and its multi-process mode (benchmark.client_processes), against a
small real HTTP/1.1 server in the test's event loop (what the real engines seldom do on demand: close a kept-alive
connection, answer 500, stall) and through real client processes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from inference_autotuner.bench import eventloop
from inference_autotuner.bench.arrivals import poisson_offsets
from inference_autotuner.bench.audit import achieved_concurrency
from inference_autotuner.bench.client import run_load
from inference_autotuner.bench.drivers import RunRequest, get_driver
from inference_autotuner.bench.metrics import RequestRecord, RunMetrics
from inference_autotuner.bench.traffic import parse_scenario
from inference_autotuner.errors import BenchmarkError
from inference_autotuner.spec.models import BenchmarkSpec


@dataclass
class Server:
	"""A streaming OpenAI-style server: tokens are words; completions stream max_tokens one-word chunks.

	mode: "ok"; "close-reused" (a connection's second request is read, then the connection is closed unanswered);
	"500"; "stall" (headers and one chunk, then nothing); "cut" (one chunk, then the connection is closed)."""

	mode: str = "ok"
	delay: float = 0.0  # before the first chunk
	gap: float = 0.0  # between chunks
	tokenize: bool = True
	arrivals: list[float] = field(default_factory=list)  # perf_counter when each request's body was read
	firsts: list[float] = field(default_factory=list)  # perf_counter when each first chunk was written
	prompts: list[str] = field(default_factory=list)
	connections: int = 0  # connections that carried a completion request
	url: str = ""

	async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
		served = 0
		try:
			while True:
				head = (await reader.readuntil(b"\r\n\r\n")).decode()
				path = head.split(" ")[1]
				length = next(
					(int(h.split(":")[1]) for h in head.split("\r\n") if h.lower().startswith("content-length")), 0
				)
				body = json.loads(await reader.readexactly(length)) if length else {}
				if path == "/tokenize" and self.tokenize:
					words = body["content"].split()
					tokens: list[Any] = [{"id": i, "piece": " " + w} for i, w in enumerate(words)]
					if not body.get("with_pieces"):
						tokens = list(range(len(words)))
					self._reply(writer, 200, json.dumps({"tokens": tokens}).encode())
				elif path == "/v1/completions":
					if self.mode == "close-reused" and served >= 1:
						return  # read, never answered: the client must send it again on a new connection
					served += 1
					if served == 1:
						self.connections += 1
					self.arrivals.append(time.perf_counter())
					self.prompts.append(body["prompt"])
					await self._stream(writer, body)
					if self.mode in ("cut", "stall"):
						return
				else:
					self._reply(writer, 404, b'{"error": "not found"}')
				await writer.drain()
		except (asyncio.IncompleteReadError, ConnectionError):
			pass
		finally:
			writer.close()

	@staticmethod
	def _reply(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
		head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
		writer.write(head.encode() + body)

	async def _stream(self, writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
		if self.mode == "500":
			self._reply(writer, 500, b'{"error": "the engine fell over"}')
			return
		writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
		await writer.drain()
		if self.delay:
			await asyncio.sleep(self.delay)
		n = int(body["max_tokens"])
		for i in range(n):
			event: dict[str, Any] = {"choices": [{"text": " tok", "index": 0}]}
			if i == n - 1:
				event["usage"] = {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": n}
			data = f"data: {json.dumps(event)}\n\n".encode()
			writer.write(b"%x\r\n%s\r\n" % (len(data), data))
			if i == 0:
				self.firsts.append(time.perf_counter())
				if self.mode in ("stall", "cut"):
					await writer.drain()
					if self.mode == "stall":
						await asyncio.sleep(3600)
					return
			if self.gap:
				await writer.drain()
				await asyncio.sleep(self.gap)
		done = b"data: [DONE]\n\n"
		writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))


async def _with_server(server: Server, go: Callable[[str], Awaitable[Any]]) -> Any:
	srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
	server.url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
	async with srv:
		return await go(server.url)


def _load(server: Server, records: list[RequestRecord] | None = None, **kw: Any) -> RunMetrics:
	args: dict[str, Any] = dict(scenario=parse_scenario("D(20,8)"), concurrency=2, max_requests=6, max_duration_s=60)
	args.update(kw)

	async def go(url: str) -> RunMetrics:
		return await run_load(RunRequest(url, **args), records=records)

	return asyncio.run(_with_server(server, go))


# --- the aiohttp streaming path -------------------------------------------------------------------------------
def test_record_semantics_on_one_clock() -> None:
	"""sent is when the body was written (before the server read it), first_token the first chunk's arrival, one
	chunk time per content event, usage from the stream."""
	server = Server(delay=0.05, gap=0.002)
	records: list[RequestRecord] = []
	m = _load(server, records, concurrency=1, max_requests=4)
	assert (m.completed, m.errored) == (4, 0)
	for rec, arrived, first in zip(records, server.arrivals, server.firsts, strict=True):
		assert rec.ok and rec.first_token is not None and rec.end is not None
		assert rec.scheduled <= rec.sent <= arrived  # stamped when written, not when the request began to be built
		assert arrived - rec.sent < 0.05  # ... and not long before it went out
		assert first <= rec.first_token <= rec.end
		assert rec.ttft is not None and rec.ttft >= 0.05
		assert len(rec.chunk_times) == 8 and rec.chunk_times == sorted(rec.chunk_times)
		assert (rec.input_tokens, rec.output_tokens) == (20, 8)
	assert server.connections == 1  # one kept-alive connection


def test_the_time_cap_holds_for_the_whole_run() -> None:
	"""Closed loop, requests of about 1 s, a 2.5 s cap: each worker sends a second request (it ends near 2 s) but no
	third, which its previous request's E2E says would end near 3 s, past the cap (before: sent at 2 s, the run
	lasted 3 s)."""
	server = Server(delay=1.0)
	records: list[RequestRecord] = []
	m = _load(server, records, concurrency=2, max_requests=100, max_duration_s=2.5)
	assert m.completed == 4 and m.errored == 0, m
	first = min(r.sent for r in records)
	assert max(r.end for r in records if r.end is not None) - first < 2.5


def test_kept_alive_connection_closed_by_the_server_is_retried() -> None:
	server = Server(mode="close-reused")
	records: list[RequestRecord] = []
	m = _load(server, records, concurrency=2, max_requests=8)
	assert (m.completed, m.errored, m.errors) == (8, 0, [])
	assert len(server.arrivals) == 8  # every request answered once, on a fresh connection after the closed one
	assert server.connections >= 8


def test_http_500_becomes_an_error_record() -> None:
	m = _load(Server(mode="500"), max_requests=3)
	assert (m.completed, m.errored) == (0, 3)
	assert m.errors == ['HTTP 500: {"error": "the engine fell over"}']


def test_request_timeout_is_an_incomplete_error() -> None:
	t0 = time.perf_counter()
	m = _load(Server(mode="stall"), max_requests=2, request_timeout=0.5)
	assert time.perf_counter() - t0 < 30
	assert (m.completed, m.errored) == (0, 2)
	assert m.errors == ["incomplete: no complete response within 0.5 s"]


def test_connection_cut_after_the_response_began_is_not_retried() -> None:
	server = Server(mode="cut")
	m = _load(server, max_requests=2)
	assert (m.completed, m.errored) == (0, 2)
	assert len(server.arrivals) == 2  # not sent again: the response had begun
	assert "Error" in m.errors[0] and "incomplete" not in m.errors[0]


def test_measurements_run_on_uvloop_when_installed() -> None:
	async def kind() -> str:
		return type(asyncio.get_running_loop()).__module__

	try:
		import uvloop  # noqa: F401
	except ImportError:
		assert eventloop.run(kind()).startswith("asyncio")
	else:
		assert eventloop.run(kind()).startswith("uvloop")


# --- several client processes ---------------------------------------------------------------------------------
def test_clock_is_shared_by_processes() -> None:
	if sys.platform.startswith("linux"):
		assert time.get_clock_info("perf_counter").implementation == "clock_gettime(CLOCK_MONOTONIC)"


def test_processes_split_the_concurrency_and_merge_the_records() -> None:
	server = Server(delay=0.01, gap=0.001)
	records: list[RequestRecord] = []
	calls: list[tuple[int, int]] = []
	m = _load(
		server,
		records,
		concurrency=4,
		max_requests=24,
		warmup=2,
		client_processes=2,
		progress=lambda done, total: calls.append((done, total)),
		objectives=("minimize_latency",),
		precision=None,
	)
	assert (m.total_requests, m.completed, m.errored) == (24, 24, 0)
	assert m.concurrency == 4 and m.audit is not None and m.audit.client_processes == 2
	assert calls == [(i, 24) for i in range(1, 25)]
	assert m.warmup_rounds is not None and 1 <= m.warmup_rounds <= 3
	# every prompt distinct (warm-up ones too): the processes never share prompt variants
	assert len(server.prompts) == len(set(server.prompts)) >= 24 + 2
	# one clock: the merged requests overlap as 4 in flight would
	conc = achieved_concurrency(records)
	assert conc is not None and conc > 2.5
	assert all(r.scheduled <= r.sent <= (r.first_token or 0) <= (r.end or 0) for r in records)
	assert m.half_width is not None or m.total_requests < 24


def test_processes_share_one_poisson_schedule() -> None:
	records: list[RequestRecord] = []
	m = _load(Server(), records, request_rate=40.0, max_requests=20, client_processes=2, seed=7)
	assert (m.completed, m.request_rate, m.concurrency) == (20, 40.0, None)
	scheduled = sorted(r.scheduled for r in records)
	got = [s - scheduled[0] for s in scheduled]
	assert got == pytest.approx(poisson_offsets(40.0, 20, 7), abs=1e-9)
	assert m.audit is not None and m.audit.lag_p99 is not None and m.audit.lag_p99 < 0.5


def test_processes_early_stop_and_precision() -> None:
	def stop(rec: RequestRecord) -> str | None:
		stop.seen += 1  # type: ignore[attr-defined]
		return "clearly lost" if stop.seen >= 5 else None  # type: ignore[attr-defined]

	stop.seen = 0  # type: ignore[attr-defined]
	m = _load(Server(gap=0.01), concurrency=4, max_requests=400, client_processes=2, stop_check=stop)
	assert m.stopped_early == "clearly lost"
	assert 5 <= m.total_requests < 20  # what finished after the stop is not counted; no more were sent

	precise = _load(
		Server(gap=0.001),
		concurrency=2,
		max_requests=400,
		client_processes=2,
		objectives=("minimize_latency",),
		precision=1.0,
	)
	assert precise.precise_at is not None and precise.total_requests < 400
	assert precise.half_width is not None


def test_processes_stop_on_cancel() -> None:
	async def go(url: str) -> tuple[float, RunMetrics]:
		cancel = asyncio.Event()
		asyncio.get_running_loop().call_later(2.5, cancel.set)
		t0 = time.perf_counter()
		m = await run_load(
			RunRequest(
				url,
				scenario=parse_scenario("D(20,50)"),
				concurrency=2,
				max_requests=10000,
				max_duration_s=600,
				client_processes=2,
			),
			cancel=cancel,
		)
		return time.perf_counter() - t0, m

	took, m = asyncio.run(_with_server(Server(gap=0.01), go))
	assert took < 20
	assert m.errored == 0 and m.total_requests < 10000


def test_a_process_that_cannot_build_prompts_is_a_clear_error() -> None:
	with pytest.raises(BenchmarkError, match="no /tokenize endpoint"):
		_load(Server(tokenize=False), client_processes=2)


def test_client_processes_pass_through_the_builtin_driver() -> None:
	async def go(url: str) -> RunMetrics:
		req = RunRequest(
			url, scenario=parse_scenario("D(16,4)"), concurrency=3, max_requests=9, max_duration_s=60,
			client_processes=3,
		)  # fmt: skip
		return await get_driver("builtin").run(req)

	m = asyncio.run(_with_server(Server(), go))
	assert m.completed == 9 and m.audit is not None and m.audit.client_processes == 3
	assert BenchmarkSpec().client_processes == 1
	with pytest.raises(ValueError, match="builtin driver only"):
		BenchmarkSpec(client_processes=2, driver="aiperf")
