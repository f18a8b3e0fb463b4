"""AIPerf (NVIDIA's ai-dynamo/aiperf, GenAI-Perf's successor) as a driver.

One call runs one scenario at one concurrency: `aiperf profile --endpoint-type chat|completions --streaming
--concurrency <c> --request-count <n> --benchmark-duration <seconds> ...` with synthetic prompts of the scenario's
mean/stddev input and output lengths, counted by the local tokenizer folder; `ignore_eos` and the spec's extra body go
in `--extra-inputs`, so outputs have their requested length. Token counts are the server's (`--use-server-token-count`,
like the built-in client). AIPerf's time limit is in SECONDS (a float); responses still arriving within
`--benchmark-grace-period` after it are counted. It writes into `--output-artifact-dir`: the per-request
`profile_export.jsonl` (one record a line: `metadata.request_start_ns`/`request_end_ns`, `metrics.<name>.value` in
the metric's `unit`, `error`) which we parse, and `profile_export_aiperf.json` (aggregates) from which only the run's
wall time `benchmark_duration` is taken. See docs/drivers.md for the mapping.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ...errors import BenchmarkError
from ..metrics import GoodputSLO, RunMetrics
from ..planner import workload_of
from ..request import RunRequest
from ..traffic import Deterministic, Normal, Scenario, Uniform
from .aiperf_input import INPUT, write_input
from .base import ExternalTool, Row, metrics_from_rows

EXECUTABLE = "aiperf"
STARTUP_SLACK_S = 120.0
"""Seconds allowed on top of the run's limit for the tool to start (services, tokenizer) and write its files."""
GRACE_S = 30.0
"""AIPerf's --benchmark-grace-period: how long responses are awaited (and counted) after the time limit."""
RECORDS = "profile_export.jsonl"
SUMMARY = "profile_export_aiperf.json"

_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}


def lengths(scenario: Scenario) -> tuple[float, float, float, float]:
	"""(input mean, input stddev, output mean, output stddev) for AIPerf's normally distributed synthetic lengths.

	D is exact (stddev 0), N maps one to one; U becomes the normal with the uniform's mean and stddev
	((max - min + 1) / sqrt(12) for integers): AIPerf has no uniform length distribution.
	"""
	if isinstance(scenario, Deterministic):
		return float(scenario.input_tokens), 0.0, float(scenario.output_tokens), 0.0
	if isinstance(scenario, Normal):
		return float(scenario.mean_in), float(scenario.std_in), float(scenario.mean_out), float(scenario.std_out)
	if isinstance(scenario, Uniform):

		def std(lo: int, hi: int) -> float:
			return round(math.sqrt(((hi - lo + 1) ** 2 - 1) / 12.0), 3)

		return (
			scenario.mean_input,
			std(scenario.min_in, scenario.max_in),
			scenario.mean_output,
			std(scenario.min_out, scenario.max_out),
		)
	raise BenchmarkError(f"the aiperf driver cannot run traffic scenario {scenario}")


def _num(x: float) -> str:
	return str(int(x)) if float(x).is_integer() else f"{x:g}"


def load_args(req: RunRequest) -> list[str]:
	"""Closed loop (`--concurrency`), or open loop: Poisson arrivals at `request_rate` req/s, seeded like the rest."""
	if req.request_rate is not None:
		return ["--request-rate", _num(req.request_rate), "--arrival-pattern", "poisson"]
	return ["--concurrency", str(req.concurrency)]


def input_args(req: RunRequest, input_file: Path | None) -> list[str]:
	"""Synthetic lengths, or a workload's input file (aiperf_input.py): a trace replayed at its own times."""
	wl = workload_of(req)
	if wl is None or input_file is None:
		mi, si, mo, so = lengths(req.scenario)
		return [
			"--prompt-input-tokens-mean", _num(mi),
			"--prompt-input-tokens-stddev", _num(si),
			"--prompt-output-tokens-mean", _num(mo),
			"--prompt-output-tokens-stddev", _num(so),
			*load_args(req),
		]  # fmt: skip
	argv = ["--input-file", str(input_file), "--custom-dataset-type", "mooncake_trace"]
	if wl.kind == "trace":
		return [*argv, "--fixed-schedule", "--fixed-schedule-auto-offset",
			"--prompt-input-tokens-block-size", str(wl.block_tokens)]  # fmt: skip
	return [*argv, *load_args(req)]


def build_argv(exe: str, req: RunRequest, out_dir: Path, input_file: Path | None = None) -> list[str]:
	"""The aiperf command line for one run (an argv list, never a shell string)."""
	if req.tokenizer_dir is None:
		raise BenchmarkError("aiperf needs a local tokenizer folder (benchmark.model_tokenizer)")
	if req.endpoint not in ("chat", "completions"):
		raise BenchmarkError(f"aiperf driver: endpoint {req.endpoint!r} is not chat or completions")
	argv = [
		exe, "profile",
		"--model", req.model or "default",
		"--url", req.base_url.rstrip("/"),
		"--endpoint-type", req.endpoint,
		"--streaming",
		"--tokenizer", req.tokenizer_dir,
		*input_args(req, input_file),
		"--request-count", str(req.max_requests),
		"--benchmark-duration", _num(max(req.max_duration_s, 1.0)),
		"--benchmark-grace-period", _num(GRACE_S),
		"--request-timeout-seconds", _num(req.request_timeout),
		"--use-server-token-count",
		# a new connection per request: llama.cpp's server closes kept-alive connections after streamed responses,
		# and AIPerf (aiohttp) does not retry a request whose pooled connection was closed as it was reused
		"--connection-reuse-strategy", "never",
		"--random-seed", str(req.seed),
		"--output-artifact-dir", str(out_dir),
		"--export-level", "records",
		"--ui-type", "none",
		"--no-server-metrics",
		"--no-gpu-telemetry",
	]  # fmt: skip
	if req.warmup > 0:
		argv += ["--warmup-request-count", str(req.warmup)]
	body = {k: v for k, v in req.extra_body.items() if k not in ("model", "messages", "prompt", "stream")}
	argv += ["--extra-inputs", json.dumps({"ignore_eos": True, **body})]
	return argv


