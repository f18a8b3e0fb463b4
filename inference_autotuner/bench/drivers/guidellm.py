"""GuideLLM (vllm-project/guidellm) as a driver.

One call runs one scenario at one concurrency (or request rate): `guidellm run --backend {openai_http, streaming,
ignore_eos} --profile {concurrent, streams: [c]} (or {poisson, rate: [r]}) --constraint {max_requests} --constraint
{max_duration} --data {synthetic_text ...} --tokenizer {local folder} --output {json}`; every option is given as a
JSON object (GuideLLM 0.8's CLI takes `kind=...` configs, or JSON). Synthetic prompts have the scenario's input
lengths, counted by the local tokenizer; `max_completion_tokens` + `ignore_eos` make outputs their requested length.
GuideLLM writes one `benchmarks.json` holding, per benchmark, every request
(`requests.successful/errored/incomplete`, each with its start/end times, `time_to_first_token_ms`,
`request_latency`, token counts preferring the server's usage) and the run's `duration`; we parse the requests and
recompute every figure with our definitions. GuideLLM's own TPOT (`time_per_output_token_ms`) is (last token -
request start) / output tokens, i.e. it INCLUDES the first token (and so the TTFT); ours is (E2E - TTFT) / (output
tokens - 1), recomputed from the per-request times (GuideLLM's `inter_token_latency_ms` is the per-request
equivalent of ours). See docs/drivers.md for the mapping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import BenchmarkError
from ..metrics import GoodputSLO, RunMetrics
from ..request import RunRequest
from ..traffic import Deterministic, Normal, Scenario, Uniform
from .base import ExternalTool, Row, metrics_from_rows

EXECUTABLE = "guidellm"
STARTUP_SLACK_S = 120.0
"""Seconds allowed on top of the run's limit for the tool to start (workers, tokenizer, data) and write its file."""
RESULTS = "benchmarks.json"
ENV = {"USE_TORCH": "0", "GUIDELLM__LOGGING__CONSOLE_LOG_LEVEL": "WARNING"}
"""USE_TORCH=0: datasets/transformers must not use torch (GuideLLM needs only torch's DataLoader; the venv `make
test` builds has a stand-in for it, scripts/torch-stub, instead of PyPI's 4.5 GB CUDA build)."""


def lengths(scenario: Scenario) -> dict[str, int]:
	"""GuideLLM's synthetic_text length fields for a scenario.

	D: exact lengths. N(mi,si)/(mo,so): GuideLLM draws a gaussian (clipped to mean +- 5 stddev, >= 1).
	U(a,b)/(c,d): mean with min/max and no stddev, which GuideLLM draws uniformly (integers in [min, max]).
	"""
	if isinstance(scenario, Deterministic):
		return {"prompt_tokens": scenario.input_tokens, "output_tokens": scenario.output_tokens}
	if isinstance(scenario, Normal):
		return {
			"prompt_tokens": scenario.mean_in,
			"prompt_tokens_stdev": scenario.std_in,
			"output_tokens": scenario.mean_out,
			"output_tokens_stdev": scenario.std_out,
		}
	if isinstance(scenario, Uniform):
		return {
			"prompt_tokens": round(scenario.mean_input),
			"prompt_tokens_min": scenario.min_in,
			"prompt_tokens_max": scenario.max_in,
			"output_tokens": round(scenario.mean_output),
			"output_tokens_min": scenario.min_out,
			"output_tokens_max": scenario.max_out,
		}
	raise BenchmarkError(f"the guidellm driver cannot run traffic scenario {scenario}")


def _json(obj: dict[str, Any]) -> str:
	return json.dumps(obj, separators=(",", ":"))


def build_argv(exe: str, req: RunRequest, results: Path) -> list[str]:
	"""The guidellm command line for one run (an argv list, never a shell string)."""
	if req.tokenizer_dir is None:
		raise BenchmarkError("guidellm needs a local tokenizer folder (benchmark.model_tokenizer)")
	if req.endpoint not in ("chat", "completions"):
		raise BenchmarkError(f"guidellm driver: endpoint {req.endpoint!r} is not chat or completions")
	body = {k: v for k, v in req.extra_body.items() if k not in ("model", "messages", "prompt", "stream")}
	backend = {
		"kind": "openai_http",
		"target": req.base_url.rstrip("/"),
		"model": req.model or "default",
		"request_format": "/v1/chat/completions" if req.endpoint == "chat" else "/v1/completions",
		"stream": True,
		"timeout": req.request_timeout,
		"extras": {"body": {"ignore_eos": True, **body}},
	}
	profile: dict[str, Any] = {"kind": "concurrent", "streams": [req.concurrency]}
	if req.request_rate is not None:  # open loop: Poisson arrivals (seeded by --seed below)
		profile = {"kind": "poisson", "rate": [req.request_rate]}
	return [
		exe, "run",
		"--backend", _json(backend),
		"--profile", _json(profile),
		# warm-up requests are extra requests, dropped by the parser (not GuideLLM's own warm-up phase, see rows())
		"--constraint", _json({"kind": "max_requests", "count": req.max_requests + max(req.warmup, 0)}),
		"--constraint", _json({"kind": "max_duration", "seconds": max(req.max_duration_s, 1.0)}),
		"--data", _json({"kind": "synthetic_text", **lengths(req.scenario)}),
		"--tokenizer", _json({"kind": "huggingface_auto", "model": req.tokenizer_dir}),
		"--seed", _json({"kind": "static", "value": req.seed}),
		"--output", _json({"kind": "json", "path": str(results)}),
		"--disable-console-interactive",
	]  # fmt: skip


