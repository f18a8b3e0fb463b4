"""A roofline estimate of one configuration from the model's shape and the GPU's datasheet: the prior of last resort.

Where aiconfigurator cannot predict (not installed, a GPU or model it has no data for), `optimization.prior:
roofline` (and strategy auto's fallback, search/prior.py) ranks the space with this. It is a ranking prior, not a
prediction to report: the gp sampler fits a scale and offset to the measurements and unlearns what is wrong.

Per replica (tp x pp GPUs; dp replicas), with ISL/OSL the scenario's mean lengths and C the concurrency:
- memory: weights / (tp x pp) + 2 GiB overhead must fit the engine's memory fraction (engines/memory.py's counts),
  and the KV cache left must hold one sequence of ISL + OSL tokens; the batch B = min(C / dp, the engine's batch
  cap, the sequences of ISL + OSL/2 tokens the KV cache holds);
- one decode step (per pipeline stage, B/pp sequences): max(bytes / (bandwidth x 0.8), FLOPs / (peak x 0.5)) with
  bytes = the stage's weights (the MoE experts B tokens touch, counted twice: grouped expert GEMMs with a few tokens
  per expert reach about half the dense kernels' speed) + the KV cache of B/pp sequences of ISL + OSL/2 tokens, plus two ring all-reduces per layer over tp (2 (tp-1)/tp x B x hidden x 2 bytes / link + latency) and
  a fixed 1 ms; the decode step over the whole pipeline is pp stages;
- one prefill: 2 x active parameters x ISL (+ causal attention) FLOPs / (peak x 0.6) plus its all-reduces;
- continuous batching with chunked prefill: every step also carries B/OSL prefills, so TPOT = step + B/OSL x
  prefill, the request rate is B / (OSL x TPOT), TTFT = prefill + a step (+ the queue when C > B, Little's law).
The fp8 GEMM halves weight bytes and doubles the peak where the GPU has fp8 tensor cores; the fp8 KV cache halves
the KV bytes. Unknown flags change nothing (the prior is flat along them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.metrics import RunMetrics, Stats
from ..bench.traffic import parse_scenario
from ..engines.memory import (
	DTYPE_BYTES,
	GIB,
	OVERHEAD_BYTES,
	_model_bytes,
	_text_config,
	find_model_config,
	kv_bytes_per_token,
	parameter_counts,
)
from ..errors import DeployError
from .roofline_data import GPU_SPECS, GPUSpec, gpu_spec, known_architecture

BW_EFFICIENCY = 0.8
DECODE_EFFICIENCY = 0.5
PREFILL_EFFICIENCY = 0.6
STEP_OVERHEAD_S = 0.001
MOE_EFFICIENCY = 0.5  # expert GEMMs (grouped, a few tokens per expert) reach this share of the dense kernels' speed
ROOFLINE_ENGINES = ("vllm", "sglang", "trtllm")
# engine -> (batch-cap flag, its default): the batch never exceeds it (deploy/predict.py's BATCH_FLAGS, restated
# here so the roofline does not import the predictor)
BATCH_CAPS: dict[str, tuple[str, int]] = {
	"vllm": ("max-num-seqs", 256),
	"sglang": ("max-running-requests", 4096),
	"trtllm": ("max_batch_size", 2048),
}


class RooflineInfeasible(Exception):
	"""The configuration cannot run in this estimate (it does not fit)."""


@dataclass(frozen=True)
class Estimate:
	"""One configuration at one load level (seconds, tokens/s of the whole deployment)."""

	ttft: float
	tpot: float
	e2e: float
	request_rate: float
	batch: int
	world_size: int
	weights_gib: float
	kv_room_gib: float


@dataclass(frozen=True)
class Shape:
	"""What the estimate needs of the model."""

	config: dict[str, Any]
	dense: float  # parameters outside the experts, embeddings included
	experts: float  # all experts' parameters
	n_experts: int
	per_token: int  # experts a token is routed to
	stream: float  # dense parameters a step reads (the input embedding is a lookup, not read whole)
	layers: int
	hidden: int
	heads: int
	head_dim: int
	native_bytes: float

	@classmethod
	def of(cls, config: dict[str, Any]) -> Shape:
		c = _text_config(config)
		dense, experts = parameter_counts(config)
		hidden, heads = int(c["hidden_size"]), int(c["num_attention_heads"])
		n = int(c.get("num_local_experts") or c.get("n_routed_experts") or c.get("num_experts") or 0)
		return cls(
			config=config,
			dense=dense,
			experts=experts,
			n_experts=n,
			per_token=int(c.get("num_experts_per_tok") or c.get("moe_topk") or (2 if n else 0)),
			stream=dense - int(c.get("vocab_size", 32000)) * hidden * (0 if c.get("tie_word_embeddings") else 1),
			layers=int(c["num_hidden_layers"]),
			hidden=hidden,
			heads=heads,
			head_dim=int(c.get("head_dim") or hidden // heads),
			native_bytes=_model_bytes(config),
		)

	@property
	def active(self) -> float:
		"""Parameters one token multiplies (dense + its experts)."""
		return self.stream + (self.experts * self.per_token / self.n_experts if self.n_experts else 0.0)

	def experts_touched(self, tokens: float) -> float:
		"""Share of the experts a step of `tokens` tokens reads (each token routed to per_token of n)."""
		if not self.n_experts:
			return 0.0
		return 1.0 - (1.0 - self.per_token / self.n_experts) ** max(1.0, tokens)


def model_shape(ref: str) -> Shape:
	"""The model's shape: its config.json (a local folder or the Hugging Face cache), else the table of well-known
	architectures (search/roofline_data.py); DeployError when neither knows it."""
	config = find_model_config(ref) or known_architecture(ref)
	if config is None:
		raise DeployError(
			f"the roofline prior does not know the shape of model '{ref}'",
			hint="use a local folder holding its config.json, or a model already in the Hugging Face cache",
		)
	return Shape.of(config)


def _allreduce_s(gpu: GPUSpec, tp: int, message_bytes: float) -> float:
	if tp <= 1:
		return 0.0
	return 2 * (tp - 1) / tp * message_bytes / (gpu.link_gbs * 1e9) + gpu.link_latency_us * 1e-6


def estimate(
	shape: Shape,
	gpu: GPUSpec,
	*,
	tp: int = 1,
	pp: int = 1,
	dp: int = 1,
	gemm_dtype: str = "auto",
	kv_dtype: str = "auto",
	batch_cap: int | None = None,
	memory_fraction: float = 0.9,
	fraction_of_free: bool = False,
	isl: int,
	osl: int,
	concurrency: int,
) -> Estimate:
	"""The roofline figures of one configuration at one load level (module docstring); RooflineInfeasible when it
	does not fit."""
	w_bytes = DTYPE_BYTES.get(gemm_dtype) or shape.native_bytes
	kv_b = DTYPE_BYTES.get(kv_dtype) or (2.0 if shape.native_bytes < 2 else shape.native_bytes)
	peak = (gpu.fp8_tflops if w_bytes <= 1 and gpu.fp8_tflops else gpu.bf16_tflops) * 1e12
	gpus = tp * pp
	weights = (shape.dense + shape.experts) * w_bytes / gpus
	memory = gpu.memory_gib * GIB
	if fraction_of_free:
		kv_room = (memory - weights - OVERHEAD_BYTES) * memory_fraction
	else:
		kv_room = memory * memory_fraction - weights - OVERHEAD_BYTES
	per_token = kv_bytes_per_token(shape.config, kv_b, tp, pp)  # one GPU's share of one token
	if weights + OVERHEAD_BYTES > memory or kv_room < per_token * (isl + osl):
		raise RooflineInfeasible(
			f"does not fit: {weights / GIB:.1f} GiB weights per GPU leave {max(0.0, kv_room) / GIB:.1f} GiB of KV "
			f"cache, less than one sequence of {isl + osl} tokens"
		)
	ctx = isl + osl / 2
	held = int(kv_room // (per_token * ctx))
	batch = max(1, min(math.ceil(concurrency / dp), batch_cap or concurrency, held))
	micro = batch / pp
	act_bytes = 2.0  # activations in bf16

	def step(tokens: float, kv_tokens: float) -> float:
		"""One pipeline stage's step over `tokens` new tokens reading `kv_tokens` of KV cache."""
		experts = shape.experts * shape.experts_touched(tokens) / MOE_EFFICIENCY
		read = (shape.stream + experts) * w_bytes / gpus
		read += kv_tokens * per_token
		flops = 2 * shape.active * tokens / gpus
		flops += 4 * shape.layers * shape.heads * shape.head_dim * kv_tokens / gpus  # QK^T and PV
		comm = 2 * (shape.layers / pp) * _allreduce_s(gpu, tp, tokens * shape.hidden * act_bytes)
		return max(read / (gpu.bandwidth_gbs * 1e9 * BW_EFFICIENCY), flops / (peak * DECODE_EFFICIENCY)) + comm

	decode = pp * (step(micro, micro * ctx) + STEP_OVERHEAD_S)
	prefill_flops = 2 * shape.active * isl + 2 * shape.layers * shape.heads * shape.head_dim * isl * isl
	prefill = pp * (
		prefill_flops / gpus / (peak * PREFILL_EFFICIENCY)
		+ 2 * (shape.layers / pp) * _allreduce_s(gpu, tp, isl * shape.hidden * act_bytes)
	)
	tpot = decode + batch / osl * prefill
	rate = batch / (osl * tpot) * dp  # requests/s of the deployment
	served = prefill + decode + (osl - 1) * tpot
	e2e = max(served, concurrency / rate)
	return Estimate(
		ttft=prefill + decode + (e2e - served),
		tpot=tpot,
		e2e=e2e,
		request_rate=rate,
		batch=batch,
		world_size=gpus * dp,
		weights_gib=weights / GIB,
		kv_room_gib=kv_room / GIB,
	)


