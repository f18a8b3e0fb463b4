"""Benchmark P3: how fast each load driver can drive load, and how exactly it measures TTFT.

    .venv/bin/python benchmarks/load_generator.py [--requests 400] [--delay-ms 20] [--drivers builtin,genai-bench]
        [--scenario 'D(16,64)'] [--concurrency 1,8,32,64] [--client-processes 1]

Starts a fast asyncio streaming server (OpenAI-compatible /v1/completions and /v1/chat/completions, /tokenize,
/v1/models) pinned to core 0 that waits exactly --delay-ms before the first token and then streams max_tokens
one-word chunks with no delay, so the server is never the bottleneck and the true TTFT is known. Each driver (the
built-in client and every installed external tool) runs pinned to core 1 at rising concurrency; the script prints
the highest streamed output tokens/s each reaches and its TTFT error (mean measured TTFT - the server's delay).
External tools also pay their start-up (seconds), which a per-run throughput cannot see: their figure is their own
reported throughput. Goals: built-in >= 1.5x the best tool, TTFT error < 1 ms (issue 10); >= 2x the best tool at
D(100,256), --delay-ms 0, concurrency 32 (issue 18). The built-in client runs on the loop the tuner gives it (uvloop
where installed); this script also runs against an older checkout (copy it there) for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference_autotuner.bench.drivers import DRIVERS, RunRequest, get_driver  # noqa: E402
from inference_autotuner.bench.traffic import parse_scenario  # noqa: E402

try:  # the loop the tuner measures on (uvloop where installed); an older checkout has none: asyncio's
	from inference_autotuner.bench.eventloop import run as run_loop  # noqa: E402
except ImportError:
	run_loop = asyncio.run


async def _serve(port: int, delay: float) -> None:
	firsts: list[float] = []  # per request: seconds from the request's arrival to its first chunk's write

	async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
		try:
			while True:
				head = await reader.readuntil(b"\r\n\r\n")
				arrived = time.perf_counter()
				lines = head.decode("latin-1").split("\r\n")
				method, path, _ = lines[0].split(" ", 2)
				length = 0
				for line in lines[1:]:
					if line.lower().startswith("content-length:"):
						length = int(line.split(":", 1)[1])
				body = json.loads(await reader.readexactly(length) or b"{}") if length else {}
				if path in ("/v1/completions", "/v1/chat/completions"):
					chat = path.endswith("chat/completions")
					prompt = body.get("prompt") or " ".join(str(m.get("content", "")) for m in body.get("messages", []))
					n_in, n_out = (
						len(str(prompt).split()),
						int(body.get("max_tokens") or body.get("max_completion_tokens") or 16),
					)
					writer.write(
						b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
					)
					await writer.drain()
					await asyncio.sleep(delay)
					parts = []
					for i in range(n_out):
						delta = {"delta": {"content": " w"}} if chat else {"text": " w"}
						last = i == n_out - 1
						chunk: dict = {
							"id": "x",
							"object": "chat.completion.chunk" if chat else "text_completion",
							"created": 0,
							"model": "zero",
							"choices": [{**delta, "index": 0, "finish_reason": "length" if last else None}],
						}
						if last:
							chunk["usage"] = {
								"prompt_tokens": n_in,
								"completion_tokens": n_out,
								"total_tokens": n_in + n_out,
							}
						data = b"data: " + json.dumps(chunk).encode() + b"\n\n"
						parts.append(b"%x\r\n%s\r\n" % (len(data), data))
						if i == 0:
							writer.write(parts.pop())
							firsts.append(time.perf_counter() - arrived)
							await writer.drain()
					done = b"data: [DONE]\n\n"
					parts.append(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
					writer.write(b"".join(parts))
					await writer.drain()
					continue
				if path == "/tokenize":
					out: object = {"tokens": [1] * len(str(body.get("content", "")).split())}
				elif path == "/detokenize":
					out = {"content": " ".join("w" for _ in body.get("tokens", []))}
				elif path == "/stats":  # the server's real first-chunk delays since the last /stats
					out = {"count": len(firsts), "mean": sum(firsts) / len(firsts) if firsts else None}
					firsts.clear()
				elif path == "/v1/models":
					out = {"object": "list", "data": [{"id": "zero", "object": "model"}]}
				else:
					out = {"status": "ok"}
				data = json.dumps(out).encode()
				writer.write(
					b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
					% (len(data), data)
				)
				await writer.drain()
				del method
		except (asyncio.IncompleteReadError, ConnectionError, ValueError):
			pass
		finally:
			writer.close()

	server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
	async with server:
		await server.serve_forever()


def server_main(port: int, delay: float) -> None:
	os.sched_setaffinity(0, {0})
	try:
		import uvloop  # type: ignore[import-not-found]

		uvloop.install()
	except ImportError:
		pass
	asyncio.run(_serve(port, delay))


def server_delay(url: str) -> float | None:
	"""The server's mean real delay (request arrival -> first chunk written) since the last call, and reset it."""
	import httpx

	mean = httpx.get(f"{url}/stats", timeout=10).json()["mean"]
	return float(mean) if mean is not None else None


