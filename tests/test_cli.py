"""The CLI as a user meets it: bad input gives one clear message and an exit code, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args],
		capture_output=True,
		text=True,
		timeout=timeout,
		cwd=REPO,
	)


def spec_file(tmp_path: Path, **over) -> Path:  # type: ignore[no-untyped-def]
	spec = {
		"task_name": "cli-test",
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": 2},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 1,
			"timeout_per_iteration": 60,
		},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [2], "max_requests_per_iteration": 4},
	}
	spec.update(over)
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	return path


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
	assert "Traceback" not in p.stderr + p.stdout, p.stderr


def test_help_for_every_command() -> None:
	for cmd in (
		[],
		["tune"],
		["resume"],
		["list"],
		["show"],
		["best"],
		["export"],
		["validate"],
		["models", "pull"],
		["engines"],
		["delete"],
	):
		p = run(*cmd, "--help")
		assert p.returncode == 0, (cmd, p.stderr)
		assert "Usage" in p.stdout


def test_validate_ok(tmp_path: Path) -> None:
	p = run("validate", str(REPO / "examples" / "quickstart.yaml"))
	assert p.returncode == 0, p.stderr
	assert "ok" in p.stdout and "48 configuration(s)" in p.stdout


def test_validate_malformed_spec(tmp_path: Path) -> None:
	bad = tmp_path / "bad.yaml"
	bad.write_text("task_name: x\nparameters: {threads: [1, 2]\n")
	p = run("validate", str(bad))
	assert p.returncode == 2
	assert "not valid YAML" in p.stderr and "line" in p.stderr
	no_traceback(p)


def test_validate_unknown_flag_names_the_closest(tmp_path: Path) -> None:
	p = run("validate", str(spec_file(tmp_path, parameters={"paralel": [1, 4]})))
	assert p.returncode == 2
	assert "parameters.paralel" in p.stderr and "did you mean 'parallel'?" in p.stderr
	no_traceback(p)


def test_tune_invalid_spec_exits_2(tmp_path: Path) -> None:
	p = run(
		"tune",
		str(
			spec_file(
				tmp_path,
				optimization={"baseline": False, "repeat_top_k": 0, "warm_start": False, "objective": "fastest"},
			)
		),
	)
	assert p.returncode == 2
	assert "optimization.objective" in p.stderr
	no_traceback(p)


def test_missing_spec_file(tmp_path: Path) -> None:
	p = run("validate", str(tmp_path / "nope.yaml"))
	assert p.returncode == 2 and "not found" in p.stderr
	no_traceback(p)


def test_missing_model_file(tmp_path: Path) -> None:
	p = run("tune", str(spec_file(tmp_path, model={"id_or_path": str(tmp_path / "missing.gguf")})))
	assert p.returncode == 2
	assert "missing.gguf" in p.stderr and "not found" in p.stderr
	no_traceback(p)


def test_unknown_task(tmp_path: Path) -> None:
	for cmd in ("show", "best", "resume", "export"):
		p = run(cmd, "no-such-task")
		assert p.returncode == 2, cmd
		assert "no task named" in p.stderr
		no_traceback(p)


@pytest.mark.engine
def test_port_in_use(tmp_path: Path, model_path: Path) -> None:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		s.listen()
		port = s.getsockname()[1]
		p = run("tune", str(spec_file(tmp_path, model={"id_or_path": str(model_path)}, engine_port=port)))
	no_traceback(p)
	assert p.returncode == 1
	assert f"port {port} is already in use" in p.stderr
	show = run("show", "cli-test", "--format", "json")
	assert json.loads(show.stdout)["experiments"] == [], "nothing is launched on a taken port"


def test_delete_refuses_a_running_task_and_force_deletes_one_whose_tuner_is_gone(data_dir: Path) -> None:
	"""`autotuner delete` once removed a running task (its tuner and engine kept going); now it behaves as the API's
	DELETE (refused while queued/running), and --force deletes one left `running` by a tuner killed with -9."""
	from inference_autotuner.runner.task import get_or_create_task
	from inference_autotuner.services.validate import parse_spec
	from inference_autotuner.store import Store, Task, TaskStatus

	store = Store()
	spec = parse_spec(
		{"task_name": "left-running", "model": {"id_or_path": "smollm2"}, "parameters": {"parallel": [1]}}
	)
	task_id = get_or_create_task(store, spec)
	with store.session() as s:
		row = s.get(Task, task_id)
		assert row is not None
		row.status = TaskStatus.RUNNING
	p = run("delete", "left-running", "-y")
	assert p.returncode != 0 and "running" in p.stderr and "--force" in p.stderr and "Traceback" not in p.stderr
	with store.session() as s:
		assert s.get(Task, task_id) is not None, "a refused delete removes nothing"
	p = run("delete", "left-running", "-y", "--force")
	assert p.returncode == 0, p.stderr
	with store.session() as s:
		assert s.get(Task, task_id) is None
