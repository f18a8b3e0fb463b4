"""The quality guardrail on the real vLLM (its CPU build) through `/v1/completions {logprobs}`: a tuning of
`kv-cache-dtype` (the baseline's `auto`, i.e. the model's bf16, against an fp8 KV cache) where the fp8 configuration
drifts past `max_kl`, is infeasible with a `quality: KL ...` reason and is never recommended, and the figures are
stored and shown (show, best).

Needs the vLLM CPU build (`make .tools/vllm/.installed`, AUTOTUNER_TOOLS_DIR=.tools) and a CPU with AVX-512 or AMX
(vLLM's CPU backend refuses an fp8 KV cache without them). Two engine starts of 40-120 s each on 2 cores.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from inference_autotuner.cli import app
from inference_autotuner.engines import get_engine
from inference_autotuner.runner.events import LogMessage, TaskEvent
from inference_autotuner.runner.task import TaskRunner, get_or_create_task
from inference_autotuner.services.summary import task_summary
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.store import Experiment, Store

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_a_vllm_tuning_probes_quality_and_never_recommends_an_fp8_kv_cache_past_the_guardrail() -> None:
	if get_engine("vllm").python() is None:  # type: ignore[attr-defined]
		pytest.skip("vLLM is not installed: make .tools/vllm/.installed (and AUTOTUNER_TOOLS_DIR=.tools)")
	if "avx512f" not in Path("/proc/cpuinfo").read_text() and "amx" not in Path("/proc/cpuinfo").read_text():
		# hardware, like a missing GPU: this CPU cannot run vLLM's fp8 KV cache at all, so there is nothing to probe;
		# an xfail (not a skip, which CI turns into a failure) says so in every run's report
		pytest.xfail("this CPU has neither AVX-512 nor AMX: vLLM's CPU backend refuses an fp8 KV cache")
	spec: dict[str, Any] = yaml.safe_load((REPO / "examples" / "vllm-cpu-smollm2.yaml").read_text())
	spec["task_name"] = "quality-vllm"
	spec["parameters"] = {"kv-cache-dtype": ["fp8", "fp8_e5m2"], "enforce-eager": True, "max-model-len": 512}
	spec["optimization"] = {
		"strategy": "grid_search",
		"max_iterations": 1,  # the baseline (auto: vLLM's default) and one fp8 KV cache
		"noise_runs": 1,
		"repeats": 0,
		"repeat_top_k": 0,
		"warm_start": False,
		"timeout_per_iteration": 120,
	}
	spec["benchmark"].update({"num_concurrency": [4], "max_requests_per_iteration": 8, "warmup_requests": 1})
	spec["quality"] = {"max_kl": 1e-4, "min_top1_agreement": None, "prompts": 4, "max_tokens": 16}
	spec.pop("slo")
	store = Store()
	task_id = get_or_create_task(store, parse_spec(spec))
	events: list[TaskEvent] = []
	TaskRunner(store, task_id, emit=events.append, cancel=threading.Event()).run()
	with store.session() as s:
		rows = s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)).all()
		s.expunge_all()
	assert [r.origin for r in rows] == ["baseline", "search"], [(r.origin, r.params) for r in rows]
	base, fp8 = rows
	assert "kv-cache-dtype" not in base.params and fp8.params["kv-cache-dtype"].startswith("fp8"), fp8.params
	assert base.status == "success", base.failure_reason
	assert (base.figures["quality_top1"], base.figures["quality_kl"], base.figures["quality_exact"]) == (1.0, 0.0, 1.0)
	assert base.figures["quality_probe_seconds"] > 0  # the reference: the baseline's own probe
	assert fp8.status == "infeasible", (fp8.status, fp8.failure_reason)
	assert fp8.failure_reason.startswith("quality: KL"), fp8.failure_reason
	assert fp8.figures["quality_kl"] > 1e-4 and 0 <= fp8.figures["quality_top1"] <= 1
	assert fp8.figures["quality_probe_seconds"] > 0 and fp8.objective_value is not None  # its speed still shown
	assert f"--kv-cache-dtype {fp8.params['kv-cache-dtype']}" in (fp8.launch_command or "")
	summary = task_summary(store, task_id)
	assert summary.recommended is not None and summary.recommended.experiment_id == base.id
	logged = [e.message for e in events if isinstance(e, LogMessage)]
	assert any(m.startswith("quality: ") and "FAILS" in m for m in logged), logged[-5:]
	print(  # the figures docs/quality.md records
		f"\nvLLM {fp8.params['kv-cache-dtype']} KV vs auto: top-1 {fp8.figures['quality_top1']:.4f}, KL {fp8.figures['quality_kl']:.5f}, "
		f"exact {fp8.figures['quality_exact']:.2f}; probe {base.figures['quality_probe_seconds']:.1f} s / "
		f"{fp8.figures['quality_probe_seconds']:.1f} s in experiments of {base.duration:.0f} s / {fp8.duration:.0f} s; "
		f"tokens/s {base.objective_value:.2f} / {fp8.objective_value:.2f}"
	)
	show = CliRunner().invoke(app, ["show", "quality-vllm"], env={"COLUMNS": "220"})
	assert show.exit_code == 0 and "infeasible: quality: KL" in show.stdout, show.stdout
	assert f"{fp8.figures['quality_top1']:.3f}" in show.stdout and "top-1" in show.stdout
	best = CliRunner().invoke(app, ["best", "quality-vllm"], env={"COLUMNS": "220"})
	assert best.exit_code == 0, best.stdout
	assert "best configuration (experiment 1)" in best.stdout
	assert "quality vs reference: top-1 1.000, KL 0.0000 nats, exact 1.000" in best.stdout, best.stdout
