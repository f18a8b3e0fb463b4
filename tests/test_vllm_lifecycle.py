"""Engine lifecycle with the local deployer: a start-up timeout of its own, failed starts told apart with the engine's
own lines, and every process of a multi-process engine stopped (vLLM: API server, EngineCore, workers), also after
the tuner or the engine's leader was killed with -9.

The process-tree tests run a real process tree (a small Python program that spawns a child in its group and a
grandchild that leaves the group with setsid, as engines' workers can); the vLLM tests run the real vLLM CPU build
from the tools venv (`make .tools/vllm/.installed`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from inference_autotuner.deploy.base import Launch
from inference_autotuner.deploy.local import TAG_ENV, LocalProcessDeployer, classify_failure
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.engines import get_engine
from inference_autotuner.errors import EngineStartError

TREE = textwrap.dedent(
	"""
	import http.server, os, subprocess, sys, time
	mode = sys.argv[1]
	if mode == "root":
		port = int(sys.argv[2])
		subprocess.Popen([sys.executable, __file__, "child"])
		class H(http.server.BaseHTTPRequestHandler):
			def do_GET(self):
				self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
			def log_message(self, *a):
				pass
		http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
	elif mode == "child":
		subprocess.Popen([sys.executable, __file__, "grandchild"])
		time.sleep(600)
	else:
		os.setsid()  # leaves the engine's process group, keeps its environment
		time.sleep(600)
	"""
)


def tagged(tag: str) -> list[psutil.Process]:
	found = []
	for p in psutil.process_iter(["pid", "status"]):
		try:
			if p.info["status"] != psutil.STATUS_ZOMBIE and p.environ().get(TAG_ENV) == tag:
				found.append(p)
		except psutil.Error:
			continue
	return found


def wait_for(pred, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
	deadline = time.monotonic() + seconds
	while time.monotonic() < deadline:
		if pred():
			return True
		time.sleep(0.1)
	return False


def test_stop_ends_the_whole_tree_even_when_its_leader_is_gone(tmp_path: Path) -> None:
	script = tmp_path / "tree.py"
	script.write_text(TREE)
	port = free_port()
	deployer = LocalProcessDeployer(records=tmp_path / "run")
	(tmp_path / "run").mkdir()
	dep = deployer.start(
		Launch(argv=[sys.executable, str(script), "root", str(port)], port=port, health_path="/", env={}, labels={}),
		log_path=tmp_path / "engine.log",
		timeout=30,
	)
	tag = dep.info["tag"]
	assert wait_for(lambda: len(tagged(tag)) == 3), "root, child and the grandchild that left the group"
	os.kill(dep.handle.pid, signal.SIGKILL)  # the leader dies; its child and the setsid grandchild live on
	dep.handle.wait()
	assert len(tagged(tag)) == 2
	deployer.stop(dep)
	assert wait_for(lambda: not tagged(tag), 10), "stop() found them by group and tag"
	assert not list((tmp_path / "run").glob("engine-*.json"))


def test_kill_9_of_the_tuner_then_sweep(tmp_path: Path) -> None:
	"""A tuner (here a small program using the deployer) is killed with -9: the engine's leader gets SIGTERM from
	PR_SET_PDEATHSIG, the rest is left; the next run's sweep() removes every process of the engine."""
	script = tmp_path / "tree.py"
	script.write_text(TREE)
	runs = tmp_path / "run"
	runs.mkdir()
	tuner = textwrap.dedent(
		f"""
		import sys, time
		from pathlib import Path
		from inference_autotuner.deploy.base import Launch
		from inference_autotuner.deploy.local import LocalProcessDeployer
		from inference_autotuner.deploy.ports import free_port
		port = free_port()
		d = LocalProcessDeployer(records=Path({str(runs)!r}))
		launch = Launch(argv=[sys.executable, {str(script)!r}, "root", str(port)], port=port, health_path="/")
		dep = d.start(launch, log_path=Path({str(tmp_path / "engine.log")!r}), timeout=30)
		print(dep.info["tag"], flush=True)
		time.sleep(600)
		"""
	)
	proc = subprocess.Popen([sys.executable, "-c", tuner], stdout=subprocess.PIPE, text=True)
	assert proc.stdout is not None
	tag = proc.stdout.readline().strip()
	assert tag and wait_for(lambda: len(tagged(tag)) == 3)
	proc.kill()
	proc.wait()
	time.sleep(1.0)
	left = tagged(tag)
	assert left, "the group's other processes outlive a kill -9 of the tuner (why the sweep exists)"
	assert LocalProcessDeployer(records=runs).sweep() == 1
	assert wait_for(lambda: not tagged(tag), 10)
	assert not list(runs.glob("engine-*.json"))


