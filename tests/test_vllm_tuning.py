"""A real vLLM tuning on this CPU: examples/vllm-cpu-smollm2.yaml, cut to 3 short experiments, killed with -9 while
the second experiment's engine is starting, resumed by running the same command again. The task ends with 3
measured experiments, the engine's own figures beside the client's, an engine log per experiment, and no vLLM process
(API server, EngineCore, workers) left.

Needs the vLLM CPU build (`make .tools/vllm/.installed`, AUTOTUNER_TOOLS_DIR=.tools; `make test` does both). About
4 engine starts of 40-120 s each on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from sqlalchemy import create_engine, text

from inference_autotuner.engines import get_engine
from inference_autotuner.paths import data_dir, run_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.engine, pytest.mark.slow]


def engine_processes() -> list[psutil.Process]:
	"""Live processes this test's tuner started (they inherit its AUTOTUNER_DATA_DIR), the tuner itself excepted."""
	here = str(data_dir())
	found = []
	for p in psutil.process_iter(["pid", "status", "cmdline"]):
		try:
			if p.info["status"] == psutil.STATUS_ZOMBIE or "inference_autotuner.cli" in " ".join(
				p.info["cmdline"] or []
			):
				continue
			if p.environ().get("AUTOTUNER_DATA_DIR") == here and p.environ().get("AUTOTUNER_ENGINE_TAG"):
				found.append(p)
		except psutil.Error:
			continue
	return found


def test_real_vllm_tuning_killed_and_resumed(tmp_path: Path, model_path: Path) -> None:
	if get_engine("vllm").python() is None:  # type: ignore[attr-defined]
		pytest.skip("vLLM is not installed: make .tools/vllm/.installed (and AUTOTUNER_TOOLS_DIR=.tools)")
	spec = yaml.safe_load((REPO / "examples" / "vllm-cpu-smollm2.yaml").read_text())
	spec["task_name"] = "vllm-ci"
	spec["parameters"]["max-num-seqs"] = [1, 4]
	spec["parameters"]["enable-prefix-caching"] = [True]  # so every experiment reports prefix-cache lookups
	assert spec["parameters"]["env:VLLM_CPU_KVCACHE_SPACE"] == [1, 2]
	spec["optimization"].update(
		{"max_iterations": 3, "n_initial_random": 2, "baseline": False, "repeat_top_k": 0, "warm_start": False}
	)
	spec["benchmark"].update(
		{"traffic_scenarios": ["D(32,16)"], "num_concurrency": [4], "max_requests_per_iteration": 8}
	)
	spec["benchmark"]["warmup_requests"] = 1
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec))
	cmd = [sys.executable, "-m", "inference_autotuner.cli", "tune", str(path)]
	db = create_engine(f"sqlite:///{data_dir() / 'autotuner.db'}")

	# run until experiment 2's engine is starting (experiment 1 measured), then kill -9 the tuner
	proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
	deadline = time.monotonic() + 600
	rows: list = []  # type: ignore[type-arg]
	while time.monotonic() < deadline:
		try:
			with db.connect() as c:
				rows = list(c.execute(text("select number, status from experiments order by number")).all())
		except Exception:  # the tuner may not have created the tables yet
			rows = []
		started = [p for p in engine_processes() if "api_server" in " ".join(p.cmdline())]
		if len(rows) == 2 and rows[0][1] == "success" and rows[1][1] == "running" and started:
			break
		assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
		time.sleep(0.5)
	else:
		proc.kill()
		pytest.fail(f"experiment 2 never started: {rows}")
	time.sleep(5)  # inside vLLM's start-up: API server up, EngineCore being spawned
	os.kill(proc.pid, signal.SIGKILL)
	proc.wait()

	again = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900)
	assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
	assert "Traceback" not in again.stderr
	with db.connect() as c:
		rows = list(c.execute(text("select number, status, params_key, runs, failure_reason from experiments")).all())
		task_status = c.execute(text("select status from tasks")).scalar()
	assert task_status == "completed"
	assert [r[0] for r in rows] == [1, 2, 3] and all(r[1] == "success" for r in rows), [r[:2] + r[4:] for r in rows]
	assert len({r[2] for r in rows}) == 3

	# the engine's own figures beside the client's
	rates = []
	for row in rows:
		figures = json.loads(row[3])[0]["engine_metrics"]
		assert figures["engine"] == "vllm" and figures["samples"] >= 2
		assert figures["kv_cache_usage_max"] > 0 and figures["running_max"] >= 1
		assert figures["generation_tokens"] > 0 and figures["preemptions"] is not None
		rates.append(figures["prefix_cache_hit_rate"])  # None only when prefix caching is off (no lookups)
	assert all(r is not None and 0 <= r <= 1 for r in rates), rates

	# an engine log per experiment, with vLLM's own lines; the killed experiment's holds both of its starts
	logs = {p.name: p.read_text(errors="replace") for p in data_dir().rglob("experiment_*.log")}
	assert len(logs) == 3 and all("vllm" in text.lower() for text in logs.values()), sorted(logs)
	with db.connect() as c:
		found = c.execute(text("select number, params, launch_command from experiments")).all()
	for number, value, command in found:  # env:VLLM_CPU_KVCACHE_SPACE reached the engine's environment
		space = json.loads(value)["env:VLLM_CPU_KVCACHE_SPACE"]
		assert f"Explicitly set ({float(space)}/" in logs[f"experiment_{number}.log"]
		assert command.startswith(f"VLLM_CPU_KVCACHE_SPACE={space} vllm serve "), command
	assert sum(line.startswith("$ ") for line in logs["experiment_2.log"].splitlines()) == 2

	time.sleep(1.0)
	assert not engine_processes(), "no vLLM process (API server, EngineCore, worker) left"
	assert not list(run_dir().glob("engine-*.json"))