def _stats(value: float) -> Stats:
	return Stats(mean=value, min=value, max=value, p50=value, p90=value, p95=value, p99=value, count=1)


class RooflinePredictor:
	"""The roofline as a predictor: the same `predict(spec=, plan=)` as deploy/predict.py's, figures from estimate()."""

	name = "roofline"

	def __init__(self, shape: Shape, gpu: GPUSpec, engine: str) -> None:
		self.shape, self.gpu, self.engine = shape, gpu, engine

	@classmethod
	def from_spec(cls, spec: Any, model_path: Any = None) -> RooflinePredictor:
		engine = str(spec.base_runtime)
		if engine not in ROOFLINE_ENGINES:
			raise DeployError(f"the roofline prior models GPU engines ({', '.join(ROOFLINE_ENGINES)}), not '{engine}'")
		hw = getattr(spec, "hardware", None)
		gpu = gpu_spec(hw.gpu if hw else None)
		if gpu is None:
			raise DeployError(
				f"the roofline prior has no specs for GPU {getattr(hw, 'gpu', None)!r} (hardware.gpu)",
				hint=f"known GPUs: {', '.join(GPU_SPECS)}",
			)
		if hw is not None and hw.gpu_memory_gib:
			gpu = GPUSpec(**{**gpu.__dict__, "memory_gib": float(hw.gpu_memory_gib)})
		ref = str(model_path) if model_path is not None and Path(str(model_path)).exists() else str(spec.model.ref)
		return cls(model_shape(ref), gpu, engine)

	def info(self) -> dict[str, Any]:
		return {"source": "roofline", "gpu": self.gpu.name, "engine": self.engine}

	def predict(self, *, spec: Any, plan: Any, goodput: Any = None) -> tuple[list[RunMetrics], dict[str, Any]]:
		"""One RunMetrics per (scenario, concurrency); RooflineInfeasible when the configuration does not fit."""
		from ..engines import get_engine

		p, q, flags = plan.parallel or {}, plan.quant or {}, plan.flags
		fraction, of_free, _ = get_engine(plan.engine).memory_settings(flags)  # type: ignore[attr-defined]
		flag, default = BATCH_CAPS.get(plan.engine, ("", 0))
		cap = flags.get(flag, default)
		cap = int(cap) if isinstance(cap, int | float) and not isinstance(cap, bool) and cap > 0 else None
		runs: list[RunMetrics] = []
		b = spec.benchmark
		for text in b.traffic_scenarios:
			sc = parse_scenario(text)
			isl, osl = max(1, round(sc.mean_input)), max(2, round(sc.mean_output))
			for c in b.num_concurrency or [1]:
				e = estimate(
					self.shape,
					self.gpu,
					tp=int(p.get("tp", 1)),
					pp=int(p.get("pp", 1)),
					dp=int(p.get("dp", 1)),
					gemm_dtype=str(q.get("gemm_dtype", "auto")),
					kv_dtype=str(q.get("kvcache_dtype", "auto")),
					batch_cap=cap,
					memory_fraction=fraction,
					fraction_of_free=of_free,
					isl=isl,
					osl=osl,
					concurrency=int(c),
				)
				runs.append(_run(str(sc), int(c), e, isl, osl, b.max_requests_per_iteration, goodput))
		return runs, self.info()


def _run(scenario: str, concurrency: int, e: Estimate, isl: int, osl: int, n: int, goodput: Any) -> RunMetrics:
	good = None
	if goodput is not None and any(v is not None for v in (goodput.ttft, goodput.tpot, goodput.e2e)):
		limits = ((goodput.ttft, e.ttft), (goodput.tpot, e.tpot), (goodput.e2e, e.e2e))
		good = e.request_rate if all(limit is None or value <= limit for limit, value in limits) else 0.0
	return RunMetrics(
		scenario=scenario,
		concurrency=concurrency,
		duration=n / e.request_rate,
		total_requests=n,
		completed=n,
		errored=0,
		error_rate=0.0,
		ttft=_stats(e.ttft),
		tpot=_stats(e.tpot),
		itl=_stats(e.tpot),
		e2e=_stats(e.e2e),
		input_tokens=n * isl,
		output_tokens=n * osl,
		output_throughput=e.request_rate * osl,
		total_throughput=e.request_rate * (isl + osl),
		request_throughput=e.request_rate,
		goodput=good,
		predicted=True,
	)
