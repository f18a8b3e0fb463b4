"""Real workloads (docs/workloads.md): sample files, spec fields, workload folders, file formats, and the built-in
client sending a dataset, sessions, shared prefixes and a trace to the real llama.cpp engine."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from inference_autotuner.bench.client import run_load
from inference_autotuner.bench.datafiles import WORKLOAD_DIRS_ENV, fetch, resolve, workload_dirs
from inference_autotuner.bench.metrics import RequestRecord, RunMetrics
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.workload import WorkloadScenario, load_workload, scenarios_for
from inference_autotuner.errors import BenchmarkError
from inference_autotuner.spec.models import BenchmarkSpec

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "examples" / "workloads"


def _make_workloads():  # type: ignore[no-untyped-def]
	spec = importlib.util.spec_from_file_location("make_workloads", REPO / "scripts" / "make_workloads.py")
	assert spec is not None and spec.loader is not None
	mod = importlib.util.module_from_spec(spec)
	sys.modules["make_workloads"] = mod
	spec.loader.exec_module(mod)
	return mod


@pytest.fixture
def samples(monkeypatch: pytest.MonkeyPatch) -> Path:
	"""The committed sample files as a workload folder (as an operator would set it)."""
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(SAMPLES))
	return SAMPLES


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
	d = tmp_path / "cache"
	monkeypatch.setenv("AUTOTUNER_CACHE_DIR", str(d))
	return d


# --- sample files ----------------------------------------------------------------------------------------------
def test_sample_files_are_made_by_the_script_and_reproducible(tmp_path: Path) -> None:
	mod = _make_workloads()
	first = mod.write_all(tmp_path / "a")
	again = mod.write_all(tmp_path / "b")
	for a, b in zip(first, again, strict=True):
		assert a.read_bytes() == b.read_bytes()
		assert (SAMPLES / a.name).read_bytes() == a.read_bytes(), f"{a.name}: run scripts/make_workloads.py"
	chat = json.loads((SAMPLES / "chat.json").read_text())
	turns = [sum(1 for m in c["conversations"] if m["from"] == "human") for c in chat]
	assert max(turns) >= 3 and min(turns) == 1  # multi-turn conversations, and single ones
	assert any(c["conversations"][0]["from"] == "system" for c in chat)
	lines = (SAMPLES / "trace_azure.csv").read_text().splitlines()
	assert lines[0] == "TIMESTAMP,ContextTokens,GeneratedTokens" and len(lines) == 121


# --- spec ------------------------------------------------------------------------------------------------------
def test_spec_fields_and_their_refusals() -> None:
	b = BenchmarkSpec(dataset={"path": "chat.json", "sample": 5, "seed": 3})
	assert b.workload_kind == "dataset" and b.dataset is not None and b.dataset.format == "sharegpt"
	assert BenchmarkSpec(dataset={"path": "chat.json"}, sessions={"turns": 2}).workload_kind == "sessions"
	assert BenchmarkSpec(sessions={"turns": 2}).workload_kind == "sessions"
	assert BenchmarkSpec(dataset_url="file:///x/chat.json").dataset is not None  # not a file
	bad = [
		({"dataset": {"path": "../etc/passwd"}}, "'..'"),
		({"dataset": {"path": "https://example.com/a.json"}}, "dataset_url"),
		({"dataset": {"path": "a.json"}, "trace": {"path": "t.csv"}}, "one workload at a time"),
		({"shared_prefix": {"groups": 2}, "sessions": {}}, "sessions go with a dataset"),
		({"trace": {"path": "t.csv"}, "request_rates": [1.0]}, "own arrival times"),
		({"trace": {"path": "t.csv"}, "load_search": {"mode": "rate"}}, "mode: speedup"),
		({"load_search": {"mode": "speedup"}}, "needs benchmark.trace"),
		({"dataset_url": "ftp://host/a.json"}, "file://, http:// or https://"),
		({"dataset": {"path": "a.json", "sha256": "abc"}}, "64 hex digits"),
		({"dataset": {"format": "jsonl"}}, "needs a path"),
		({"sessions": {}, "client_processes": 2}, "client_processes"),
	]
	for fields, words in bad:
		with pytest.raises(ValidationError, match=words):
			BenchmarkSpec(**fields)


# --- workload folders ------------------------------------------------------------------------------------------
def test_files_are_read_only_from_the_workload_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	outside = tmp_path / "outside.json"
	outside.write_text("[]")
	with pytest.raises(BenchmarkError, match="outside the workload folders"):
		resolve(str(outside))
	with pytest.raises(BenchmarkError, match="not found in the workload folders"):
		resolve("chat.json")
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(SAMPLES))
	assert resolve("chat.json") == (SAMPLES / "chat.json").resolve()
	assert resolve(str(SAMPLES / "chat.json")) == (SAMPLES / "chat.json").resolve()
	link = workload_dirs()[0] / "escape.json"  # a symlink inside a folder that points outside is refused
	link.symlink_to(outside)
	with pytest.raises(BenchmarkError, match="not found"):
		resolve("escape.json")


def test_dataset_url_is_fetched_once_with_its_checksum(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(SAMPLES))
	url = (SAMPLES / "prompts.jsonl").as_uri()
	import hashlib

	sha = hashlib.sha256((SAMPLES / "prompts.jsonl").read_bytes()).hexdigest()
	got = fetch(url, sha)
	assert cache in got.parents and got.read_bytes() == (SAMPLES / "prompts.jsonl").read_bytes()
	assert fetch(url) == got  # reused, not fetched again
	with pytest.raises(BenchmarkError, match="not the"):
		fetch(url, "0" * 64)
	with pytest.raises(BenchmarkError, match="outside the workload folders"):
		fetch("file:///etc/hostname")  # not a file
	with pytest.raises(BenchmarkError, match="fetching http://127.0.0.1:9/"):
		fetch("http://127.0.0.1:9/a.json")  # no network in tests: the http path fails with one clear line
	b = BenchmarkSpec(dataset_url=url, dataset={"format": "jsonl", "sample": 4})
	wl = load_workload(b)
	assert wl.sha256 == sha and len(wl.conversations) == 4


# --- formats ---------------------------------------------------------------------------------------------------
def test_formats_and_seeded_samples(samples: Path) -> None:
	b = BenchmarkSpec(dataset={"path": "chat.json", "sample": 6, "seed": 1})
	one, two = load_workload(b), load_workload(b)
	assert [c.turns[0].text for c in one.conversations] == [c.turns[0].text for c in two.conversations]
	other = load_workload(BenchmarkSpec(dataset={"path": "chat.json", "sample": 6, "seed": 2}))
	assert [c.turns[0].text for c in other.conversations] != [c.turns[0].text for c in one.conversations]
	assert one.label == "dataset(chat.json)" and one.sha256 is not None and len(one.sha256) == 64
	assert all(t.reply for c in one.conversations for t in c.turns)
	jl = load_workload(BenchmarkSpec(dataset={"path": "prompts.jsonl", "format": "jsonl"}))
	assert len(jl.conversations) == 120 and all(c.turns[0].output_tokens > 0 for c in jl.conversations)

	az = load_workload(BenchmarkSpec(trace={"path": "trace_azure.csv", "window_s": 10}))
	times = [c.at for c in az.conversations]
	assert times[0] == 0 and times == sorted(times) and max(times) < 10  # type: ignore[type-var,operator]
	mc = load_workload(BenchmarkSpec(trace={"path": "trace_mooncake.jsonl", "format": "mooncake", "block_tokens": 64}))
	ids = [c.blocks for c in mc.conversations]
	assert any(a[:1] == b[:1] for a, b in zip(ids, ids[1:], strict=False))  # shared leading blocks
	(scenario,) = scenarios_for(BenchmarkSpec(trace={"path": "trace_azure.csv"}))
	assert isinstance(scenario, WorkloadScenario) and str(scenario) == "trace(trace_azure.csv)"


def test_bad_files_give_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(tmp_path))
	(tmp_path / "a.json").write_text("{not json")
	(tmp_path / "b.jsonl").write_text('{"prompt": "hi"}\n')
	(tmp_path / "c.csv").write_text("time,in,out\n1,2,3\n")
	cases = [
		({"dataset": {"path": "a.json"}}, "not JSON"),
		({"dataset": {"path": "b.jsonl", "format": "jsonl"}}, "no output length"),
		({"trace": {"path": "c.csv"}}, "TIMESTAMP"),
		({"dataset": {"path": "a.json", "sha256": "0" * 64}}, "sha256"),
	]
	for fields, words in cases:
		with pytest.raises(BenchmarkError, match=words):
			load_workload(BenchmarkSpec(**fields))


# --- the built-in client on the real engine --------------------------------------------------------------------
def _run(url: str, b: BenchmarkSpec, records: list[RequestRecord], **kw: object) -> RunMetrics:
	(scenario,) = scenarios_for(b)
	args: dict[str, object] = dict(concurrency=1, max_requests=4, max_duration_s=120, endpoint="chat", seed=3)
	args.update(kw)
	return asyncio.run(run_load(RunRequest(url, scenario=scenario, **args), records=records))  # type: ignore[arg-type]


@pytest.mark.engine
def test_dataset_sends_the_same_requests_on_every_run(llama_server: str, samples: Path) -> None:
	b = BenchmarkSpec(dataset={"path": "chat.json", "sample": 4, "seed": 5, "max_output_tokens": 12, "salt": False})
	first: list[RequestRecord] = []
	m = _run(llama_server, b, first)
	assert (m.completed, m.errored) == (4, 0), m.errors
	assert m.workload == "dataset(chat.json)" and m.workload_sha256 == load_workload(b).sha256
	again: list[RequestRecord] = []
	_run(llama_server, b, again)
	assert [r.input_tokens for r in first] == [r.input_tokens for r in again]  # same prompts, same order
	assert [r.output_tokens for r in first] == [r.output_tokens for r in again]
	assert all(1 <= r.output_tokens <= 12 for r in first)  # the replies' lengths, counted and capped


@pytest.mark.engine
def test_cache_hygiene_a_run_never_starts_on_an_earlier_runs_cache(llama_server: str, samples: Path) -> None:
	"""llama.cpp keeps each slot's last prompt: the same dataset sent again starts on a warm cache (flagged); with
	the run salt (the default) it does not. Its usage says how much of each prompt was cached."""
	plain = BenchmarkSpec(dataset={"path": "chat.json", "sample": 2, "max_output_tokens": 4, "salt": False})
	_run(llama_server, plain, [], max_requests=2)
	again = _run(llama_server, plain, [], max_requests=2)
	assert again.warm_start is True and again.cached_share is not None and again.cached_share > 0.5
	assert again.audit is not None and any("warm prefix cache" in n for n in again.audit.notes)
	salted = BenchmarkSpec(dataset={"path": "chat.json", "sample": 2, "max_output_tokens": 4})
	first = _run(llama_server, salted, [], max_requests=2)
	second = _run(llama_server, salted, [], max_requests=2)
	assert first.warm_start is False and second.warm_start is False
	assert second.cached_share is not None and second.cached_share < 0.5


@pytest.mark.engine
def test_sessions_resend_their_history(llama_server: str, samples: Path) -> None:
	b = BenchmarkSpec(traffic_scenarios=["D(16,6)"], sessions={"turns": 3})
	records: list[RequestRecord] = []
	m = _run(llama_server, b, records, max_requests=6)
	assert (m.completed, m.errored) == (6, 0), m.errors
	assert m.workload == "sessions(D(16,6),turns=3)"
	for session in (records[:3], records[3:]):  # one session at a time: each turn carries the ones before
		sizes = [r.input_tokens for r in session]
		assert sizes[0] < sizes[1] < sizes[2]
		assert sizes[1] >= sizes[0] + 16  # the first turn (and its reply) came back
	chat = BenchmarkSpec(dataset={"path": "chat.json", "max_output_tokens": 8}, sessions={"turns": 2})
	m2 = _run(llama_server, chat, [], concurrency=2, max_requests=4)
	assert m2.completed == 4 and m2.workload == "sessions(dataset(chat.json),turns=2)"


@pytest.mark.engine
def test_shared_prefixes_hit_the_engines_prefix_cache(llama_server: str) -> None:
	b = BenchmarkSpec(shared_prefix={"groups": 1, "prefix_tokens": 96, "suffix_tokens": 8, "output_tokens": 4})
	records: list[RequestRecord] = []
	m = _run(llama_server, b, records, endpoint="completions")
	assert (m.completed, m.errored) == (4, 0), m.errors
	assert all(100 <= r.input_tokens <= 108 for r in records)  # prefix + own part (+ the joint)
	assert m.workload == "shared_prefix(1x96+8,4)"


@pytest.mark.engine
def test_a_trace_is_replayed_at_its_recorded_times(llama_server: str, samples: Path) -> None:
	b = BenchmarkSpec(trace={"path": "trace_azure.csv", "speedup": 4.0})
	wl = load_workload(b)
	records: list[RequestRecord] = []
	m = _run(llama_server, b, records, max_requests=5, endpoint="completions")
	assert m.completed + m.errored == 5 and m.speedup == 4.0 and m.concurrency is None
	sched = sorted(r.scheduled for r in records)
	due = [(c.at or 0.0) / 4.0 for c in wl.conversations[:5]]
	assert [s - sched[0] for s in sched] == pytest.approx(due, abs=1e-6)
	assert [r.input_tokens for r in sorted(records, key=lambda r: r.scheduled)] == [
		c.turns[0].input_tokens for c in wl.conversations[:5]
	]


def test_external_drivers_refuse_workloads_with_one_line(samples: Path) -> None:
	from inference_autotuner.bench.drivers import get_driver
	from inference_autotuner.bench.workload import check_workload

	b = BenchmarkSpec(dataset={"path": "chat.json"}, driver="guidellm")
	with pytest.raises(BenchmarkError, match="'guidellm' cannot send a dataset workload"):
		check_workload(b, get_driver("guidellm"))
	check_workload(b, get_driver("builtin"))
	shutil.rmtree(workload_dirs()[0])  # the folder is made again on use
	assert workload_dirs()[0].is_dir()


def test_the_provenance_workload_hash_covers_the_files_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
	from types import SimpleNamespace

	from inference_autotuner.provenance import workload_hash

	monkeypatch.setenv(WORKLOAD_DIRS_ENV, str(tmp_path))
	path = tmp_path / "p.jsonl"
	path.write_text('{"prompt": "hello", "output_tokens": 4}\n')
	spec = SimpleNamespace(benchmark=BenchmarkSpec(dataset={"path": "p.jsonl", "format": "jsonl"}), slo=None)
	before = workload_hash(spec)
	assert workload_hash(spec) == before
	path.write_text('{"prompt": "hello there", "output_tokens": 4}\n')
	assert workload_hash(spec) != before  # same spec, another file: another workload


@pytest.mark.engine
def test_llamacpp_refuses_a_slot_erase_without_slot_save_path(llama_server: str) -> None:
	"""The real llama.cpp server answers 501 to a slot erase unless started with --slot-save-path (a flag the tuner
	owns): the reset is recorded as not done and the prompts' salt keeps runs apart."""
	from inference_autotuner.bench.cache import reset_prefix_cache

	assert asyncio.run(reset_prefix_cache(llama_server, "llamacpp")) is False
	assert asyncio.run(reset_prefix_cache(llama_server, "trtllm")) is None  # not known: not tried


def test_vllm_and_sglang_reset_endpoints() -> None:
	"""vLLM and SGLang cannot run here (no GPU; vLLM's CPU build takes minutes to start): a stand-in HTTP server
	answers their reset endpoints as they do (200), and 404 to anything else."""
	from inference_autotuner.bench.cache import reset_prefix_cache

	hits: list[str] = []

	async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
		head = (await reader.readuntil(b"\r\n\r\n")).decode()
		method, path, _ = head.split("\r\n", 1)[0].split(" ", 2)
		hits.append(f"{method} {path}")
		ok = method == "POST" and path in ("/reset_prefix_cache", "/flush_cache")
		status = b"200 OK" if ok else b"404 Not Found"
		writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
		await writer.drain()
		writer.close()

	async def go() -> list[bool | None]:
		srv = await asyncio.start_server(handle, "127.0.0.1", 0)
		url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
		async with srv:
			return [await reset_prefix_cache(url, e) for e in ("vllm", "sglang", "llamacpp")]

	assert asyncio.run(go()) == [True, True, False]
	assert hits[:3] == ["POST /reset_prefix_cache", "POST /flush_cache", "GET /slots"]
