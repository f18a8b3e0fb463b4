"""The `quality:` section of a task spec: the quality guardrail's thresholds, reference and probe set.

A configuration that changes what the model outputs (a quantized KV cache, quantized weights, speculative decoding)
is compared with a reference configuration on fixed prompts (docs/quality.md); below a threshold it is infeasible.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class QualityEvalSpec(BaseModel):
	"""A task-accuracy set: a JSON-lines file of {prompt, expected, regex?} items."""

	model_config = ConfigDict(extra="forbid")

	path: str = Field(
		min_length=1,
		max_length=4096,
		description="JSON-lines file, one {prompt, expected, regex?} object a line; 'builtin' for the shipped set",
	)
	max_tokens: int = Field(16, ge=1, le=256, description="Tokens generated (greedily) per eval prompt")
	limit: int | None = Field(None, ge=1, le=1000, description="Use only the first N items")


class QualitySpec(BaseModel):
	"""The quality guardrail. Present (or a space with an output-changing knob): every experiment is probed."""

	model_config = ConfigDict(extra="forbid")

	enabled: bool | None = Field(
		None,
		description="true: always probe; false: never; unset: probe when the space has an output-changing knob "
		"(engines/output_knobs.py) or a threshold or eval is set",
	)
	min_top1_agreement: float | None = Field(
		0.9,
		ge=0,
		le=1,
		description="Least share of compared positions where the greedy next token equals the reference's",
	)
	max_kl: float | None = Field(
		None, ge=0, description="Most mean KL(reference || candidate) over the reference's top-k tokens (nats)"
	)
	min_exact_match: float | None = Field(
		None, ge=0, le=1, description="Least share of probe completions identical to the reference's"
	)
	min_accuracy: float | None = Field(None, ge=0, le=1, description="Least eval accuracy (needs `eval`)")
	reference: dict[str, Any] | None = Field(
		None,
		description="Flags of the reference configuration on top of the baseline's, e.g. {cache-type-k: f16}; "
		"unset: the baseline itself",
	)
	prompts: int = Field(8, ge=1, le=64, description="Probe prompts used (of the shipped probe set)")
	max_tokens: int = Field(16, ge=1, le=256, description="Tokens generated greedily per probe prompt")
	top_k: int = Field(10, ge=1, le=20, description="Log-probabilities asked per position (n_probs / logprobs)")
	eval: QualityEvalSpec | None = Field(None, description="Task accuracy: {path: FILE.jsonl}")
	share_probes: bool = Field(
		True,
		description="Configurations that differ only in flags that do not change a greedy answer (slots, threads, "
		"batch sizes: engines/output_knobs.py OUTPUT_NEUTRAL) share one probe; false: probe every configuration",
	)

	@field_validator("reference")
	@classmethod
	def _reference(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
		if v is not None and len(v) > 64:
			raise ValueError("reference lists more than 64 flags")
		return v

	def thresholds(self) -> dict[str, float]:
		"""The thresholds that are set, by figure name (see quality/figures)."""
		pairs = {
			"quality_top1": self.min_top1_agreement,
			"quality_kl": self.max_kl,
			"quality_exact": self.min_exact_match,
			"quality_accuracy": self.min_accuracy if self.eval is not None else None,
		}
		return {k: v for k, v in pairs.items() if v is not None}