def _value(metrics: dict[str, Any], name: str) -> Any:
	m = metrics.get(name)
	return m.get("value") if isinstance(m, dict) else None


def _seconds(metrics: dict[str, Any], name: str) -> float | None:
	m = metrics.get(name)
	if not isinstance(m, dict) or m.get("value") is None or isinstance(m["value"], list):
		return None
	return float(m["value"]) * _UNIT_S.get(str(m.get("unit") or "ms"), 1e-3)


def _tokens(metrics: dict[str, Any], *names: str) -> int:
	for name in names:
		v = _value(metrics, name)
		if v is not None:
			return int(v)
	return 0


def parse_record(rec: dict[str, Any]) -> Row:
	"""One per-request record of profile_export.jsonl as a Row (seconds)."""
	meta = rec.get("metadata") or {}
	metrics = rec.get("metrics") or {}
	gaps = metrics.get("inter_chunk_latency") or {}
	scale = _UNIT_S.get(str(gaps.get("unit") or "ms"), 1e-3) if isinstance(gaps, dict) else 1e-3
	itls = [float(g) * scale for g in gaps.get("value") or []] if isinstance(gaps, dict) else []
	error = None
	err = rec.get("error")
	if err:
		error = f"{err.get('type') or 'error'} {err.get('code') or ''}: {str(err.get('message') or '')[:200]}".strip()
	elif meta.get("was_cancelled"):
		error = "cancelled"
	start_ns = meta.get("request_start_ns")
	return Row(
		ttft=_seconds(metrics, "time_to_first_token"),
		e2e=_seconds(metrics, "request_latency"),
		# the server's usage when reported (the built-in client's counts too), else AIPerf's tokenizer's
		input_tokens=_tokens(metrics, "usage_prompt_tokens", "input_sequence_length"),
		output_tokens=_tokens(metrics, "usage_completion_tokens", "output_sequence_length", "output_token_count"),
		itls=itls,
		start=float(start_ns) * 1e-9 if start_ns is not None else None,
		error=error,
	)


def read_records(path: Path) -> list[Row]:
	"""Rows of the profiling phase (warm-up records are left out) of a profile_export.jsonl."""
	rows = []
	for line in path.read_text().splitlines():
		if not line.strip():
			continue
		rec = json.loads(line)
		if (rec.get("metadata") or {}).get("benchmark_phase", "profiling") != "profiling":
			continue
		rows.append(parse_record(rec))
	return rows


def benchmark_duration(path: Path) -> float | None:
	"""The run's wall time (s) from profile_export_aiperf.json: what the per-request records lack."""
	if not path.is_file():
		return None
	d = json.loads(path.read_text()).get("benchmark_duration")
	if not isinstance(d, dict) or d.get("avg") is None:
		return None
	return float(d["avg"]) * _UNIT_S.get(str(d.get("unit") or "sec"), 1.0)


def parse_artifacts(
	folder: Path, *, scenario: str, concurrency: int, goodput_slo: GoodputSLO | None = None
) -> RunMetrics:
	"""RunMetrics from an AIPerf artifact folder (profile_export.jsonl, + the summary's benchmark_duration)."""
	rows = read_records(folder / RECORDS)
	return metrics_from_rows(
		rows,
		scenario=scenario,
		concurrency=concurrency,
		duration=benchmark_duration(folder / SUMMARY),
		goodput_slo=goodput_slo,
	)


class AiperfDriver(ExternalTool):
	name = "aiperf"
	extra = "aiperf"
	executable = EXECUTABLE
	log_name = "aiperf.log"
	supports_rate = True
	workloads = ("dataset", "trace")  # as AIPerf's mooncake_trace input file (aiperf_input.py)

	async def stage(self, req: RunRequest, workdir: Path) -> None:
		wl = workload_of(req)
		if wl is not None:
			await write_input(req, wl, workdir)

	def build_argv(self, exe: str, req: RunRequest, workdir: Path) -> list[str]:
		wl = workload_of(req)
		return build_argv(exe, req, workdir / "artifacts", workdir / INPUT if wl is not None else None)

	def timeout(self, req: RunRequest) -> float:
		return max(req.max_duration_s, 1.0) + GRACE_S + STARTUP_SLACK_S

	def results(self, req: RunRequest, workdir: Path) -> Path | None:
		out_dir = workdir / "artifacts"
		return out_dir if (out_dir / RECORDS).is_file() else None

	def parse(self, path: Path, req: RunRequest) -> RunMetrics:
		return parse_artifacts(
			path, scenario=str(req.scenario), concurrency=req.concurrency, goodput_slo=req.goodput_slo
		)
