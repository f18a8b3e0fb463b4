"""How alike two tasks' model and hardware are, for warm starts.

A model is known by its family and size, read from its name: `Qwen/Qwen3-32B`, `Qwen/Qwen3-32B-FP8` and a local
`/models/qwen3-32b-awq` are all ("qwen3", "32b"); quantization, format and instruct/chat suffixes do not change the
architecture the serving flags act on. A cache name (`smollm2`) is read through the file it stands for.
"""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import PurePosixPath
from typing import Any

from ..models import KNOWN_MODELS

# name parts that change the weights' format, not the architecture
_VARIANT = re.compile(
	r"^(instruct|chat|it|base|hf|gguf|ggml|awq|gptq|marlin|fp8|fp16|bf16|f16|f32|int4|int8|nvfp4|mxfp4|w4a16|w8a8|w8a16"
	r"|dynamic|static|q\d(_k)?(_[a-z0-9]+)*|iq\d\w*|v\d+(\.\d+)*)$"
)
_SIZE = re.compile(r"^(\d+x)?\d+(\.\d+)?[bm]$")  # 32b, 0.5b, 135m, 8x7b
_EXT = re.compile(r"\.(gguf|bin|safetensors|pt)$")


class Match(IntEnum):
	"""Better matches first: the earlier task's best configurations are taken in this order."""

	NONE = 0
	SAME_GPU_TYPE = 1  # same model family and size, same GPU type, another GPU count
	SIMILAR_MODEL = 2  # same model family and size (another quantization/variant or name), same hardware
	SAME = 3  # same model reference and file, same hardware

	@property
	def label(self) -> str:
		return {3: "same model and hardware", 2: "similar model", 1: "same GPU type"}.get(int(self), "")


def model_identity(ref: str, file: str | None = None) -> tuple[str, str] | None:
	"""(family, size) from a model's name, e.g. ("qwen3", "32b"); None when no size can be read from it."""
	known = KNOWN_MODELS.get(ref)
	names = [file, known.filename if known else PurePosixPath(ref.rstrip("/")).name]
	for raw in names:  # the file names the variant best; else the reference
		if not raw:
			continue
		name = _EXT.sub("", raw.lower())
		tokens = [t for t in re.split(r"[-_\s]+|\.(?!\d)|(?<!\d)\.", name) if t]  # a dot between digits stays
		for i, tok in enumerate(tokens):
			if _SIZE.match(tok):
				family = "-".join(t for t in tokens[:i] if not _VARIANT.match(t))
				if family:
					return family, tok
	return None


def _hardware(spec_hw: dict[str, Any] | None) -> tuple[str | None, int | None]:
	hw = {k: v for k, v in (spec_hw or {}).items() if v is not None}
	gpu = hw.get("gpu")
	return (str(gpu).upper() if gpu else None, hw.get("gpu_count"))


def match(mine: dict[str, Any], theirs: dict[str, Any]) -> Match:
	"""How alike task spec `theirs` is to task spec `mine` (both as stored: plain dicts)."""
	m_model, t_model = mine.get("model") or {}, theirs.get("model") or {}
	m_ref = m_model.get("id_or_path") or m_model.get("name") or ""
	t_ref = t_model.get("id_or_path") or t_model.get("name") or ""
	m_hw, t_hw = _hardware(mine.get("hardware")), _hardware(theirs.get("hardware"))
	same_model = m_ref == t_ref and (m_model.get("file") or None) == (t_model.get("file") or None)
	if same_model and m_hw == t_hw:
		return Match.SAME
	ident = model_identity(m_ref, m_model.get("file"))
	if not same_model and (ident is None or ident != model_identity(t_ref, t_model.get("file"))):
		return Match.NONE
	if m_hw == t_hw:
		return Match.SIMILAR_MODEL
	if m_hw[0] is not None and m_hw[0] == t_hw[0]:
		return Match.SAME_GPU_TYPE
	return Match.NONE
