"""The built-in load generator against the real llama.cpp engine (and a tiny in-process server for edge cases)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference_autotuner.bench.client import fetch_model_name, run_load
from inference_autotuner.bench.metrics import GoodputSLO, RequestRecord
from inference_autotuner.bench.prompts import PromptBuilder
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.traffic import parse_scenario
from inference_autotuner.errors import BenchmarkError


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return int(s.getsockname()[1])


def _skip_or_fail(reason: str) -> None:
	if os.environ.get("CI"):
		pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
	pytest.skip(reason)


@pytest.fixture(scope="module")
def engine_url(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[str]:
	"""A real llama.cpp server (xllamacpp) with 4 slots of 512 tokens, in its own process group.

	The model is the demo model where `autotuner models pull smollm2` puts it (or AUTOTUNER_TEST_MODEL)."""
	model = str(model_path)
	try:
		import xllamacpp  # noqa: F401
	except ImportError:
		_skip_or_fail("xllamacpp is not installed")
	port = _free_port()
	log_path = tmp_path_factory.mktemp("engine") / "engine.log"
	argv = [sys.executable, "-m", "inference_autotuner.engines.llamacpp_server", "--model", model, "--port", str(port)]
	argv += ["--parallel", "4", "--threads", "2", "--ctx-size", "2048"]
	with open(log_path, "wb") as log:
		proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
	url = f"http://127.0.0.1:{port}"
	try:
		deadline = time.monotonic() + 120
		while True:
			if proc.poll() is not None:
				pytest.fail(f"the engine exited with code {proc.returncode}: {log_path.read_text()[-2000:]}")
			try:
				if httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200:
					break
			except httpx.HTTPError:
				pass
			if time.monotonic() > deadline:
				pytest.fail(f"the engine was not healthy within 120 s: {log_path.read_text()[-2000:]}")
			time.sleep(0.2)
		yield url
	finally:
		if proc.poll() is None:
			os.killpg(proc.pid, signal.SIGTERM)
			try:
				proc.wait(timeout=15)
			except subprocess.TimeoutExpired:
				os.killpg(proc.pid, signal.SIGKILL)
				proc.wait(timeout=5)


def _check_timings(r: RequestRecord) -> None:
	assert r.ok, r.error
	assert r.first_token is not None and r.end is not None
	assert r.sent <= r.first_token <= r.end
	assert r.ttft is not None and r.e2e is not None and 0 < r.ttft < r.e2e
	assert r.tpot is not None and r.tpot > 0
	assert r.chunk_times == sorted(r.chunk_times) and r.chunk_times[0] == r.first_token


@pytest.mark.engine
def test_completions_exact_lengths_and_timings(engine_url: str) -> None:
	records: list[RequestRecord] = []
	calls: list[tuple[int, int]] = []
	m = asyncio.run(
		run_load(
			RunRequest(
				engine_url,
				scenario=parse_scenario("D(32,16)"),
				concurrency=4,
				max_requests=8,
				max_duration_s=120,
				warmup=1,
				endpoint="completions",
				model=None,
				extra_body={"temperature": 0.7},
				goodput_slo=None,
				progress=lambda done, total: calls.append((done, total)),
			),
			records=records,
		)
	)
	assert (m.total_requests, m.completed, m.errored, m.errors) == (8, 8, 0, [])
	assert len(records) == 8
	for r in records:
		assert r.input_tokens == 32  # server's usage.prompt_tokens
		assert r.output_tokens == 16  # server's usage.completion_tokens
		_check_timings(r)
	assert (m.input_tokens, m.output_tokens) == (8 * 32, 8 * 16)
	assert m.scenario == "D(32,16)" and m.concurrency == 4
	assert m.ttft.p50 is not None and m.e2e.p50 is not None and m.ttft.p50 < m.e2e.p50
	assert m.tpot.mean is not None and m.tpot.mean > 0
	assert m.itl.count > 0 and m.output_throughput > 0 and m.total_throughput > m.output_throughput
	assert m.goodput is None
	assert calls == [(i, 8) for i in range(1, 9)]


@pytest.mark.engine
def test_prompts_have_exactly_the_requested_token_count(engine_url: str) -> None:
	async def go() -> None:
		async with httpx.AsyncClient(trust_env=False) as client:
			builder = await PromptBuilder.create(client, engine_url)
			texts = set()
			for n in (1, 2, 17, 100, 450):
				for variant in range(3):
					text = await builder.build(n, variant=variant)
					assert len(await builder.tokenizer.tokenize(text, add_special=True)) == n
					texts.add(text)
					chat_text = await builder.build(n, variant=variant, with_special=False)
					assert len(await builder.tokenizer.tokenize(chat_text, add_special=False)) == n
			assert len(texts) == 15  # every variant starts elsewhere: no shared prefixes
			assert await builder.build(17, variant=1) is await builder.build(17, variant=1)  # cached

	asyncio.run(go())


@pytest.mark.engine
def test_uniform_lengths_and_goodput(engine_url: str) -> None:
	records: list[RequestRecord] = []
	scenario = parse_scenario("U(8,64)/(2,8)")
	kw = dict(scenario=scenario, concurrency=4, max_requests=12, max_duration_s=120, warmup=0, seed=5)
	m = asyncio.run(run_load(RunRequest(engine_url, goodput_slo=GoodputSLO(e2e=3600), **kw), records=records))  # type: ignore[arg-type]
	assert m.completed == 12
	assert all(8 <= r.input_tokens <= 64 and 2 <= r.output_tokens <= 8 for r in records)
	assert len({r.input_tokens for r in records}) > 1
	assert m.goodput == pytest.approx(m.request_throughput)
	strict = asyncio.run(run_load(RunRequest(engine_url, goodput_slo=GoodputSLO(ttft=1e-6), **kw)))  # type: ignore[arg-type]
	assert strict.completed == 12 and strict.goodput == 0


@pytest.mark.engine
def test_chat_endpoint(engine_url: str) -> None:
	records: list[RequestRecord] = []
	m = asyncio.run(
		run_load(
			RunRequest(
				engine_url,
				scenario=parse_scenario("D(32,8)"),
				concurrency=2,
				max_requests=4,
				max_duration_s=120,
				warmup=0,
				endpoint="chat",
			),
			records=records,
		)
	)
	assert (m.completed, m.errored) == (4, 0)
	for r in records:
		assert r.output_tokens == 8
		assert r.input_tokens > 32  # the chat template's tokens come on top of the 32-token message
		_check_timings(r)


@pytest.mark.engine
def test_http_error_becomes_an_error_record(engine_url: str) -> None:
	# 600 prompt tokens do not fit a 512-token slot: the server answers 400
	m = asyncio.run(
		run_load(
			RunRequest(
				engine_url,
				scenario=parse_scenario("D(600,4)"),
				concurrency=2,
				max_requests=2,
				max_duration_s=60,
				warmup=0,
			)
		)
	)
	assert (m.completed, m.errored, m.error_rate) == (0, 2, 1.0)
	assert m.errors[0].startswith("HTTP 400: ")


@pytest.mark.engine
def test_max_duration_stops_sending(engine_url: str) -> None:
	m = asyncio.run(
		run_load(
			RunRequest(
				engine_url, scenario=parse_scenario("D(32,16)"), concurrency=2, max_requests=500, max_duration_s=1.0
			)
		)
	)
	assert 1 <= m.total_requests < 500
	assert m.errored == 0  # requests in flight at the deadline were allowed to finish


@pytest.mark.engine
def test_cancel_stops_promptly(engine_url: str) -> None:
	async def go() -> tuple[float, int]:
		cancel = asyncio.Event()
		asyncio.get_running_loop().call_later(1.0, cancel.set)
		t0 = time.perf_counter()
		m = await run_load(
			RunRequest(
				engine_url, scenario=parse_scenario("D(32,64)"), concurrency=2, max_requests=500, max_duration_s=600
			),
			cancel=cancel,
		)
		return time.perf_counter() - t0, m.total_requests

	elapsed, total = asyncio.run(go())
	assert total < 500
	assert elapsed < 60  # 500 requests of 64 tokens would take many minutes here


@pytest.mark.engine
def test_fetch_model_name(engine_url: str) -> None:
	name = asyncio.run(fetch_model_name(engine_url + "/v1/"))
	assert isinstance(name, str) and name


def test_unreachable_server_gives_error_records() -> None:
	url = f"http://127.0.0.1:{_free_port()}"
	m = asyncio.run(
		run_load(
			RunRequest(
				url, scenario=parse_scenario("D(32,16)"), concurrency=2, max_requests=3, max_duration_s=30, warmup=1
			)
		)
	)
	assert (m.total_requests, m.completed, m.errored) == (3, 0, 3)
	assert "ConnectError" in m.errors[0]
	assert asyncio.run(fetch_model_name(url)) is None


# --- a tiny OpenAI-compatible server for what llama.cpp never does (no usage, no /tokenize) ---


async def _serve(*, tokenize: bool, usage: bool) -> tuple[asyncio.Server, str]:
	"""Tokens are whitespace-separated words; completions stream max_tokens words."""

	def reply(status: int, body: bytes, ctype: str = "application/json") -> bytes:
		head = f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
		return head.encode() + body

	async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
		try:
			while True:
				head = (await reader.readuntil(b"\r\n\r\n")).decode()
				path = head.split(" ")[1]
				length = next(
					(int(h.split(":")[1]) for h in head.split("\r\n") if h.lower().startswith("content-length")), 0
				)
				body = json.loads(await reader.readexactly(length)) if length else {}
				if path == "/tokenize" and tokenize:
					words = body["content"].split()
					tokens: list = [{"id": i, "piece": " " + w} for i, w in enumerate(words)]
					if not body.get("with_pieces"):
						tokens = list(range(len(words)))
					writer.write(reply(200, json.dumps({"tokens": tokens}).encode()))
				elif path == "/v1/completions":
					events: list[dict[str, object]] = [
						{"choices": [{"text": " tok", "index": 0}]} for _ in range(body["max_tokens"])
					]
					if usage:
						events.append({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
					sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
					writer.write(reply(200, sse.encode(), "text/event-stream"))
				else:
					writer.write(reply(404, b'{"error": "not found"}'))
				await writer.drain()
		except (asyncio.IncompleteReadError, ConnectionError):
			pass
		finally:
			writer.close()

	server = await asyncio.start_server(handle, "127.0.0.1", 0)
	port = server.sockets[0].getsockname()[1]
	return server, f"http://127.0.0.1:{port}"


def test_without_usage_tokens_are_counted_by_the_tokenizer() -> None:
	async def go() -> list[RequestRecord]:
		server, url = await _serve(tokenize=True, usage=False)
		records: list[RequestRecord] = []
		async with server:
			await run_load(
				RunRequest(url, scenario=parse_scenario("D(20,5)"), concurrency=2, max_requests=4, max_duration_s=30),
				records=records,
			)
		return records

	records = asyncio.run(go())
	assert len(records) == 4
	for r in records:
		assert r.ok, r.error
		assert (r.input_tokens, r.output_tokens) == (20, 5)
		assert len(r.chunk_times) == 5


def test_no_tokenize_endpoint_and_no_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
	async def go(model_tokenizer: str | None) -> None:
		server, url = await _serve(tokenize=False, usage=True)
		async with server:
			await run_load(
				RunRequest(
					url,
					scenario=parse_scenario("D(20,5)"),
					concurrency=1,
					max_requests=1,
					max_duration_s=30,
					tokenizer_dir=model_tokenizer,
				)
			)

	with pytest.raises(BenchmarkError, match="no /tokenize endpoint") as info:
		asyncio.run(go(None))
	assert "model_tokenizer" in str(info.value)
	with pytest.raises(BenchmarkError, match="not a local folder"):
		asyncio.run(go("org/some-model"))
	with pytest.raises(BenchmarkError):  # an empty folder (or no transformers) cannot give a tokenizer
		asyncio.run(go(str(tmp_path)))
