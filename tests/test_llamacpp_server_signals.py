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
