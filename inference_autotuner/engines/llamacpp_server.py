"""Run llama.cpp's own HTTP server (through the xllamacpp wheel) as a process, with llama-server's flag names.

    python -m inference_autotuner.engines.llamacpp_server --model M.gguf --port 8080 --parallel 4 --threads 2

Used where no `llama-server` binary is on PATH. The process serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

# llama-server flag -> (attribute path on xllamacpp.CommonParams, type)
_INT = int
_STR = str


STOP_POLL_S = 0.1
"""How often the main thread wakes to take a pending stop signal."""
STOP_GRACE_S = 5.0


def _bool(v: str) -> bool:
	return v.lower() in ("1", "true", "on", "yes")


FLAG_MAP: dict[str, tuple[str, type | object]] = {
	"ctx-size": ("n_ctx", _INT),
	"batch-size": ("n_batch", _INT),
	"ubatch-size": ("n_ubatch", _INT),
	"parallel": ("n_parallel", _INT),
	"threads": ("cpuparams.n_threads", _INT),
	"threads-batch": ("cpuparams_batch.n_threads", _INT),
	"poll": ("cpuparams.poll", _INT),
	"threads-http": ("n_threads_http", _INT),
	"n-gpu-layers": ("n_gpu_layers", _INT),
	"cache-type-k": ("cache_type_k", "ggml_type"),
	"cache-type-v": ("cache_type_v", "ggml_type"),
	"flash-attn": ("flash_attn_type", "flash_attn"),
	"defrag-thold": ("defrag_thold", float),
	"keep": ("n_keep", _INT),
	"seed": ("sampling.seed", _INT),
}
BOOL_FLAGS: dict[str, tuple[str, bool]] = {
	"cont-batching": ("cont_batching", True),
	"no-cont-batching": ("cont_batching", False),
	"kv-unified": ("kv_unified", True),
	"no-kv-unified": ("kv_unified", False),
	"no-warmup": ("warmup", False),
	"metrics": ("endpoint_metrics", True),
	"mlock": ("use_mlock", True),
	"no-mmap": ("use_mmap", False),
	"cache-prompt": ("cache_prompt", True),
	"no-cache-prompt": ("cache_prompt", False),
}
GGML_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")


def _set(params: object, path: str, value: object) -> None:
	obj = params
	parts = path.split(".")
	for part in parts[:-1]:
		obj = getattr(obj, part)
	setattr(obj, parts[-1], value)


def _convert(x: object, kind: object, raw: str) -> object:
	if kind == "ggml_type":
		if raw.lower() not in GGML_TYPES:
			raise SystemExit(f"error: cache type {raw!r} is not one of {', '.join(GGML_TYPES)}")
		return getattr(x.ggml_type, "GGML_TYPE_" + raw.upper())  # type: ignore[attr-defined]
	if kind == "flash_attn":
		names = {"on": "LLAMA_FLASH_ATTN_TYPE_ENABLED", "off": "LLAMA_FLASH_ATTN_TYPE_DISABLED"}
		names.update({"auto": "LLAMA_FLASH_ATTN_TYPE_AUTO", "1": names["on"], "0": names["off"]})
		names.update({"true": names["on"], "false": names["off"]})
		if raw.lower() not in names:
			raise SystemExit(f"error: --flash-attn takes on, off or auto, not {raw!r}")
		return getattr(x.llama_flash_attn_type, names[raw.lower()])  # type: ignore[attr-defined]
	return kind(raw)  # type: ignore[operator]


def build_parser() -> argparse.ArgumentParser:
	p = argparse.ArgumentParser(prog="llamacpp_server", description=__doc__)
	p.add_argument("--model", "-m", required=True)
	p.add_argument("--host", default="127.0.0.1")
	p.add_argument("--port", type=int, default=8080)
	p.add_argument("--alias", "-a", default=None)
	for flag in FLAG_MAP:
		p.add_argument(f"--{flag}", dest=flag.replace("-", "_"), default=None)
	for flag in BOOL_FLAGS:
		p.add_argument(f"--{flag}", dest=flag.replace("-", "_"), action="store_true")
	return p


def make_params(argv: list[str]) -> object:
	import xllamacpp as x

	args = build_parser().parse_args(argv)
	params = x.CommonParams()
	params.model.path = args.model
	params.hostnames = [args.host]
	params.port = args.port
	params.endpoint_metrics = True
	if args.alias:
		params.model_alias = {args.alias}
	for flag, (path, kind) in FLAG_MAP.items():
		raw = getattr(args, flag.replace("-", "_"))
		if raw is None:
			continue
		try:
			_set(params, path, _convert(x, kind, raw))
		except (ValueError, AttributeError) as exc:
			raise SystemExit(f"error: --{flag} {raw}: {exc}") from exc
	for flag, (path, value) in BOOL_FLAGS.items():
		if getattr(args, flag.replace("-", "_")):
			try:
				_set(params, path, value)
			except AttributeError:
				print(f"warning: --{flag} is not supported by this xllamacpp build; ignored", file=sys.stderr)
	# one HTTP thread per slot plus spares, as llama-server does
	if params.n_threads_http <= 0:
		params.n_threads_http = max(2 * params.n_parallel + 4, 8)
	return params


def main(argv: list[str] | None = None) -> int:
	import xllamacpp as x

	params = make_params(list(sys.argv[1:] if argv is None else argv))
	stop = threading.Event()
	# SIGTERM/SIGINT are held back while the server loads (a C call that may take seconds and that starts the
	# server's threads): a stop asked during the load waits, pending, and is taken as soon as the server exists, and
	# the threads it starts inherit the block, so the main thread is the one that takes it. Without this a stop
	# during the load could land on a C thread and be lost, leaving an engine nobody owns (a killed worker's).
	stops = {signal.SIGTERM, signal.SIGINT}
	signal.signal(signal.SIGTERM, lambda *_: stop.set())
	signal.signal(signal.SIGINT, lambda *_: stop.set())
	signal.pthread_sigmask(signal.SIG_BLOCK, stops)
	try:
		server = x.Server(params)
	finally:
		signal.signal(signal.SIGTERM, lambda *_: stop.set())
		signal.signal(signal.SIGINT, lambda *_: stop.set())
		signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
	print(f"llamacpp_server: listening on {server.listening_address}", flush=True)
	# Python runs a signal's handler in the main thread only when that thread runs bytecode: a SIGTERM the kernel
	# hands to one of the server's threads (those it starts after the load do not block it) would otherwise wait
	# forever behind a blocked stop.wait(), and the deployer's SIGKILL came 10 s later (1 stop in 3 measured).
	while not stop.wait(STOP_POLL_S):
		pass
	# The server's own shutdown joins its threads; should that ever hang (a stop right as its HTTP loop starts), the
	# process still ends: nobody may be left to send a SIGKILL (a killed worker's engine gets only SIGTERM).
	watchdog = threading.Timer(STOP_GRACE_S, os._exit, args=(0,))
	watchdog.daemon = True  # a clean shutdown does not wait for it
	watchdog.start()
	del server
	return 0


if __name__ == "__main__":
	raise SystemExit(main())
