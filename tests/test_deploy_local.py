"""Local-process deployer against the real llama.cpp engine: start, health, stop, leftovers swept, clear failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from inference_autotuner.deploy.base import Launch
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.engines import get_engine
from inference_autotuner.errors import EngineStartError
from inference_autotuner.paths import run_dir

pytestmark = pytest.mark.engine


def _start(deployer: LocalProcessDeployer, model: Path, tmp_path: Path, **params):  # type: ignore[no-untyped-def]
	engine = get_engine("llamacpp")
	port = free_port()
	return deployer.start(
		Launch(
			argv=engine.launch_argv(str(model), params, host="127.0.0.1", port=port),
			port=port,
			health_path=engine.health_path,
			env={},
			labels={},
		),
		log_path=tmp_path / "engine.log",
		timeout=60,
	)


def test_start_health_stop(model_path: Path, tmp_path: Path) -> None:
	d = LocalProcessDeployer()
	dep = _start(d, model_path, tmp_path, parallel=2, threads=1)
	pid = dep.handle.pid
	assert httpx.get(dep.base_url + "/health").status_code == 200
	assert list(run_dir().glob(f"engine-{pid}.json")), "a pid record is written while the engine runs"
	d.stop(dep)
	assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
	assert not list(run_dir().glob(f"engine-{pid}.json"))
	d.stop(dep)  # twice is harmless
	assert "listening" in (tmp_path / "engine.log").read_text()


def test_engine_that_exits_early_gives_its_log(tmp_path: Path) -> None:
	d = LocalProcessDeployer()
	with pytest.raises(EngineStartError) as info:
		_start(d, tmp_path / "missing.gguf", tmp_path)
	assert "exited with code" in str(info.value)
	assert not list(run_dir().glob("engine-*.json"))


def test_port_in_use_is_refused(model_path: Path, tmp_path: Path) -> None:
	import socket

	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		s.listen()
		port = s.getsockname()[1]
		engine = get_engine("llamacpp")
		with pytest.raises(EngineStartError, match=f"port {port} is already in use"):
			LocalProcessDeployer().start(
				Launch(
					argv=engine.launch_argv(str(model_path), {}, host="127.0.0.1", port=port),
					port=port,
					health_path="/health",
					env={},
					labels={},
				),
				log_path=tmp_path / "x.log",
				timeout=10,
			)


def owner_script(tmp_path: Path) -> Path:
	"""A stand-in tuner: starts one engine through the real deployer, prints its pid, then waits to be killed."""
	script = tmp_path / "owner.py"
	script.write_text(
		"import sys, time\n"
		"from pathlib import Path\n"
		"from inference_autotuner.deploy.base import Launch\n"
		"from inference_autotuner.deploy.local import LocalProcessDeployer\n"
		"from inference_autotuner.deploy.ports import free_port\n"
		"from inference_autotuner.engines import get_engine\n"
		"e = get_engine('llamacpp'); port = free_port()\n"
		"launch = Launch(argv=e.launch_argv(sys.argv[1], {}, host='127.0.0.1', port=port), port=port)\n"
		"dep = LocalProcessDeployer().start(launch, log_path=Path(sys.argv[2]), timeout=60)\n"
		"print(dep.handle.pid, flush=True)\n"
		"time.sleep(600)\n"
	)
	return script


def test_sweep_kills_what_a_killed_tuner_left(model_path: Path, tmp_path: Path) -> None:
	"""A tuner process starts an engine and is killed with -9; the next deployer's sweep removes the engine."""
	script = owner_script(tmp_path)
	# setsid for the owner so PR_SET_PDEATHSIG is the only thing that could kill the engine: we test the sweep,
	# so make the engine outlive its owner by starting it from a thread-free owner and disabling pdeathsig
	env = {**os.environ, "AUTOTUNER_NO_PDEATHSIG": "1"}
	owner = subprocess.Popen(
		[sys.executable, str(script), str(model_path), str(tmp_path / "e.log")],
		stdout=subprocess.PIPE,
		env=env,
		text=True,
	)
	assert owner.stdout is not None
	engine_pid = int(owner.stdout.readline())
	owner.send_signal(signal.SIGKILL)
	owner.wait()
	time.sleep(0.5)
	assert psutil.pid_exists(engine_pid), "without pdeathsig the orphan engine survives its tuner"
	records = list(run_dir().glob("engine-*.json"))
	assert [json.loads(r.read_text())["pid"] for r in records] == [engine_pid]
	removed = LocalProcessDeployer().sweep()
	assert removed == 1
	time.sleep(0.2)
	assert not psutil.pid_exists(engine_pid) or psutil.Process(engine_pid).status() == psutil.STATUS_ZOMBIE
	assert not list(run_dir().glob("engine-*.json"))


