"""Which earlier tasks a warm start may learn from: model family and size read from names, hardware compared."""

from __future__ import annotations

from typing import Any

import pytest

from inference_autotuner.runner.similarity import Match, match, model_identity


@pytest.mark.parametrize(
	("ref", "file", "identity"),
	[
		("Qwen/Qwen3-32B", None, ("qwen3", "32b")),
		("Qwen/Qwen3-32B-FP8", None, ("qwen3", "32b")),
		("/models/qwen3-32b-awq/", None, ("qwen3", "32b")),
		("Qwen/Qwen3-8B", None, ("qwen3", "8b")),
		("meta-llama/Llama-3.1-8B-Instruct", None, ("llama-3.1", "8b")),
		("mistralai/Mixtral-8x7B-Instruct-v0.1", None, ("mixtral", "8x7b")),
		("bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", ("qwen2.5", "0.5b")),
		("smollm2", None, ("smollm2", "135m")),  # a cache name, read through its file
		("/root/.cache/x/SmolLM2-135M-Instruct.Q4_1.gguf", None, ("smollm2", "135m")),  # not a file
		("gpt2", None, None),  # no size in the name: only an exact match counts
	],
)
def test_model_identity(ref: str, file: str | None, identity: tuple[str, str] | None) -> None:
	assert model_identity(ref, file) == identity


def spec(model: str, gpu: str | None = None, count: int | None = None, file: str | None = None) -> dict[str, Any]:
	out: dict[str, Any] = {"model": {"id_or_path": model, **({"file": file} if file else {})}}
	if gpu or count:
		out["hardware"] = {"gpu": gpu, "gpu_count": count}
	return out


def test_match_levels() -> None:
	mine = spec("Qwen/Qwen3-32B", "H200", 8)
	assert match(mine, spec("Qwen/Qwen3-32B", "H200", 8)) == Match.SAME
	assert match(mine, spec("Qwen/Qwen3-32B-FP8", "h200", 8)) == Match.SIMILAR_MODEL
	assert match(mine, spec("Qwen/Qwen3-32B", "H200", 4)) == Match.SAME_GPU_TYPE
	assert match(mine, spec("Qwen/Qwen3-32B", "H100", 8)) == Match.NONE
	assert match(mine, spec("Qwen/Qwen3-8B", "H200", 8)) == Match.NONE
	assert match(mine, spec("meta-llama/Llama-3.1-8B", "H200", 8)) == Match.NONE
	# on the CPU (no hardware section): the cache name and the file it stands for are the same model
	assert match(spec("smollm2"), spec("/data/SmolLM2-135M-Instruct.Q4_1.gguf")) == Match.SIMILAR_MODEL
	assert match(spec("smollm2"), spec("smollm2")) == Match.SAME
	assert match(spec("gpt2"), spec("gpt2-medium")) == Match.NONE
	# another GGUF file of the same repo: the same model in another quantization
	repo = "bartowski/Qwen2.5-0.5B-Instruct-GGUF"
	q4, q8 = "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "Qwen2.5-0.5B-Instruct-Q8_0.gguf"
	assert match(spec(repo, file=q4), spec(repo, file=q8)) == Match.SIMILAR_MODEL
