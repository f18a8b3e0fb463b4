"""genai-bench (sgl-project/genai-bench, the seed's load generator) as a driver.

One call runs one scenario at one concurrency: `genai-bench benchmark --api-backend vllm ...` (the OpenAI-compatible
backend that sends ignore_eos, so every request generates exactly its sampled output length; genai-bench always
uses /v1/chat/completions). Its time limit `--max-time-per-run` is in MINUTES and an integer: our seconds are
rounded UP to whole minutes and never to 0; our own limit is enforced by the subprocess timeout. It writes one JSON
per scenario and concurrency, `<scenario>_text-to-text_num_concurrency_<c>_time_<t>s.json`, with
`individual_request_metrics` (ttft, e2e_latency, num_input_tokens, num_output_tokens, error_code/error_message, in
seconds with --metrics-time-unit s) and `aggregated_metrics.run_duration`. See docs/drivers.md for the mapping.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ...errors import BenchmarkError
from ..metrics import RunMetrics
from ..request import RunRequest
from .base import ExternalTool, Row, metrics_from_rows

EXECUTABLE = "genai-bench"
STARTUP_SLACK_S = 120.0
"""Seconds allowed on top of the run's limit for the tool to start (imports, tokenizer) and write its files."""


def minutes(seconds: float) -> int:
	"""genai-bench's --max-time-per-run (whole minutes) for a limit in seconds: rounded up, at least 1."""
	return max(1, math.ceil(seconds / 60.0 - 1e-9))


def sanitize(scenario: str) -> str:
	"""genai-bench's file-name form of a scenario: D(100,100) -> D100_100."""
	return scenario.replace("/", "_").replace(",", "_").replace("(", "").replace(")", "")


def build_argv(exe: str, req: RunRequest, out_dir: Path) -> list[str]:
	"""The genai-bench command line for one run (an argv list, never a shell string)."""
	if req.tokenizer_dir is None:
		raise BenchmarkError("genai-bench needs a local tokenizer folder (benchmark.model_tokenizer)")
	argv = [
		exe, "benchmark",
		"--api-backend", "vllm",
		"--api-base", req.base_url.rstrip("/"),
		"--api-key", "none",
		"--api-model-name", req.model or "default",
		"--model-tokenizer", req.tokenizer_dir,
		"--task", "text-to-text",
		"--traffic-scenario", str(req.scenario),
		"--num-concurrency", str(req.concurrency),
		"--max-requests-per-run", str(req.max_requests),
		"--max-time-per-run", str(minutes(req.max_duration_s)),
		"--experiment-base-dir", str(out_dir.parent),
		"--experiment-folder-name", out_dir.name,
		"--metrics-time-unit", "s",
		"--server-engine", "LlamaCPP",
	]  # fmt: skip
	body = {k: v for k, v in req.extra_body.items() if k not in ("model", "messages", "prompt", "stream")}
	if body:
		argv += ["--additional-request-params", json.dumps(body)]
	return argv


_RUN_FILE = re.compile(r"^(?P<scenario>.+)_text-to-text_num_concurrency_(?P<c>\d+)_time_\d+s\.json$")


def run_files(folder: Path) -> dict[tuple[str, int], Path]:
	"""Every per-run JSON of an experiment folder, by (sanitized scenario, concurrency)."""
	found: dict[tuple[str, int], Path] = {}
	for p in sorted(folder.glob("*.json")):
		m = _RUN_FILE.match(p.name)
		if m:
			found[(m["scenario"], int(m["c"]))] = p
	return found


def _seconds(value: Any, unit: str) -> float | None:
	if value is None:
		return None
	return float(value) / 1000.0 if unit == "ms" else float(value)


def parse_run_file(path: Path, *, scenario: str, concurrency: int, goodput_slo: Any = None) -> RunMetrics:
	"""RunMetrics from one genai-bench run JSON (any scenario kind: D, N, U, dataset)."""
	data = json.loads(path.read_text())
	unit = str(data.get("_time_unit") or "s")
	rows: list[Row] = []
	for r in data.get("individual_request_metrics") or []:
		error = None
		if r.get("error_code") not in (None, 200) or r.get("error_message"):
			error = f"HTTP {r.get('error_code')}: {str(r.get('error_message') or '')[:200]}"
		rows.append(
			Row(
				ttft=_seconds(r.get("ttft"), unit),
				e2e=_seconds(r.get("e2e_latency"), unit),
				input_tokens=int(r.get("num_input_tokens") or 0),
				output_tokens=int(r.get("num_output_tokens") or 0),
				error=error,
			)
		)
	agg = data.get("aggregated_metrics") or {}
	duration = agg.get("run_duration")
	return metrics_from_rows(
		rows,
		scenario=scenario,
		concurrency=concurrency,
		duration=float(duration) if duration else None,
		goodput_slo=goodput_slo,
	)


class GenaiBenchDriver(ExternalTool):
	name = "genai-bench"
	extra = "genai-bench"
	executable = EXECUTABLE
	log_name = "genai-bench.log"

	def build_argv(self, exe: str, req: RunRequest, workdir: Path) -> list[str]:
		return build_argv(exe, req, workdir / "experiment")

	def timeout(self, req: RunRequest) -> float:
		return minutes(req.max_duration_s) * 60.0 + STARTUP_SLACK_S

	def results(self, req: RunRequest, workdir: Path) -> Path | None:
		out_dir = workdir / "experiment"
		files = run_files(out_dir) if out_dir.is_dir() else {}
		path = files.get((sanitize(str(req.scenario)), req.concurrency))
		if path is None:
			path = next((p for (_, c), p in files.items() if c == req.concurrency), None)
		return path

	def parse(self, path: Path, req: RunRequest) -> RunMetrics:
		return parse_run_file(
			path, scenario=str(req.scenario), concurrency=req.concurrency, goodput_slo=req.goodput_slo
		)