async def one(
	name: str, url: str, concurrency: int, requests: int, tok: str | None, work: Path, scenario: str, processes: int
) -> tuple[float, float, float | None]:
	"""(output tokens/s, mean measured TTFT, the server's mean real first-chunk delay) of one run, in seconds."""
	req = RunRequest(
		url, scenario=parse_scenario(scenario), concurrency=concurrency, max_requests=requests, max_duration_s=120,
		endpoint="chat", model="zero", tokenizer_dir=tok, workdir=work / f"{name}-{concurrency}",
	)  # fmt: skip
	if name == "builtin" and processes > 1:
		req.client_processes = processes  # type: ignore[attr-defined,unused-ignore]
	server_delay(url)
	m = await get_driver(name).run(req)
	return m.output_throughput, (m.ttft.mean or 0.0), server_delay(url)


def main() -> None:
	p = argparse.ArgumentParser()
	p.add_argument("--requests", type=int, default=400)
	p.add_argument("--delay-ms", type=float, default=20.0)
	p.add_argument("--concurrency", default="1,8,32,64")
	p.add_argument("--drivers", default=",".join(DRIVERS))
	p.add_argument("--scenario", default="D(16,64)", help="traffic scenario of every run")
	p.add_argument("--client-processes", type=int, default=1, help="the built-in client's processes")
	p.add_argument(
		"--tokenizer", default=None, help="tokenizer folder for the tools (default: derived from the demo model)"
	)
	args = p.parse_args()
	import multiprocessing
	import socket

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
	delay = args.delay_ms / 1000.0
	srv = multiprocessing.Process(target=server_main, args=(port, delay), daemon=True)
	srv.start()
	time.sleep(0.5)
	os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
	url = f"http://127.0.0.1:{port}"
	tok = args.tokenizer
	names = [n for n in args.drivers.split(",") if n]
	if tok is None and any(n != "builtin" for n in names):
		from inference_autotuner.bench.drivers.tokenizer import resolve_tokenizer
		from inference_autotuner.models import resolve_model

		tok = resolve_tokenizer(None, resolve_model("smollm2"), Path(tempfile.gettempdir()) / "autotuner-tokenizers")
	results: dict[str, tuple[float, float, float]] = {}
	with tempfile.TemporaryDirectory() as work:
		for name in names:
			why = get_driver(name).missing()
			if why is not None:
				print(f"{name:12s} skipped: {why.splitlines()[0]}")
				continue
			best, err_nominal, err_real = 0.0, float("nan"), float("nan")
			for c in [int(x) for x in args.concurrency.split(",")]:
				run = run_loop if name == "builtin" else asyncio.run
				tps, ttft, real = run(
					one(name, url, c, args.requests, tok, Path(work), args.scenario, args.client_processes)
				)
				nominal_ms = (ttft - delay) * 1000
				real_ms = (ttft - real) * 1000 if real is not None else float("nan")
				print(
					f"{name:12s} concurrency {c:3d}: {tps:9.0f} tokens/s, TTFT error {real_ms:8.3f} ms "
					f"(vs the nominal delay: {nominal_ms:8.3f} ms)",
					flush=True,
				)
				if c == 1:
					err_nominal, err_real = nominal_ms, real_ms
				best = max(best, tps)
			results[name] = (best, err_real, err_nominal)
	srv.terminate()
	print(
		f"\nhighest streamed output tokens/s; TTFT error at concurrency 1 = mean measured TTFT - the server's mean real "
		f"first-chunk delay (nominal {args.delay_ms:g} ms):"
	)
	for name, (tps, err, nominal) in results.items():
		print(f"  {name:12s} {tps:9.0f} tokens/s   TTFT error {err:7.3f} ms   (vs nominal {nominal:7.3f} ms)")
	others = [tps for n, (tps, _, _) in results.items() if n != "builtin"]
	if "builtin" in results and others:
		print(f"  built-in / best tool: {results['builtin'][0] / max(others):.2f}x (goal >= 2x)")


if __name__ == "__main__":
	main()
