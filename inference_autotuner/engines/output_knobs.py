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