def test_cancel_stops_a_start_in_progress(tmp_path: Path) -> None:
	"""A start-up of minutes (vLLM) does not hold a cancel (Ctrl-C, API cancel) until it is ready or times out."""
	import threading

	from inference_autotuner.errors import CancelledError

	deployer = LocalProcessDeployer(records=tmp_path / "run")
	(tmp_path / "run").mkdir()
	deployer.cancel_event = threading.Event()
	threading.Timer(1.0, deployer.cancel_event.set).start()
	t0 = time.monotonic()
	with pytest.raises(CancelledError):
		deployer.start(
			Launch(argv=[sys.executable, "-c", "import time; time.sleep(600)"], port=free_port()),  # never healthy
			log_path=tmp_path / "engine.log",
			timeout=300,
		)
	assert time.monotonic() - t0 < 15
	assert not list((tmp_path / "run").glob("engine-*.json")) and not mine()


@pytest.mark.parametrize(
	("log", "code", "kind"),
	[
		(
			"usage: api_server.py [-h]\napi_server.py: error: argument --max-num-seqs: invalid int value: 'x'",
			2,
			"bad-flag",
		),
		(
			"ValueError: The model's max seq len (8192) is larger than the maximum number of tokens that can be stored in "
			"KV cache (4096). Try increasing `VLLM_CPU_KVCACHE_SPACE` or decreasing `max_model_len`",
			1,
			"out-of-memory",
		),
		("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", 1, "out-of-memory"),
		("pydantic_core._pydantic_core.ValidationError: 1 validation error for SchedulerConfig", 1, "bad-config"),
		("loading weights\n", -9, "out-of-memory"),
		("Segmentation fault", -11, "crashed"),
	],
)
def test_failed_starts_are_told_apart(log: str, code: int, kind: str) -> None:
	assert classify_failure(log, code)[0] == kind


def _vllm() -> list[str]:
	eng = get_engine("vllm")
	python = eng.python()  # type: ignore[attr-defined]
	if python is None:
		pytest.skip("vLLM is not installed: make .tools/vllm/.installed (and AUTOTUNER_TOOLS_DIR=.tools)")
	return list(eng.argv0)  # type: ignore[attr-defined]


def _start_vllm(tmp_path: Path, args: list[str], timeout: float) -> EngineStartError:
	from inference_autotuner.models import resolve_model

	argv0 = _vllm()
	model = resolve_model("smollm2", format="hf")
	port = free_port()
	eng = get_engine("vllm")
	argv = [*argv0, *eng.launch_argv(str(model), {}, host="127.0.0.1", port=port)[len(argv0) :], *args]
	deployer = LocalProcessDeployer(records=tmp_path / "run")
	(tmp_path / "run").mkdir(exist_ok=True)
	with pytest.raises(EngineStartError) as info:
		deployer.start(
			Launch(
				argv=argv,
				port=port,
				health_path="/health",
				env={"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"},
				labels={},
			),
			log_path=tmp_path / "engine.log",
			timeout=timeout,
		)
	assert not list((tmp_path / "run").glob("engine-*.json")), "stopped and its record removed"
	return info.value


@pytest.mark.engine
def test_real_vllm_bad_flag_is_told_with_its_own_line(tmp_path: Path) -> None:
	err = _start_vllm(tmp_path, ["--max-num-seqs", "many"], timeout=240)
	assert err.kind == "bad-flag", str(err)
	assert "--max-num-seqs" in str(err) and "invalid int value" in str(err)


@pytest.mark.engine
def test_real_vllm_start_up_timeout_stops_every_process(tmp_path: Path) -> None:
	err = _start_vllm(tmp_path, ["--enforce-eager"], timeout=20)
	assert err.kind == "timeout" and "startup_timeout" in str(err)
	assert str(tmp_path / "engine.log") in (err.hint or "")
	assert not mine(), "API server, EngineCore and workers all stopped"


def mine() -> list[psutil.Process]:
	"""Live processes started by this test (they inherit its AUTOTUNER_DATA_DIR)."""
	here = os.environ["AUTOTUNER_DATA_DIR"]
	found = []
	for p in psutil.process_iter(["pid", "status"]):
		try:
			if p.pid != os.getpid() and p.info["status"] != psutil.STATUS_ZOMBIE:
				if p.environ().get("AUTOTUNER_DATA_DIR") == here:
					found.append(p)
		except psutil.Error:
			continue
	return found
