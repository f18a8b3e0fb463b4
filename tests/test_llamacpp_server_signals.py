"""The llama.cpp server module stops on SIGTERM at any moment, including while it is still loading the model: a
killed worker's engine gets SIGTERM from the kernel (PR_SET_PDEATHSIG) at whatever point its start had reached.
Before the fix a SIGTERM 0.1-0.3 s after launch (inside the server's C constructor) was lost and the engine ran on
with no owner (found by tests/test_distributed.py's kill -9). Real process, real model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference_autotuner.deploy.ports import free_port


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6])
def test_sigterm_during_start_stops_the_server(model_path: Path, delay: float) -> None:
	cmd = [sys.executable, "-I", "-m", "inference_autotuner.engines.llamacpp_server"]
	cmd += ["--model", str(model_path), "--port", str(free_port()), "--ctx-size", "512"]
	proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	try:
		time.sleep(delay)
		proc.terminate()
		code = proc.wait(timeout=30)
	finally:
		if proc.poll() is None:
			proc.kill()
			proc.wait()
	assert code in (0, -15), f"SIGTERM after {delay} s: exit status {code}"


def test_stops_after_serving_are_taken_at_once(model_path: Path, tmp_path: Path) -> None:
	"""After it has served requests (the HTTP threads started after the load do not block SIGTERM, so the kernel may
	hand the signal to one of them), every stop is taken by the main thread. Before the fix, through the local
	deployer, one stop in three was not: the engine ran on until the deployer's SIGKILL 10 s later (stops of 10.04 s;
	now 0.06-0.09 s), and each such experiment lasted 10 s longer."""
	import threading

	import httpx

	from inference_autotuner.deploy.base import Launch
	from inference_autotuner.deploy.local import LocalProcessDeployer

	deployer = LocalProcessDeployer(records=tmp_path / "records")
	deployer.records.mkdir()
	for attempt in range(6):
		port = free_port()
		argv = [sys.executable, "-I", "-m", "inference_autotuner.engines.llamacpp_server", "--model", str(model_path)]
		argv += ["--port", str(port), "--ctx-size", "4096", "--parallel", "4", "--threads", str(1 + attempt % 2)]
		dep = deployer.start(Launch(argv=argv, port=port), log_path=tmp_path / f"engine{attempt}.log", timeout=60)
		proc = dep.handle
		try:

			def ask(url: str) -> None:
				httpx.post(f"{url}/v1/completions", json={"prompt": "hello " * 60, "max_tokens": 32}, timeout=30)

			askers = [threading.Thread(target=ask, args=(dep.base_url,)) for _ in range(4)]
			for t in askers:
				t.start()
			for t in askers:
				t.join()
			t0 = time.monotonic()
			deployer.stop(dep)
			took = time.monotonic() - t0
		finally:
			if proc.poll() is None:
				proc.kill()
				proc.wait()
		assert took < 5.0, f"stop {attempt + 1} took {took:.1f} s: the SIGTERM waited for the deployer's SIGKILL"
