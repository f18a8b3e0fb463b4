"""The quality guardrail on the real llama.cpp engine and the demo model: KV-cache types probed against f16, and a
short real tuning where the quantized configuration fails the guardrail and is never recommended."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from inference_autotuner.cli import app
from inference_autotuner.deploy.base import Launch
from inference_autotuner.deploy.local import LocalProcessDeployer
from inference_autotuner.deploy.ports import free_port
from inference_autotuner.engines import get_engine
from inference_autotuner.errors import AutotunerError
from inference_autotuner.quality import QualityGuard, compare
from inference_autotuner.runner.events import LogMessage, TaskEvent
from inference_autotuner.runner.task import TaskRunner, get_or_create_task
from inference_autotuner.services.summary import task_summary
from inference_autotuner.services.validate import parse_spec
from inference_autotuner.spec.quality import QualitySpec
from inference_autotuner.store import Experiment, Store

BASE = {"parallel": 2, "threads": 2, "ctx-size": 2048, "flash-attn": "on"}


@contextmanager
def serve(model_path: Path, tmp_path: Path, **flags: Any) -> Iterator[str]:
	engine, deployer, port = get_engine("llamacpp"), LocalProcessDeployer(), free_port()
	launch = Launch(
		argv=engine.launch_argv(str(model_path), {**BASE, **flags}, host="127.0.0.1", port=port),
		port=port,
		health_path=engine.health_path,
		labels={"test": "quality"},
	)
	dep = deployer.start(launch, log_path=tmp_path / f"engine-{port}.log", timeout=60)
	try:
		yield dep.base_url
	finally:
		deployer.stop(dep)


def guard(model_path: Path, q: QualitySpec) -> QualityGuard:
	spec = parse_spec({"task_name": "q", "model": {"id_or_path": str(model_path)}, "base_runtime": "llama.cpp"})
	defaults = {name: f.default for name, f in get_engine("llamacpp").catalogue().items()}
	return QualityGuard(
		spec,
		q,
		task_id=1,
		engine="llamacpp",
		reference_params={},
		reference_flags={},
		model=str(model_path),
		defaults=defaults,
	)


def test_kv_cache_types_against_f16(model_path: Path, tmp_path: Path) -> None:
	g = guard(model_path, QualitySpec(prompts=4, max_tokens=16, eval={"path": "builtin", "limit": 6, "max_tokens": 8}))
	probes = {}
	for cache in ("f16", "q8_0", "q4_0"):
		with serve(model_path, tmp_path, **{"cache-type-k": cache, "cache-type-v": cache}) as url:
			probes[cache] = g.probe(url)
	ref = probes["f16"]
	assert len(ref.completions) == 4 and all(len(c.positions) > 0 for c in ref.completions)
	assert all(len(p.top) == 10 for c in ref.completions for p in c.positions)
	assert ref.eval_items == 6 and ref.accuracy is not None
	same = compare(ref.completions, ref.completions)
	assert (same.top1, same.kl, same.exact) == (1.0, 0.0, 1.0)
	q8, q4 = compare(ref.completions, probes["q8_0"].completions), compare(ref.completions, probes["q4_0"].completions)
	assert q8.kl is not None and q4.kl is not None and q8.kl > 0 and q4.kl > 0, "a quantized KV cache changes outputs"
	assert q4.kl > q8.kl, (q8, q4)


def test_configurations_that_differ_only_in_slots_and_threads_share_one_probe(model_path: Path, tmp_path: Path) -> None:
	"""Why sharing is sound on llama.cpp: probes of one KV-cache type with other slots and threads are identical on
	the real engine; and the guard then probes once (a second configuration sends no request: its engine is gone)."""
	g = guard(model_path, QualitySpec(prompts=3, max_tokens=12))
	one = {"parallel": 1, "threads": 1, "cache-type-k": "q4_0"}
	four = {"parallel": 4, "threads": 2, "batch-size": 256, "ubatch-size": 128, "cache-type-k": "q4_0"}
	with serve(model_path, tmp_path, **one) as url:
		a = g.probe(url)
	with serve(model_path, tmp_path, **four) as url:
		b = g.probe(url)
	same = compare(a.completions, b.completions)
	assert (same.top1, same.kl, same.exact) == (1.0, 0.0, 1.0), "slots, threads and batch sizes changed an answer"
	assert g.key_of({**BASE, **one}) == g.key_of({**BASE, **four})
	assert g.key_of({**BASE, **one}) != g.key_of({**BASE, **one, "cache-type-k": "q8_0"})
	assert g.key_of({**BASE, **one}) != g.key_of({**BASE, **one, "flash-attn": "off"})  # kernels: probed apart
	assert g.key_of({**BASE, "cache-type-k": "f16"}) == g.key_of(BASE)  # f16 is llama-server's default K cache

	class Out:
		score = None

	first, second = Out(), Out()
	g.reference = a  # the reference: the one-slot configuration's probe
	with serve(model_path, tmp_path, **one) as url:
		g.collect(first, url, {**BASE, **one})
	g.collect(second, f"http://127.0.0.1:{free_port()}", {**BASE, **four})  # nothing listens: it must not ask
	figures, unknown, notes = g._pending[id(second)]
	assert not unknown and figures["quality_probe_seconds"] == 0.0
	assert figures["quality_top1"] == g._pending[id(first)][0]["quality_top1"]
	assert "parallel 1 -> 4" in notes[0] and "threads 1 -> 2" in notes[0], notes
	unshared = guard(model_path, QualitySpec(prompts=3, max_tokens=12, share_probes=False))
	assert unshared.key_of({**BASE, **one}) != unshared.key_of({**BASE, **four})


def test_a_quantized_v_cache_needs_flash_attention(model_path: Path, tmp_path: Path) -> None:
	with pytest.raises(AutotunerError), serve(model_path, tmp_path, **{"cache-type-v": "q4_0", "flash-attn": "off"}):
		pass


def test_a_tuning_never_recommends_the_configuration_that_fails_the_guardrail(model_path: Path) -> None:
	spec = parse_spec(
		{
			"task_name": "quality-guard",
			"model": {"id_or_path": str(model_path)},
			"base_runtime": "llama.cpp",
			"parameters": {**BASE, "cache-type-v": ["f16", "q4_0"]},
			"optimization": {
				"strategy": "grid_search",
				"max_iterations": 2,
				"noise_runs": 2,
				"repeats": 0,
				"repeat_top_k": 0,
				"warm_start": False,
				"objectives": ["maximize_throughput", "minimize_quality_kl"],
			},
			"benchmark": {"traffic_scenarios": ["D(16,8)"], "num_concurrency": [2], "max_requests_per_iteration": 6},
			"quality": {"max_kl": 1e-4, "min_top1_agreement": None, "prompts": 4, "max_tokens": 16},
		}
	)
	store = Store()
	task_id = get_or_create_task(store, spec)
	events: list[TaskEvent] = []
	TaskRunner(store, task_id, emit=events.append, cancel=threading.Event()).run()
	with store.session() as s:
		rows = s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)).all()
		s.expunge_all()
	assert rows[0].origin == "baseline" and rows[0].status == "success"
	assert rows[0].figures["quality_kl"] == 0.0 and rows[0].figures["quality_top1"] == 1.0  # it is the reference
	assert rows[1].params_key == rows[0].params_key and rows[1].figures["quality_kl"] == 0.0
	assert rows[1].figures["quality_probe_seconds"] == 0.0, "measured again: the first probe's figures, not a probe"
	quantized = [r for r in rows if r.params.get("cache-type-v") == "q4_0"]
	assert len(quantized) == 1
	for r in quantized:
		assert r.status == "infeasible", (r.params, r.status, r.failure_reason)
		assert r.failure_reason.startswith("quality: KL"), r.failure_reason
		assert r.figures["quality_kl"] > 1e-4 and r.objective_value is not None  # speed still shown
		assert r.figures["quality_probe_seconds"] > 0
	summary = task_summary(store, task_id)
	assert summary.recommended is not None
	assert summary.recommended.params.get("cache-type-v", "f16") == "f16"
	assert any("quality: " in e.message for e in events if isinstance(e, LogMessage))
	# shown: show (columns and the reason), best (the recommendation's quality line), export (the figures)
	show = CliRunner().invoke(app, ["show", "quality-guard"], env={"COLUMNS": "220"})
	assert show.exit_code == 0, show.stdout
	assert "top-1" in show.stdout and "KL" in show.stdout and "infeasible: quality: KL" in show.stdout
	best = CliRunner().invoke(app, ["best", "quality-guard"], env={"COLUMNS": "220"})
	assert best.exit_code == 0 and "quality vs reference: top-1 1.000, KL 0.0000 nats" in best.stdout, best.stdout
	export = CliRunner().invoke(app, ["export", "quality-guard", "--format", "csv"])
	assert export.exit_code == 0 and "quality_kl" in export.stdout.splitlines()[0], export.stdout[:300]
