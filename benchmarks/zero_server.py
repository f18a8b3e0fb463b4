"""A zero-delay OpenAI-compatible streaming server, for measuring the tuner's own overhead (not an engine).

    python benchmarks/zero_server.py --port 8000 [--token-ms 0] [--anything ignored]

Tokens are whitespace-separated words; /tokenize and /detokenize work on that; /v1/completions streams
max_tokens one-word chunks at once, with usage in the last chunk. --token-ms N waits N ms before each chunk (a
server slower than the client, as an engine is: a test's stand-in for one whose load the client can drive).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_S = 0.0  # seconds before each chunk (--token-ms)


class Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"

	def log_message(self, *args: object) -> None:
		return

	def _json(self, obj: object, code: int = 200) -> None:
		body = json.dumps(obj).encode()
		self.send_response(code)
		self.send_header("content-type", "application/json")
		self.send_header("content-length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)

	def do_GET(self) -> None:  # noqa: N802
		if self.path == "/health":
			self._json({"status": "ok"})
		elif self.path == "/v1/models":
			self._json({"data": [{"id": "zero"}]})
		else:
			self._json({"error": "not found"}, 404)

	def do_POST(self) -> None:  # noqa: N802
		n = int(self.headers.get("content-length", 0))
		req = json.loads(self.rfile.read(n) or b"{}")
		if self.path == "/tokenize":
			words = str(req.get("content", "")).split()
			self._json({"tokens": [len(w) for w in words]})
		elif self.path == "/detokenize":
			self._json({"content": " ".join("w" * max(1, int(t)) for t in req.get("tokens", []))})
		elif self.path in ("/v1/completions", "/v1/chat/completions"):
			prompt = req.get("prompt") or " ".join(m.get("content", "") for m in req.get("messages", []))
			n_in, n_out = len(str(prompt).split()), int(req.get("max_tokens", 16))
			self.send_response(200)
			self.send_header("content-type", "text/event-stream")
			self.send_header("connection", "close")
			self.end_headers()
			chat = self.path.endswith("chat/completions")
			for i in range(n_out):
				if TOKEN_S:
					self.wfile.flush()
					time.sleep(TOKEN_S)
				choice = {"delta": {"content": " w"}} if chat else {"text": " w"}
				chunk = {"choices": [{**choice, "index": 0, "finish_reason": None if i < n_out - 1 else "length"}]}
				if i == n_out - 1:
					chunk["usage"] = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
				self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
			self.wfile.write(b"data: [DONE]\n\n")
			self.wfile.flush()
			self.close_connection = True
		else:
			self._json({"error": "not found"}, 404)


def main() -> None:
	p = argparse.ArgumentParser()
	p.add_argument("--port", type=int, required=True)
	p.add_argument("--host", default="127.0.0.1")
	p.add_argument("--token-ms", type=float, default=0.0, help="wait this many ms before each chunk")
	args, _ = p.parse_known_args()
	global TOKEN_S
	TOKEN_S = args.token_ms / 1000.0
	server = ThreadingHTTPServer((args.host, args.port), Handler)
	server.daemon_threads = True
	signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
	server.serve_forever()


if __name__ == "__main__":
	main()
