"""Engine flags that change what the model outputs, not only how fast: a space that tunes one of them turns on the
quality guardrail (docs/quality.md). Names are the engines' own flags, without dashes."""

from __future__ import annotations

from typing import Any

OUTPUT_CHANGING: dict[str, frozenset[str]] = {
	"llamacpp": frozenset({"cache-type-k", "cache-type-v", "draft-model", "model-draft", "draft-max", "lora"}),
	"vllm": frozenset(
		{
			"kv-cache-dtype",
			"quantization",
			"dtype",
			"speculative-config",
			"speculative-model",
			"num-speculative-tokens",
			"calculate-kv-scales",
		}
	),
	"sglang": frozenset(
		{
			"kv-cache-dtype",
			"quantization",
			"dtype",
			"speculative-algorithm",
			"speculative-draft-model-path",
			"speculative-num-steps",
			"speculative-num-draft-tokens",
		}
	),
	"trtllm": frozenset({"kv_cache_dtype", "quantization", "dtype", "speculative_config"}),
}
# Flags that change how fast and how much is served at once, not what one greedy request is answered: the quality
# probe (one prompt at a time, no prompt cache) of two configurations that differ only in these is shared
# (quality.share_probes). Measured on llama.cpp (the quick start: parallel 1-4, threads 1-2, batch 256/1024, ubatch
# 128/512): bit-identical probe figures per KV-cache type. Not listed, so probed apart: anything that can change the
# kernels a token goes through (flash-attn, n-gpu-layers, tensor/pipeline parallelism, dtype, ctx-size).
OUTPUT_NEUTRAL: dict[str, frozenset[str]] = {
	"llamacpp": frozenset(
		{
			"parallel",
			"threads",
			"threads-batch",
			"threads-http",
			"batch-size",
			"ubatch-size",
			"cont-batching",
			"no-cont-batching",
			"poll",
			"mlock",
			"no-mmap",
			"defrag-thold",
			"cache-prompt",
			"no-cache-prompt",
		}
	),
	"vllm": frozenset(
		{
			"max-num-seqs",
			"max-num-batched-tokens",
			"gpu-memory-utilization",
			"enable-prefix-caching",
			"no-enable-prefix-caching",
			"swap-space",
			"scheduling-policy",
		}
	),
	"sglang": frozenset(
		{
			"max-running-requests",
			"mem-fraction-static",
			"schedule-policy",
			"schedule-conservativeness",
			"disable-radix-cache",
		}
	),
	"trtllm": frozenset({"max_batch_size", "kv_cache_free_gpu_memory_fraction", "num_postprocess_workers"}),
}
QUANT_PREFIX = "__quant__"  # quant_config presets and fields (space/), always output-changing


def output_changing(engine: str, parameters: dict[str, Any], quant_config: dict[str, Any] | None = None) -> list[str]:
	"""The tuned flags of `parameters` that change outputs on `engine` (with more than one value), plus quant."""
	knobs = OUTPUT_CHANGING.get(engine, frozenset())
	found = []
	for name, values in parameters.items():
		if isinstance(values, list):
			several = len({repr(v) for v in values}) > 1
		else:  # a range varies; a fixed value is the baseline's too
			several = hasattr(values, "model_dump") or isinstance(values, dict)
		if (name in knobs or name.startswith(QUANT_PREFIX)) and several:
			found.append(name)
	if quant_config:
		found.append("quant_config")
	return found


def output_flags(engine: str, flags: dict[str, Any]) -> dict[str, Any]:
	"""`flags` without those known not to change a greedy answer (OUTPUT_NEUTRAL): equal results, equal outputs."""
	neutral = OUTPUT_NEUTRAL.get(engine, frozenset())
	return {k: v for k, v in flags.items() if k not in neutral}