def test_engine_dies_with_its_tuner(model_path: Path, tmp_path: Path) -> None:
	"""With PR_SET_PDEATHSIG (the default) a kill -9 of the tuner takes its engine down at once."""
	script = owner_script(tmp_path)
	owner = subprocess.Popen(
		[sys.executable, str(script), str(model_path), str(tmp_path / "e.log")], stdout=subprocess.PIPE, text=True
	)
	assert owner.stdout is not None
	engine_pid = int(owner.stdout.readline())
	owner.send_signal(signal.SIGKILL)
	owner.wait()
	deadline = time.monotonic() + 15
	while time.monotonic() < deadline and psutil.pid_exists(engine_pid):
		if psutil.Process(engine_pid).status() == psutil.STATUS_ZOMBIE:
			break
		time.sleep(0.1)
	assert not psutil.pid_exists(engine_pid) or psutil.Process(engine_pid).status() == psutil.STATUS_ZOMBIE
	LocalProcessDeployer().sweep()
	assert not list(run_dir().glob("engine-*.json"))


def test_gpu_engines_get_their_own_gpus(tmp_path: Path) -> None:
	"""Parallel GPU experiments in local mode: each engine holds world-size GPUs and sees only those
	(CUDA_VISIBLE_DEVICES). No GPU here: the allocator is given a stand-in GPU list (as in tests/test_gpus.py);
	the engine is a real process that reports the variable at its health URL."""
	from inference_autotuner.deploy.ports import free_port
	from inference_autotuner.gpus import GPU, GPUAllocator

	gpus = [GPU(i, f"GPU-fake-{i}", "NVIDIA H100 80GB HBM3", 80 * 2**30) for i in range(3)]
	allocator = GPUAllocator(lambda: gpus, lock_dir=tmp_path / "locks", poll=0.05)
	dep = LocalProcessDeployer(records=tmp_path, gpus=True, allocator=allocator, gpu_wait=0.2)
	server = (
		"import http.server, os, sys\n"
		"class H(http.server.BaseHTTPRequestHandler):\n"
		"    def do_GET(self):\n"
		"        body = os.environ.get('CUDA_VISIBLE_DEVICES', '').encode()\n"
		"        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
		"http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
	)
	started = []
	try:
		for world, name in ((2, "a"), (1, "b")):
			port = free_port()
			started.append(
				dep.start(
					Launch(
						argv=[sys.executable, "-c", server, str(port)],
						port=port,
						health_path="/health",
						env={},
						labels={},
						world_size=world,
						gpus=world,
					),
					log_path=tmp_path / f"{name}.log",
					timeout=30,
				)
			)
		seen = [httpx.get(d.base_url + "/health", timeout=5).text for d in started]
		assert seen == ["0,1", "2"]
		assert started[0].info["gpu_info"]["ids"] == [0, 1]
		port = free_port()
		with pytest.raises(EngineStartError, match="out of GPUs"):  # all three held: the next one waits, then fails
			dep.start(
				Launch(
					argv=[sys.executable, "-c", server, str(port)],
					port=port,
					health_path="/health",
					env={},
					labels={},
					world_size=1,
					gpus=1,
				),
				log_path=tmp_path / "c.log",
				timeout=30,
			)
	finally:
		for d in started:
			dep.stop(d)
	assert len(allocator.free()) == 3, "stop gives the GPUs back"
