"""`autotuner serve` as a real uvicorn process: health, OpenAPI docs, clear errors for bad options."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

CLI = [sys.executable, "-m", "inference_autotuner.cli"]


def _free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return int(s.getsockname()[1])


def test_serve_answers_and_stops_cleanly() -> None:
	port = _free_port()
	proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	try:
		deadline = time.monotonic() + 60
		while True:
			try:
				r = httpx.get(f"http://127.0.0.1:{port}/api/system/health", timeout=2)
				break
			except httpx.HTTPError:
				assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
				assert time.monotonic() < deadline, "serve did not answer within 60 s"
				time.sleep(0.2)
		assert r.status_code == 200 and r.json()["queue"] == "in-process" and r.json()["workers"] == 1
		assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
		again = subprocess.run([*CLI, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
		assert again.returncode == 1 and f"port {port}" in again.stderr and "Traceback" not in again.stderr
	finally:
		proc.send_signal(signal.SIGINT)
		assert proc.wait(30) == 0


def test_serve_and_worker_refuse_bad_options() -> None:
	r = subprocess.run([*CLI, "serve", "--redis", "http://nope"], capture_output=True, text=True, timeout=60)
	assert r.returncode == 1 and "not a Redis URL" in r.stderr and "Traceback" not in r.stderr
	env = {k: v for k, v in os.environ.items() if k != "AUTOTUNER_REDIS"}
	r = subprocess.run([*CLI, "worker"], capture_output=True, text=True, timeout=60, env=env)
	assert r.returncode == 1 and "needs a Redis URL" in r.stderr and "Traceback" not in r.stderr
	r = subprocess.run([*CLI, "serve", "--db", "nosuch://x"], capture_output=True, text=True, timeout=60)
	assert r.returncode != 0 and "cannot open database" in r.stderr and "Traceback" not in r.stderr
