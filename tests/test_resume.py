"""Crash safety: kill -9 the tuner during an experiment, run it again; the task ends exactly as if never killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import psutil
import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from inference_autotuner.paths import data_dir, run_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.engine, pytest.mark.slow]


def engine_pids() -> set[int]:
	"""Every llama.cpp server process this test's tuner started (engines inherit the test's data dir)."""
	found = set()
	mine = str(data_dir())
	for p in psutil.process_iter(["pid", "cmdline", "status"]):
		cmd = " ".join(p.info["cmdline"] or [])
		if "inference_autotuner.engines.llamacpp_server" in cmd and p.info["status"] != psutil.STATUS_ZOMBIE:
			try:
				if p.environ().get("AUTOTUNER_DATA_DIR") == mine:
					found.add(p.info["pid"])
			except psutil.Error:
				continue
	return found


def start_tuner_and_wait(
	spec: dict[str, Any], tmp_path: Path, query: str, ready: Callable[[list[Any]], bool], what: str
) -> tuple[list[str], Engine, subprocess.Popen[str], list[Any]]:
	"""Start `autotuner tune SPEC` in a subprocess; poll `query` until `ready(rows)` and an engine record exists.

	Returns the command (to run it again), the database, the process and the rows it was stopped at."""
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	cmd = [sys.executable, "-m", "inference_autotuner.cli", "tune", str(path)]
	db = create_engine(f"sqlite:///{data_dir() / 'autotuner.db'}")
	proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
	deadline = time.monotonic() + 240
	state: list[Any] = []
	while time.monotonic() < deadline:
		try:
			with db.connect() as c:
				state = list(c.execute(text(query)).all())
		except Exception:  # the tuner may not have created the tables yet
			state = []
		if ready(state) and list(run_dir().glob("engine-*.json")):
			return cmd, db, proc, state
		assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
		time.sleep(0.2)
	proc.kill()
	proc.wait()
	pytest.fail(f"{what} never started: {state}")


def test_kill_9_mid_experiment_then_resume(tmp_path: Path, model_path: Path) -> None:
	before = engine_pids()
	spec = {
		"task_name": "resume-test",
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2, 4], "threads": [1, 2]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "bayesian",
			"max_iterations": 3,
			"n_initial_random": 2,
			"seed": 7,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(32,16)"],
			"num_concurrency": [2],
			"max_requests_per_iteration": 8,
			"warmup_requests": 1,
		},
	}
	# wait until experiment 2 is under way (experiment 1 finished, 2 running), then kill -9
	cmd, db, proc, state = start_tuner_and_wait(
		spec,
		tmp_path,
		"select number, status from experiments order by number",
		lambda rows: len(rows) == 2 and rows[0][1] == "success" and rows[1][1] == "running",
		"experiment 2",
	)
	with db.connect() as c:
		first = c.execute(text("select params, score from experiments where number = 1")).one()
	os.kill(proc.pid, signal.SIGKILL)
	proc.wait()

	# run it again: the same command resumes the task of the same name
	again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
	assert again.returncode == 0, again.stderr
	assert "Traceback" not in again.stderr

	with db.connect() as c:
		rows = c.execute(
			text("select number, status, params_key, params, score from experiments order by number")
		).all()
	assert [r[0] for r in rows] == [1, 2, 3], "exactly max_iterations experiments"
	assert all(r[1] == "success" for r in rows), rows
	assert len({r[2] for r in rows}) == 3, "no parameter set measured twice"
	assert rows[0][3] == first[0] and rows[0][4] == first[1], "the finished experiment was kept, not re-run"

	study = optuna.load_study(study_name="autotuner-task-1", storage=f"sqlite:///{data_dir() / 'autotuner.db'}")
	complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
	failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
	assert len(failed) == 1, "the killed trial is marked failed"
	by_params = {json.dumps(json.loads(r[3]), sort_keys=True): r[4] for r in rows}
	assert json.dumps(failed[0].params, sort_keys=True) == json.dumps(json.loads(rows[1][3]), sort_keys=True), (
		"the interrupted experiment re-ran with the same parameters"
	)
	assert complete[0].value == rows[0][4], "old scores are kept in the study, not re-sampled"
	# a proposal of an already measured configuration is answered with its stored score, never measured again
	for t in complete:
		assert t.value == by_params[json.dumps(t.params, sort_keys=True)]
	assert {json.dumps(t.params, sort_keys=True) for t in complete} == set(by_params)

	time.sleep(0.5)
	assert engine_pids() - before == set(), "no engine process left"
	assert not list(run_dir().glob("engine-*.json"))


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path, model_path: Path) -> None:
	before = engine_pids()
	spec = {
		"task_name": "ctrl-c-test",
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2]},
		"optimization": {
			"baseline": False,
			"repeat_top_k": 0,
			"warm_start": False,
			"strategy": "grid_search",
			"max_iterations": 2,
			"timeout_per_iteration": 120,
		},
		"benchmark": {
			"traffic_scenarios": ["D(32,64)"],
			"num_concurrency": [1],
			"max_requests_per_iteration": 30,
			"warmup_requests": 0,
		},
	}
	_, db, proc, _ = start_tuner_and_wait(
		spec, tmp_path, "select status from experiments", lambda rows: rows == [("running",)], "the experiment"
	)
	time.sleep(2.0)  # inside the load run
	proc.send_signal(signal.SIGINT)
	_, err = proc.communicate(timeout=60)
	assert proc.returncode == 130, err
	assert "Traceback" not in err
	assert "autotuner resume ctrl-c-test" in err
	with db.connect() as c:
		assert c.execute(text("select status from tasks")).scalar() == "interrupted"
		assert c.execute(text("select status from experiments")).all() == [("interrupted",)]
	assert engine_pids() - before == set(), "the engine was stopped on Ctrl-C"
	again = subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", "resume", "ctrl-c-test"],
		capture_output=True,
		text=True,
		cwd=REPO,
		timeout=600,
	)
	assert again.returncode == 0, again.stderr
	with db.connect() as c:
		rows = c.execute(text("select number, status from experiments order by number")).all()
		assert c.execute(text("select status from tasks")).scalar() == "completed"
	assert rows == [(1, "success"), (2, "success")]
	assert engine_pids() - before == set()


def test_kill_9_during_the_repeats_then_resume(tmp_path: Path, model_path: Path) -> None:
	"""Baseline, search and repeats survive a kill -9 in the repeat phase: the killed repeat is measured again in
	its own row, nothing finished is measured twice, and no engine is left."""
	before = engine_pids()
	spec = {
		"task_name": "resume-repeats",
		"model": {"id_or_path": str(model_path)},
		"base_runtime": "llama.cpp",
		"parameters": {"parallel": [1, 2], "threads": [1]},
		"optimization": {
			"strategy": "grid_search",
			"max_iterations": 2,
			"repeat_top_k": 1,
			"repeats": 1,
			"noise_runs": 1,  # the baseline once at the start, as this test counts rows
			"warm_start": False,
			"timeout_per_iteration": 120,
		},
		"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [2], "max_requests_per_iteration": 6},
	}
	cmd, db, proc, state = start_tuner_and_wait(
		spec,
		tmp_path,
		"select number, origin, status from experiments order by number",
		lambda rows: any(r[1] == "repeat" and r[2] == "running" for r in rows),
		"a repeat",
	)
	killed = next(r[0] for r in state if r[1] == "repeat" and r[2] == "running")
	with db.connect() as c:
		finished = c.execute(text("select number, score from experiments where status = 'success'")).all()
	os.kill(proc.pid, signal.SIGKILL)
	proc.wait()

	again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
	assert again.returncode == 0, again.stderr
	with db.connect() as c:
		rows = c.execute(
			text("select number, origin, status, params_key, score from experiments order by number")
		).all()
	assert [r[1] for r in rows[:3]] == ["baseline", "search", "search"]
	assert len(rows) == 5 and [r[1] for r in rows[3:]] == ["repeat", "repeat"], rows
	assert all(r[2] == "success" for r in rows), rows
	assert killed in {r[0] for r in rows}, "the killed repeat was measured again in its own row"
	by_number = {r[0]: r[4] for r in rows}
	assert all(by_number[n] == score for n, score in finished), "finished experiments were kept, not re-run"
	keys = [r[3] for r in rows]
	assert keys.count(rows[0][3]) == 2, "the baseline is measured twice (once + one repeat)"
	time.sleep(0.5)
	assert engine_pids() - before == set(), "no engine process left"
