"""Workloads through the runner on the real llama.cpp engine: a sessions sweep over concurrency levels, and the
max-load search scaling a trace's speed (docs/workloads.md)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from inference_autotuner.bench.datafiles import WORKLOAD_DIRS_ENV
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.engines import get_engine
from inference_autotuner.runner.events import LoadSearchFinished, RunStarted, TaskEvent
from inference_autotuner.runner.experiment import Outcome, run_experiment
from inference_autotuner.services.validate import parse_spec

pytestmark = pytest.mark.engine
SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "workloads"


@pytest.fixture(autouse=True)
def samples(monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(SAMPLES))


def experiment(model: Path, tmp_path: Path, benchmark: dict, slo: dict | None = None) -> tuple[Outcome, list]:
	data: dict[str, Any] = {
		"task_name": "workload-test",
		"model": {"id_or_path": str(model)},
		"base_runtime": "llama.cpp",
		"optimization": {"objective": "maximize_goodput", "timeout_per_iteration": 300},
		"benchmark": {"max_time_per_iteration": 60, "warmup_requests": 1, **benchmark},
	}
	if slo:
		data["slo"] = slo
	events: list[TaskEvent] = []
	out = run_experiment(
		spec=parse_spec(data),
		engine=get_engine("llamacpp"),
		deployer=LocalProcessDeployer(),
		model_path=model,
		params={"parallel": 2, "threads": 1, "ctx-size": 2048},
		log_path=tmp_path / "exp.log",
		cancel=threading.Event(),
		emit=events.append,
		number=1,
	)
	return out, events


def test_a_sessions_sweep_labels_every_run_with_its_workload(model_path: Path, tmp_path: Path) -> None:
	bench = {
		"endpoint": "chat",
		"num_concurrency": [1, 2],
		"max_requests_per_iteration": 4,
		"precision": None,
		"dataset": {"path": "chat.json", "max_output_tokens": 6},
		"sessions": {"turns": 2},
	}
	out, events = experiment(model_path, tmp_path, bench, slo={"ttft": {"threshold": 30.0}})
	assert out.status == "success", out.reason
	assert [r.concurrency for r in out.runs] == [1, 2]
	for r in out.runs:
		assert r.scenario == "sessions(dataset(chat.json),turns=2)" and r.completed == 4
		assert r.workload_sha256 is not None and len(r.workload_sha256) == 64
		assert r.cached_share is not None and r.warm_start is False  # a session's 2nd turn reuses its 1st
	started = [e for e in events if isinstance(e, RunStarted)]
	assert [e.scenario for e in started] == ["sessions(dataset(chat.json),turns=2)"] * 2


def test_max_load_search_scales_a_traces_speed(model_path: Path, tmp_path: Path) -> None:
	bench = {
		"max_requests_per_iteration": 12,
		"precision": None,
		"trace": {"path": "trace_azure.csv", "window_s": 12},
		"load_search": {"mode": "speedup", "start": 1, "limit": 64, "tolerance": 2, "max_probes": 4},
	}
	out, events = experiment(model_path, tmp_path, bench, slo={"ttft": {"threshold": 30.0}})
	assert out.status == "success", out.reason
	speeds = [r.speedup for r in out.runs]
	assert speeds[0] == 1 and len(set(speeds)) == len(speeds) and all(s is not None for s in speeds)
	for r in out.runs:
		assert r.scenario == "trace(trace_azure.csv)" and r.concurrency is None and r.request_rate is not None
	faster = sorted(out.runs, key=lambda r: r.speedup or 0)
	assert faster[-1].request_rate > faster[0].request_rate  # type: ignore[operator]
	finished = [e for e in events if isinstance(e, LoadSearchFinished)]
	assert finished and finished[0].mode == "speedup" and finished[0].probes == speeds
