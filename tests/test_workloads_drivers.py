"""Workloads through the external load tools: AIPerf gets datasets and traces as its mooncake_trace input file (and
replays a trace at its times); the others refuse a workload with one line (docs/workloads.md)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from inference_autotuner.bench.datafiles import WORKLOAD_DIRS_ENV
from inference_autotuner.bench.drivers import aiperf as ap
from inference_autotuner.bench.drivers import get_driver
from inference_autotuner.bench.drivers.aiperf_input import INPUT
from inference_autotuner.bench.drivers.tokenizer import resolve_tokenizer
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.workload import check_workload, scenarios_for
from inference_autotuner.errors import BenchmarkError
from inference_autotuner.spec.models import BenchmarkSpec

SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "workloads"


@pytest.fixture(autouse=True)
def samples(monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(SAMPLES))


def _req(url: str, b: BenchmarkSpec, workdir: Path, tok: str | None = "tok", **kw: object) -> RunRequest:
	(scenario,) = scenarios_for(b)
	return RunRequest(
		url, scenario=scenario, concurrency=2, max_requests=4, max_duration_s=60, endpoint="chat", tokenizer_dir=tok,
		workdir=workdir, model="smollm2", **kw,  # type: ignore[arg-type]
	)  # fmt: skip


def test_which_driver_sends_which_workload() -> None:
	kinds = {
		"dataset": BenchmarkSpec(dataset={"path": "chat.json"}),
		"sessions": BenchmarkSpec(sessions={"turns": 2}),
		"shared_prefix": BenchmarkSpec(shared_prefix={}),
		"trace": BenchmarkSpec(trace={"path": "trace_azure.csv"}),
	}
	sends = {"builtin": set(kinds), "aiperf": {"dataset", "trace"}, "genai-bench": set(), "guidellm": set()}
	for name, ok in sends.items():
		for kind, b in kinds.items():
			if kind in ok:
				check_workload(b, get_driver(name))
			else:
				with pytest.raises(BenchmarkError, match=f"'{name}' cannot send a {kind} workload"):
					check_workload(b, get_driver(name))


def test_aiperf_argv_for_a_trace(tmp_path: Path) -> None:
	b = BenchmarkSpec(trace={"path": "trace_mooncake.jsonl", "format": "mooncake", "block_tokens": 64})
	argv = ap.build_argv("aiperf", _req("http://h:1", b, tmp_path), tmp_path / "art", tmp_path / INPUT)
	at = argv.index("--custom-dataset-type")
	assert argv[at + 1] == "mooncake_trace" and "--fixed-schedule" in argv and "--concurrency" not in argv
	assert argv[argv.index("--prompt-input-tokens-block-size") + 1] == "64"
	assert "--prompt-input-tokens-mean" not in argv


@pytest.mark.engine
def test_aiperf_sends_a_dataset_and_replays_a_trace(llama_server: str, model_path: Path, tmp_path: Path) -> None:
	driver = get_driver("aiperf")
	if (why := driver.missing()) is not None:
		if "aiperf" in os.environ.get("AUTOTUNER_TEST_DRIVERS", ""):
			pytest.fail(why)
		pytest.skip(why)
	tok = resolve_tokenizer(None, model_path, tmp_path / "tok")
	ds = BenchmarkSpec(dataset={"path": "chat.json", "sample": 4, "max_output_tokens": 6})
	m = asyncio.run(driver.run(_req(llama_server, ds, tmp_path / "ds", tok)))
	assert m.completed == 4 and m.errored == 0, m.errors
	assert m.workload == "dataset(chat.json)" and m.workload_sha256 is not None
	sent = [json.loads(x) for x in (tmp_path / "ds" / INPUT).read_text().splitlines()]
	assert m.output_tokens == sum(x["output_length"] for x in sent)  # the replies' counted lengths
	assert all(x["messages"][-1]["role"] == "user" for x in sent)

	tr = BenchmarkSpec(trace={"path": "trace_azure.csv", "speedup": 4.0})
	t = asyncio.run(driver.run(_req(llama_server, tr, tmp_path / "tr", tok)))
	assert t.completed == 4 and t.errored == 0, t.errors
	assert t.speedup == 4.0 and t.concurrency is None and t.workload == "trace(trace_azure.csv)"
	lines = [json.loads(x) for x in (tmp_path / "tr" / INPUT).read_text().splitlines()]
	assert lines[0]["timestamp"] == 0 and [x["input_length"] for x in lines] == [204, 50, 72, 43]
	assert lines[1]["timestamp"] == pytest.approx(225.256 / 4.0, abs=0.01)  # recorded gaps (ms) / speedup
