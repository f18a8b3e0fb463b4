"""deployment_mode: predict — experiment figures from aiconfigurator's measured performance database; nothing runs.

aiconfigurator (NVIDIA, `pip install 'inference-autotuner[predict]'`) composes per-operation timings measured on real
GPUs (GEMM, attention, communication, ...) into TTFT / TPOT / throughput of vLLM, SGLang and TensorRT-LLM serving a
model with given parallelism, quantization and batch size. Each of our runs (one traffic scenario at one concurrency)
becomes one `cli_estimate` call with the database version pinned (4-7 ms warm instead of ~800 ms); its figures become
a RunMetrics with `predicted=True`, so scoring, SLOs and the search work unchanged. It is a predictor, not a
deployer: the runner's `Predicted` measurer (runner/measure.py) calls it in place of deploy + load.

Mapping (docs/predict.md): engine -> backend; spec.hardware.gpu -> system (H100 -> h100_sxm, ...); the model ref ->
one of aiconfigurator's bundled model ids or a local folder holding config.json (nothing is downloaded); the launch
plan's tp/pp/dp/ep/moe_tp/moe_ep -> tp_size/pp_size/moe_tp_size/moe_ep_size (dp: replicas of a dense model, attention
DP of an MoE model); quant gemm/kv-cache/attention/moe dtypes -> its quant modes; the engine's batch flag (vLLM
max-num-seqs, SGLang max-running-requests, TensorRT-LLM max_batch_size) caps the batch at the run's concurrency, and
requests beyond it queue (Little's law: E2E = concurrency / request rate); ISL/OSL are the scenario's mean lengths.
spec.runtime_image_tag, when set, names the database version (e.g. 0.24.0 for vLLM); otherwise the pinned default.
OOM, a missing table in the database or an unsupported field -> an infeasible experiment with the reason.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..bench.metrics import RunMetrics, Stats
from ..bench.traffic import parse_scenario
from ..errors import AutotunerError, DeployError

# our GPU names (spec.hardware.gpu, upper-cased) -> aiconfigurator system names
SYSTEMS = {
	"H100": "h100_sxm",
	"H100-SXM": "h100_sxm",
	"H100-PCIE": "h100_pcie",
	"H200": "h200_sxm",
	"B200": "b200_sxm",
	"B300": "b300_sxm",
	"GB200": "gb200",
	"GB300": "gb300",
	"A100": "a100_sxm",
	"A100-SXM": "a100_sxm",
	"A100-PCIE": "a100_pcie",
	"A30": "a30",
	"L40S": "l40s",
	"L4": "l4",
	"RTX-PRO-6000": "rtx_pro_6000_server",
}
BACKENDS = ("vllm", "sglang", "trtllm")
# the database version each call pins (aiconfigurator 0.12.0's "current" slot); spec.runtime_image_tag overrides
PINNED_VERSIONS = {
	"a100_sxm": {"vllm": "0.14.0", "sglang": "0.5.10", "trtllm": "1.0.0"},
	"default": {"vllm": "0.24.0", "sglang": "0.5.14", "trtllm": "1.3.0rc20"},
}
# engine -> (batch-size flag, its default), context-token budget flag, memory-fraction flag, max-length flag
BATCH_FLAGS: dict[str, tuple[str, int | None]] = {
	"vllm": ("max-num-seqs", 256),
	"sglang": ("max-running-requests", None),
	"trtllm": ("max_batch_size", 2048),
}
TOKEN_FLAGS = {"vllm": "max-num-batched-tokens", "sglang": "chunked-prefill-size", "trtllm": "max_num_tokens"}
MEMORY_FLAGS = {
	"vllm": "gpu-memory-utilization",
	"sglang": "mem-fraction-static",
	"trtllm": "kv_cache_free_gpu_memory_fraction",
}
MAXLEN_FLAGS = {"vllm": "max-model-len", "sglang": "context-length", "trtllm": "max_seq_len"}
# normalized quant values -> aiconfigurator quant modes (None: the model's own; absent: no data, infeasible)
GEMM = {"auto": None, "fp16": "bfloat16", "bf16": "bfloat16", "fp8": "fp8", "int8": "sq"}
KV = {
	"auto": None,
	"fp16": "bfloat16",
	"bf16": "bfloat16",
	"fp8": "fp8",
	"fp8_e4m3": "fp8",
	"fp8_e5m2": "fp8",
	"int8": "int8",
}
FMHA = {"auto": None, "fp16": "float16", "bf16": "bfloat16", "fp8": "fp8"}
MOE = {"auto": None, "bf16": "bfloat16", "fp8": "fp8", "int4": "int4_wo"}
_MOE_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")


class PredictionInfeasible(AutotunerError):
	"""The performance model says this configuration cannot run (OOM) or has no data for it."""


def quiet_logs() -> None:
	for name in ("aiconfigurator", "aiconfigurator_core"):
		logging.getLogger(name).setLevel(logging.ERROR)


def _import_estimate() -> Any:
	try:
		from aiconfigurator.cli.api import cli_estimate
	except ImportError as exc:
		raise DeployError(
			"deployment_mode predict needs aiconfigurator, which is not installed",
			hint="pip install 'inference-autotuner[predict]'  (aiconfigurator 0.12.0, about 850 MB)",
		) from exc
	quiet_logs()
	return cli_estimate


def system_for(gpu: str | None) -> str:
	if not gpu:
		raise DeployError(
			"deployment_mode predict needs hardware.gpu (the GPU to predict for)",
			hint=f"set hardware: {{gpu: H100, gpu_count: 8}}; known GPUs: {', '.join(sorted(SYSTEMS))}",
		)
	key = gpu.strip().upper().replace("_", "-").replace(" ", "-")
	if key in SYSTEMS:
		return SYSTEMS[key]
	if gpu.lower() in SYSTEMS.values():
		return gpu.lower()
	raise DeployError(f"aiconfigurator has no GPU system '{gpu}'", hint=f"use one of: {', '.join(sorted(SYSTEMS))}")


@lru_cache(maxsize=1)
def _supported() -> dict[str, dict[str, list[str]]]:
	from aiconfigurator.sdk.perf_database import get_supported_databases

	return {s: {b: list(v) for b, v in by.items()} for s, by in get_supported_databases().items()}


def _bundled_dir() -> Path:
	import aiconfigurator_core

	return Path(aiconfigurator_core.__file__).parent / "model_configs"


def bundled_models() -> list[str]:
	"""Model ids whose config ships with aiconfigurator (usable without a download)."""
	names = [p.name.removesuffix("_config.json") for p in _bundled_dir().glob("*_config.json")]
	return sorted(n.replace("--", "/", 1) for n in names if not n.endswith("_hf_quant"))


def model_config(ref: str) -> tuple[str, dict[str, Any]]:
	"""(what aiconfigurator is given, the model's config.json) for a bundled id or a local folder; never downloads."""
	local = Path(ref).expanduser()
	if (local / "config.json").is_file():
		return str(local.resolve()), json.loads((local / "config.json").read_text(encoding="utf-8"))
	bundled = _bundled_dir() / f"{ref.replace('/', '--')}_config.json"
	if bundled.is_file():
		return ref, json.loads(bundled.read_text(encoding="utf-8"))
	known = bundled_models()
	near = difflib.get_close_matches(ref, known, n=3, cutoff=0.5)
	hint = f"did you mean {', '.join(near)}?" if near else f"bundled models: {', '.join(known[:12])}, ..."
	raise DeployError(
		f"model '{ref}' is neither one of aiconfigurator's bundled models nor a local folder with config.json",
		hint=hint + " (a local folder holding the model's config.json works for any supported architecture)",
	)


def is_moe(config: dict[str, Any]) -> bool:
	inner = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
	return any(int((c or {}).get(k) or 0) > 1 for c in (config, inner) for k in _MOE_KEYS)


def _stats(value: float) -> Stats:
	"""A prediction is one figure, not a distribution: every percentile is that figure."""
	return Stats(mean=value, min=value, max=value, p50=value, p90=value, p95=value, p99=value, count=1)


class AiconfiguratorPredictor:
	"""Experiment figures from aiconfigurator: `predict` replaces start -> load -> stop (no process, no port)."""

	name = "predict"

	def __init__(self, *, system: str, backend: str, version: str, model: str, config: dict[str, Any]) -> None:
		self.system, self.backend, self.version, self.model, self.config = system, backend, version, model, config
		self.moe = is_moe(config)

	@classmethod
	def from_spec(cls, spec: Any) -> AiconfiguratorPredictor:
		backend = str(spec.base_runtime)
		if backend not in BACKENDS:
			raise DeployError(
				f"aiconfigurator has no performance data for engine '{backend}'",
				hint=f"deployment_mode predict works with {', '.join(BACKENDS)}; measure {backend} on a real deployment",
			)
		hw = getattr(spec, "hardware", None)
		system = system_for(hw.gpu if hw else None)
		version = spec.runtime_image_tag or PINNED_VERSIONS.get(system, PINNED_VERSIONS["default"])[backend]
		model, config = model_config(spec.model.ref)
		return cls(system=system, backend=backend, version=version, model=model, config=config)

	# -- before the first experiment ---------------------------------------------------------------------------
	def preflight(self) -> None:
		"""aiconfigurator is installed and has data for this GPU, engine and version (before any experiment)."""
		_import_estimate()
		versions = _supported().get(self.system, {}).get(self.backend)
		if not versions:
			have = sorted(s for s, by in _supported().items() if self.backend in by)
			raise DeployError(
				f"aiconfigurator has no {self.backend} data for {self.system}",
				hint=f"systems with {self.backend} data: {', '.join(have)}",
			)
		if self.version not in versions:
			raise DeployError(
				f"aiconfigurator has no {self.backend} {self.version} data for {self.system} (runtime_image_tag)",
				hint=f"versions with data: {', '.join(versions)}; or remove runtime_image_tag for the pinned default",
			)

	def bind_cancel(self, event: threading.Event) -> None:
		"""A prediction takes milliseconds: nothing to cut short."""
		return None

	# -- predictions -------------------------------------------------------------------------------------------
	def info(self) -> dict[str, Any]:
		return {
			"source": "aiconfigurator 0.12.0",
			"system": self.system,
			"backend": self.backend,
			"version": self.version,
		}

	def _call_args(self, plan: Any) -> tuple[dict[str, Any], int, int | None]:
		"""(cli_estimate keyword arguments shared by every run, replicas, batch cap) for one launch plan."""
		p, q, flags = plan.parallel, plan.quant or {}, plan.flags
		for name in ("cp", "dcp"):
			if p.get(name, 1) > 1:
				raise PredictionInfeasible(f"aiconfigurator does not model context parallelism ({name}={p[name]})")
		args: dict[str, Any] = {"tp_size": p["tp"], "pp_size": p["pp"]}
		replicas = 1
		if self.moe:
			ep = max(p.get("ep", 1), p.get("moe_ep", 1))
			if p.get("dp", 1) > 1:
				args["attention_dp_size"] = p["dp"]
			if ep > 1:
				args["moe_ep_size"] = ep
				args["moe_tp_size"] = max(1, p["tp"] * p.get("dp", 1) // ep)
			else:
				args["moe_tp_size"] = p.get("moe_tp", 1) if p.get("moe_tp", 1) > 1 else p["tp"] * p.get("dp", 1)
		else:
			replicas = p.get("dp", 1)
			if max(p.get("ep", 1), p.get("moe_ep", 1), p.get("moe_tp", 1)) > 1:
				raise PredictionInfeasible("expert parallelism (ep/moe_tp/moe_ep) needs an MoE model")
		for field, table, arg in (
			("gemm_dtype", GEMM, "gemm_quant_mode"),
			("kvcache_dtype", KV, "kvcache_quant_mode"),
			("attention_dtype", FMHA, "fmha_quant_mode"),
			("moe_dtype", MOE, "moe_quant_mode"),
		):
			value = q.get(field, "auto")
			if value not in table:
				raise PredictionInfeasible(f"aiconfigurator has no {field} {value} mode")
			if table[value] is not None:
				args[arg] = table[value]
		engine = plan.engine
		for flag, arg in (
			(TOKEN_FLAGS, "ctx_tokens"),
			(MEMORY_FLAGS, "free_gpu_memory_fraction"),
			(MAXLEN_FLAGS, "max_seq_len"),
		):
			value = flags.get(flag[engine])
			if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
				args[arg] = float(value) if arg == "free_gpu_memory_fraction" else int(value)
		batch_flag, default = BATCH_FLAGS[engine]
		cap = flags.get(batch_flag, default)
		return args, replicas, int(cap) if isinstance(cap, int | float) and not isinstance(cap, bool) else default

	def predict(self, *, spec: Any, plan: Any, goodput: Any = None) -> tuple[list[RunMetrics], dict[str, Any]]:
		"""One RunMetrics per (scenario, concurrency) of the spec; raises PredictionInfeasible (OOM, no data)."""
		estimate = _import_estimate()
		args, replicas, cap = self._call_args(plan)
		runs: list[RunMetrics] = []
		details: list[dict[str, Any]] = []
		b = spec.benchmark
		for text in b.traffic_scenarios:
			scenario = parse_scenario(text)
			isl, osl = max(1, round(scenario.mean_input)), max(1, round(scenario.mean_output))
			for concurrency in b.num_concurrency:
				per_replica = math.ceil(concurrency / replicas)
				dp = int(args.get("attention_dp_size", 1))
				batch = max(1, min(math.ceil(per_replica / dp), cap or per_replica))
				call = {**args, "batch_size": batch, "isl": isl, "osl": osl}
				if "ctx_tokens" in call:
					call["ctx_tokens"] = max(int(call["ctx_tokens"]), 1)
				try:
					r = estimate(
						self.model, self.system, backend_name=self.backend, backend_version=self.version, **call
					)
				except (RuntimeError, ValueError, KeyError, AssertionError) as exc:
					raise PredictionInfeasible(_reason(exc, call)) from None
				except Exception as exc:  # aiconfigurator's PerfDataNotAvailableError and kin
					raise PredictionInfeasible(_reason(exc, call)) from None
				runs.append(_run_metrics(str(scenario), concurrency, r.raw, replicas, isl, osl, b, goodput))
				details.append(
					{
						"scenario": str(scenario),
						"concurrency": concurrency,
						"batch_size": batch,
						"replicas": replicas,
						"ttft_ms": r.ttft,
						"tpot_ms": r.tpot,
						"memory_gib": r.raw.get("memory"),
						"warning": getattr(r, "kv_cache_warning", None),
					}
				)
		return runs, {**self.info(), "model": self.model, "args": args, "runs": details}


def _reason(exc: BaseException, call: dict[str, Any]) -> str:
	text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
	if text.startswith("OOM"):
		return f"predicted out of memory: {text.removeprefix('OOM: ')}"
	return f"aiconfigurator cannot predict this configuration ({type(exc).__name__}): {text[:400]}"


def _run_metrics(
	scenario: str, concurrency: int, raw: dict[str, Any], replicas: int, isl: int, osl: int, b: Any, goodput: Any
) -> RunMetrics:
	"""Figures of one run from one estimate: throughput from the model, latencies by Little's law (queueing)."""
	rate = float(raw["seq/s"]) * replicas  # requests/s of the whole deployment
	tpot = float(raw["tpot"]) / 1000.0
	served = float(raw["request_latency"]) / 1000.0
	e2e = max(served, concurrency / rate) if rate > 0 else served  # requests past the batch cap wait in the queue
	ttft = float(raw["ttft"]) / 1000.0 + (e2e - served)
	n = b.max_requests_per_iteration
	good = None
	if goodput is not None and any(v is not None for v in (goodput.ttft, goodput.tpot, goodput.e2e)):
		ok = (
			(goodput.ttft is None or ttft <= goodput.ttft)
			and (goodput.tpot is None or tpot <= goodput.tpot)
			and (goodput.e2e is None or e2e <= goodput.e2e)
		)
		good = rate if ok else 0.0
	return RunMetrics(
		scenario=scenario,
		concurrency=concurrency,
		duration=n / rate if rate > 0 else 0.0,
		total_requests=n,
		completed=n,
		errored=0,
		error_rate=0.0,
		ttft=_stats(ttft),
		tpot=_stats(tpot),
		itl=_stats(tpot),
		e2e=_stats(e2e),
		input_tokens=n * isl,
		output_tokens=n * osl,
		output_throughput=rate * osl,
		total_throughput=rate * (isl + osl),
		request_throughput=rate,
		goodput=good,
		predicted=True,
	)