def parse_request(r: dict[str, Any], *, errored: bool = False) -> Row:
	"""One request of benchmarks.json as a Row (seconds; start on GuideLLM's wall clock)."""
	info = r.get("info") or {}
	error = None
	if errored or info.get("status") == "errored":
		error = f"guidellm: {str(info.get('error') or 'errored')[:200]}"
	ttft_ms = r.get("time_to_first_token_ms")
	return Row(
		ttft=float(ttft_ms) / 1000.0 if ttft_ms is not None else None,
		e2e=float(r["request_latency"]) if r.get("request_latency") is not None else None,
		# GuideLLM prefers the server's usage (prefer_response_metrics), like the built-in client
		input_tokens=int(r.get("prompt_tokens") or 0),
		output_tokens=int(r.get("output_tokens") or 0),
		start=r.get("request_start_time"),
		error=error,
	)


def read_benchmark(path: Path) -> dict[str, Any]:
	"""The one benchmark (one concurrency) of a benchmarks.json."""
	benchmarks = json.loads(path.read_text()).get("benchmarks") or []
	if len(benchmarks) != 1:
		raise BenchmarkError(f"{path}: expected one GuideLLM benchmark, found {len(benchmarks)}")
	bench: dict[str, Any] = benchmarks[0]
	return bench


def rows(bench: dict[str, Any], *, warmup: int = 0) -> list[Row]:
	"""Successful and errored requests, in send order, less the first `warmup` (our warm-up requests).

	`incomplete` ones (cancelled in flight when the time limit hit) are left out, like the requests the built-in
	client never sends after its deadline. GuideLLM's own warm-up phase is not used: it ends when request
	warmup + 1 starts and then counts the requests still in flight, so the measured count would vary; instead the
	budget is max_requests + warmup and the first `warmup` requests sent are dropped here.
	"""
	reqs = bench.get("requests") or {}
	out = [parse_request(r) for r in reqs.get("successful") or []] + [
		parse_request(r, errored=True) for r in reqs.get("errored") or []
	]
	out.sort(key=lambda r: r.start if r.start is not None else 0.0)
	return out[max(warmup, 0) :]


def parse_results(
	path: Path, *, scenario: str, concurrency: int, warmup: int = 0, goodput_slo: GoodputSLO | None = None
) -> RunMetrics:
	"""RunMetrics from a GuideLLM benchmarks.json: its per-request rows and the run's `duration` (wall time).

	With warm-up requests dropped, the duration is the measured requests' own span (first sent to last end).
	"""
	bench = read_benchmark(path)
	duration = bench.get("duration") if warmup <= 0 else None
	return metrics_from_rows(
		rows(bench, warmup=warmup),
		scenario=scenario,
		concurrency=concurrency,
		duration=float(duration) if duration else None,
		goodput_slo=goodput_slo,
	)


class GuidellmDriver(ExternalTool):
	name = "guidellm"
	extra = "guidellm"
	executable = EXECUTABLE
	log_name = "guidellm.log"
	env = ENV
	supports_rate = True

	def missing(self) -> str | None:
		why = super().missing()
		if why is None:
			return None
		return f"{why}; without PyPI's 4.5 GB CUDA torch: `make .tools/guidellm/.installed` (docs/drivers.md)"

	def prepare(self, req: RunRequest) -> tuple[str, Path]:
		why = self.missing()
		if why is not None:
			raise BenchmarkError(why)
		return super().prepare(req)

	def build_argv(self, exe: str, req: RunRequest, workdir: Path) -> list[str]:
		return build_argv(exe, req, workdir / RESULTS)

	def timeout(self, req: RunRequest) -> float:
		return max(req.max_duration_s, 1.0) + STARTUP_SLACK_S

	def results(self, req: RunRequest, workdir: Path) -> Path | None:
		return workdir / RESULTS if (workdir / RESULTS).is_file() else None

	def parse(self, path: Path, req: RunRequest) -> RunMetrics:
		return parse_results(
			path,
			scenario=str(req.scenario),
			concurrency=req.concurrency,
			warmup=req.warmup,
			goodput_slo=req.goodput_slo,
		)
