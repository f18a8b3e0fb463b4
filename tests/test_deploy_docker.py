"""Docker deployment mode against a real Docker daemon and the real llama.cpp image built here (no registry).

The image is built once per session by scripts/build_llamacpp_image.sh (cached: a no-op when it is up to date).
Tests that need dockerd skip with a reason where it is not reachable; CI=true turns those skips into failures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from inference_autotuner.deploy import get_deployer
from inference_autotuner.deploy.base import Launch
from inference_autotuner.deploy.docker import DockerDeployer, connect, image_for
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.engines import get_engine
from inference_autotuner.errors import DeployError, EngineStartError
from inference_autotuner.gpus import GPU, GPUAllocator
from inference_autotuner.paths import data_dir

REPO = Path(__file__).resolve().parents[1]
IMAGE = "inference-autotuner/llamacpp:latest"
LABEL = "label=autotuner.managed=true"


def _client() -> Any:
	try:
		return connect(timeout=5)
	except DeployError as exc:
		pytest.skip(f"Docker daemon not reachable: {exc.message}")


@pytest.fixture
def image(docker_image: str) -> str:
	"""The llama.cpp engine image (tests/conftest.py builds it once per session)."""
	return docker_image


def ours(client: Any, **labels: str) -> list[Any]:
	filters = [f"autotuner.{k}={v}" for k, v in labels.items()] + ["autotuner.managed=true"]
	return client.containers.list(all=True, filters={"label": filters})


def spec(model_path: Path, name: str, **extra: Any) -> dict[str, Any]:
	data = {
		"task_name": name,
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"deployment_mode": "docker",
		"parameters": {"parallel": [1, 2, 4], "threads": [1, 2]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 3,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(32,16)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 6,
			"warmup_requests": 1,
		},
		"startup_timeout": 60,
	}
	data.update(extra)
	return data


def cli(*args: str) -> list[str]:
	return [sys.executable, "-m", "inference_autotuner.cli", *args]


# -- no daemon needed -----------------------------------------------------------------------------------------
def test_images_and_argv_for_the_container(model_path: Path) -> None:
	assert image_for("llamacpp") == IMAGE
	assert image_for("llamacpp", None, "dev") == "inference-autotuner/llamacpp:dev"
	assert image_for("vllm", "my/vllm", "v1") == "my/vllm:v1"
	assert image_for("vllm", "reg:5000/vllm:0.9") == "reg:5000/vllm:0.9"
	d = DockerDeployer("llamacpp", client=object())
	argv = d.container_argv(get_engine("llamacpp"), model_path, {"parallel": 2, "flash-attn": "on"}, port=8123)
	assert argv[:3] == ["llama-server", "--model", f"/models/{model_path.name}"]
	assert argv[3:] == ["--host", "127.0.0.1", "--port", "8123", "--parallel", "2", "--flash-attn", "on"]
	# the model file itself is mounted read-only (data of the launch, not kept on the deployer), never its folder
	assert d.container_mounts(model_path) == {str(model_path.resolve()): f"/models/{model_path.name}"}
	# GPU engines: the image's program, the model folder at /models/<name>, the tuned flags kept
	vllm = DockerDeployer("vllm", client=object())
	argv = vllm.container_argv(get_engine("vllm"), Path("/data/Qwen"), {"tensor-parallel-size": 2}, port=8000)
	assert argv == ["vllm", "serve", "/models/Qwen", "--host", "127.0.0.1", "--port", "8000"] + [
		"--tensor-parallel-size",
		"2",
	]
	sglang = DockerDeployer("sglang", client=object())
	argv = sglang.container_argv(get_engine("sglang"), Path("/data/Qwen"), {}, port=8000)
	assert argv[:5] == ["python3", "-m", "sglang.launch_server", "--model-path", "/models/Qwen"]
	assert vllm.ipc_mode == "host" and vllm.use_gpus and not d.use_gpus


def test_no_daemon_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_path: Path) -> None:
	monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
	with pytest.raises(DeployError, match="cannot reach the Docker daemon at unix://.*no-docker.sock"):
		connect(timeout=2)
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec(model_path, "no-daemon")))
	out = subprocess.run(cli("tune", str(path)), capture_output=True, text=True, cwd=REPO, timeout=120)
	said = " ".join(out.stderr.split())  # Rich wraps lines
	assert out.returncode != 0
	assert "cannot reach the Docker daemon" in said and "dockerd" in said and "Traceback" not in said


def test_unknown_mode_is_a_clear_error() -> None:
	class S:
		deployment_mode = "nowhere"

	with pytest.raises(DeployError, match="deployment_mode 'nowhere' is not available"):
		get_deployer(S())


# -- real Docker ----------------------------------------------------------------------------------------------
def test_image_missing_names_the_image_and_the_script(tmp_path: Path, model_path: Path) -> None:
	_client()
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec(model_path, "no-image", runtime_image_tag="no-such-tag")))
	out = subprocess.run(cli("tune", str(path)), capture_output=True, text=True, cwd=REPO, timeout=120)
	said = " ".join(out.stderr.split())  # Rich wraps lines
	assert out.returncode != 0
	assert "'inference-autotuner/llamacpp:no-such-tag' is not on this Docker host" in said
	assert "scripts/build_llamacpp_image.sh" in said and "Traceback" not in said
	with pytest.raises(DeployError, match="docker pull other/engine:1"):
		DockerDeployer("vllm", image="other/engine:1").preflight()


def _start(d: DockerDeployer, model: Path, tmp_path: Path, port: int | None = None, **labels: str):  # type: ignore[no-untyped-def]
	engine = get_engine("llamacpp")
	port = port or free_port()
	argv = d.container_argv(engine, model, {"parallel": 2, "threads": 1, "ctx-size": 2048}, port=port)
	launch = Launch(
		argv=argv,
		port=port,
		health_path=engine.health_path,
		env={"AUTOTUNER_TEST_ENV": "yes"},
		mounts=d.container_mounts(model),
		gpus=1 if d.use_gpus else 0,
		labels={"task": "t1", "experiment": "1", **labels},
	)
	return d.start(launch, log_path=tmp_path / "engine.log", timeout=60)


def test_container_early_exit_port_taken_and_sweep(image: str, model_path: Path, tmp_path: Path) -> None:
	client = _client()
	d = DockerDeployer("llamacpp", image=image)
	# a missing model: refused before any container starts (docker would create a folder at the host path)
	with pytest.raises(EngineStartError, match="the model is not at"):
		_start(d, tmp_path / "missing.gguf", tmp_path)
	assert not (tmp_path / "missing.gguf").exists() and not ours(client, task="t1")
	# early exit: the model file is no model
	bad = tmp_path / "bad.gguf"
	bad.write_bytes(b"not a gguf file\n" * 64)
	with pytest.raises(EngineStartError, match="container exited with code [1-9]") as info:
		_start(d, bad, tmp_path)
	assert "last log lines" in str(info.value)
	assert not ours(client, task="t1"), "the failed container was removed"
	assert (tmp_path / "engine.log").read_text().startswith("$ docker run"), "its log was saved"

	# port taken (host network): refused before any container starts
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		s.listen()
		port = s.getsockname()[1]
		with pytest.raises(EngineStartError, match=f"port {port} is already in use"):
			_start(d, model_path, tmp_path, port=port)

	# a running container: env passed, model mounted read-only, labels set
	dep = _start(d, model_path, tmp_path)
	c = dep.handle.container
	c.reload()
	assert "AUTOTUNER_TEST_ENV=yes" in c.attrs["Config"]["Env"]
	mount = c.attrs["Mounts"][0]
	# the model file itself, read-only, at /models/NAME (never its folder or a parent of it)
	assert mount["Destination"] == f"/models/{model_path.name}" and mount["RW"] is False
	assert mount["Source"] == str(model_path.resolve())
	assert c.labels["autotuner.task"] == "t1" and c.labels["autotuner.experiment"] == "1"
	assert dep.info["gpu_info"]["count"] == 0

	# sweep keeps a live tuner's containers, removes those of a dead one
	assert DockerDeployer("llamacpp", image=image).sweep() == 0, "another live tuner (this process) owns it"
	dead = subprocess.Popen(["true"])
	dead.wait()
	orphan_maker = DockerDeployer("llamacpp", image=image)
	orphan_maker.owner_pid = dead.pid  # as if started by a tuner that is gone
	orphan = _start(orphan_maker, model_path, tmp_path, experiment="2")
	assert DockerDeployer("llamacpp", image=image).sweep() == 1
	assert [x.name for x in ours(client, task="t1")] == [c.name]
	orphan.handle = None
	d.stop(dep)
	d.stop(dep)  # twice is harmless
	assert not ours(client, task="t1")
	assert "listening" in (tmp_path / "engine.log").read_text()


def test_gpu_request_reaches_docker_and_gpus_are_freed(image: str, model_path: Path, tmp_path: Path) -> None:
	"""No GPU here: a stand-in allocator hands out GPU 0; docker refuses it (no NVIDIA runtime), the error is clear
	and the GPU is released."""
	_client()
	fake = [GPU(0, "GPU-fake-0", "NVIDIA H100 80GB HBM3", 80 << 30)]
	allocator = GPUAllocator(lambda: fake, lock_dir=tmp_path / "locks")
	d = DockerDeployer("llamacpp", image=image, gpus=True, allocator=allocator, gpu_wait=0)
	with pytest.raises(EngineStartError, match="docker could not start the container") as info:
		_start(d, model_path, tmp_path)
	assert "NVIDIA container toolkit" in str(info.value)
	assert [x.index for x in allocator.free()] == [0], "the GPU was released"
	assert not ours(_client(), task="t1"), "the created, never started container was removed"


def test_tune_in_docker_kill_9_then_resume_sweeps_and_finishes(image: str, model_path: Path, tmp_path: Path) -> None:
	"""A 3-experiment tuning in containers; the tuner is killed -9 during experiment 2 (its container is orphaned),
	run again: the orphan is swept, the task finishes, every experiment succeeded, no container is left."""
	client = _client()
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec(model_path, "docker-tune")))
	cmd = cli("tune", str(path))
	db = create_engine(f"sqlite:///{data_dir() / 'autotuner.db'}")
	proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
	deadline = time.monotonic() + 300
	state: list = []
	while time.monotonic() < deadline:
		try:
			with db.connect() as c:
				state = c.execute(text("select number, status from experiments order by number")).all()
		except Exception:
			state = []
		if len(state) == 2 and state[0][1] == "success" and ours(client, experiment="2"):
			break
		assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
		time.sleep(0.3)
	else:
		pytest.fail(f"experiment 2 never started: {state}")
	os.kill(proc.pid, signal.SIGKILL)
	proc.wait()
	assert ours(client, experiment="2"), "the killed tuner left its container"

	again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
	assert again.returncode == 0, again.stderr
	with db.connect() as c:
		rows = c.execute(
			text("select number, status, log_path, gpu_info, launch_argv from experiments order by number")
		).all()
	assert [r[0] for r in rows] == [1, 2, 3] and all(r[1] == "success" for r in rows), rows
	for r in rows:
		log = Path(r[2]).read_text()
		assert log.startswith("$ docker run") and "listening" in log, "container logs saved per experiment"
		assert '"world_size": 1' in r[3] and '"count": 0' in r[3], "gpu_info recorded (no GPU here)"
		assert f"/models/{model_path.name}" in r[4]
	assert not ours(client), "no container of ours is left"


def test_sigint_stops_and_removes_the_container(image: str, model_path: Path, tmp_path: Path) -> None:
	client = _client()
	path = tmp_path / "spec.yaml"
	data = spec(model_path, "docker-sigint")
	data["benchmark"].update({"max_requests_per_iteration": 400, "max_time_per_iteration": 60})
	path.write_text(yaml.safe_dump(data))
	proc = subprocess.Popen(cli("tune", str(path)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
	deadline = time.monotonic() + 120
	while not ours(client) and time.monotonic() < deadline:
		assert proc.poll() is None
		time.sleep(0.2)
	time.sleep(3)  # engine up, load running
	proc.send_signal(signal.SIGINT)
	assert proc.wait(timeout=120) == 130
	assert not ours(client), "Ctrl-C stopped and removed the container"
