"""Run llama.cpp's own HTTP server (through the xllamacpp wheel) as a process, with llama-server's flag names.

    python -m inference_autotuner.engines.llamacpp_server --model M.gguf --port 8080 --parallel 4 --threads 2

Used where no `llama-server` binary is on PATH. The process serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

# llama-server flag -> (attribute path on xllamacpp.CommonParams, type)
_INT = int
_STR = str


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
	# SIGTERM/SIGINT are held back while the server loads (a C call that may take seconds and that starts the
	# server's threads): a stop asked during the load waits, pending, and the threads it starts inherit the block.
	# Once the server exists both signals get their default action (end the process at once) and are let through:
	# a stop pending from the load ends it right there, a later one whichever thread the kernel hands it to. A
	# Python handler needs the main thread to run bytecode; measured with one, 1 stop in 3 after serving was never
	# taken and the deployer's SIGKILL came 10 s later. The server keeps nothing worth a graceful shutdown.
	stops = {signal.SIGTERM, signal.SIGINT}
	signal.pthread_sigmask(signal.SIG_BLOCK, stops)
	server = x.Server(params)
	# PID 1 (a container's program) ignores a signal left at its default action: there a handler ends the process,
	# taken by the main thread, which wakes every 0.1 s so that it runs bytecode
	action = (lambda *_: os._exit(0)) if os.getpid() == 1 else signal.SIG_DFL
	signal.signal(signal.SIGTERM, action)
	signal.signal(signal.SIGINT, action)
	signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
	print(f"llamacpp_server: listening on {server.listening_address}", flush=True)
	while True:
		time.sleep(0.1)


if __name__ == "__main__":
	raise SystemExit(main())
