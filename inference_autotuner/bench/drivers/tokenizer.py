"""A Hugging Face tokenizer folder for the external tools, derived from a GGUF file's embedded vocabulary.

genai-bench, AIPerf and GuideLLM build prompts with a local Hugging Face tokenizer; a llama.cpp model is one GGUF
file with no tokenizer folder beside it and the hub cannot be reached from here. A GGUF carries its whole tokenizer
(`tokenizer.ggml.*` keys), so for byte-level BPE models (`tokenizer.ggml.model == "gpt2"`: SmolLM2, Llama 3, Qwen,
GPT-2 ...) this writes the equivalent `tokenizer.json` + `tokenizer_config.json`. The GGUF metadata is read with a
small reader of the documented format (header, key/value pairs); no tensor is loaded. Other tokenizer kinds raise
BenchmarkError asking for `benchmark.model_tokenizer`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import BenchmarkError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_CONTROL, _USER_DEFINED = 3, 4


def _read(f: BinaryIO, fmt: str) -> Any:
	size = struct.calcsize(fmt)
	data = f.read(size)
	if len(data) != size:
		raise BenchmarkError("truncated GGUF file")
	return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
	n = _read(f, "<Q")
	return f.read(n).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int) -> Any:
	if vtype == _STRING:
		return _string(f)
	if vtype == _ARRAY:
		itype, n = _read(f, "<I"), _read(f, "<Q")
		return [_value(f, itype) for _ in range(n)]
	fmt = _SCALARS.get(vtype)
	if fmt is None:
		raise BenchmarkError(f"unknown GGUF value type {vtype}")
	return _read(f, fmt)


def read_gguf_metadata(path: Path, prefixes: tuple[str, ...] = ("tokenizer.", "general.")) -> dict[str, Any]:
	"""The GGUF key/value metadata whose keys start with one of `prefixes` (values of other keys are skipped)."""
	with path.open("rb") as f:
		if f.read(4) != b"GGUF":
			raise BenchmarkError(f"{path} is not a GGUF file")
		version = _read(f, "<I")
		if version < 2:
			raise BenchmarkError(f"{path}: GGUF version {version} is too old")
		_read(f, "<Q")  # tensor count
		n_kv = _read(f, "<Q")
		out: dict[str, Any] = {}
		for _ in range(n_kv):
			key = _string(f)
			value = _value(f, _read(f, "<I"))
			if key.startswith(prefixes):
				out[key] = value
		return out


def tokenizer_files(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
	"""tokenizer.json and tokenizer_config.json contents for a byte-level BPE GGUF vocabulary."""
	kind = meta.get("tokenizer.ggml.model")
	if kind != "gpt2":
		raise BenchmarkError(
			f"cannot derive a Hugging Face tokenizer from a GGUF whose tokenizer is {kind!r} (only byte-level BPE, "
			"'gpt2', is supported)",
			hint="set benchmark.model_tokenizer to the model's tokenizer folder",
		)
	tokens: list[str] = meta["tokenizer.ggml.tokens"]
	types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
	merges: list[str] = meta.get("tokenizer.ggml.merges") or []
	added = [
		{
			"id": i,
			"content": t,
			"single_word": False,
			"lstrip": False,
			"rstrip": False,
			"normalized": False,
			"special": types[i] == _CONTROL,
		}
		for i, t in enumerate(tokens)
		if types[i] in (_CONTROL, _USER_DEFINED)
	]
	byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
	tok = {
		"version": "1.0",
		"truncation": None,
		"padding": None,
		"added_tokens": added,
		"normalizer": None,
		"pre_tokenizer": byte_level,
		"post_processor": {**byte_level, "trim_offsets": False},
		"decoder": byte_level,
		"model": {
			"type": "BPE",
			"dropout": None,
			"unk_token": None,
			"continuing_subword_prefix": None,
			"end_of_word_suffix": None,
			"fuse_unk": False,
			"byte_fallback": False,
			"ignore_merges": False,
			"vocab": {t: i for i, t in enumerate(tokens)},
			"merges": merges,
		},
	}

	def special(key: str) -> str | None:
		i = meta.get(f"tokenizer.ggml.{key}_token_id")
		return tokens[i] if isinstance(i, int) and 0 <= i < len(tokens) else None

	config: dict[str, Any] = {
		"tokenizer_class": "PreTrainedTokenizerFast",
		"model_max_length": int(meta.get("general.context_length") or 8192),
		"clean_up_tokenization_spaces": False,
		"add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
	}
	for key in ("bos", "eos", "unknown", "padding"):
		name = special(key)
		if name is not None:
			config[{"unknown": "unk_token", "padding": "pad_token"}.get(key, f"{key}_token")] = name
	template = meta.get("tokenizer.chat_template")
	if isinstance(template, str):
		config["chat_template"] = template
	return {"tokenizer.json": tok, "tokenizer_config.json": config}


def derive_tokenizer(gguf: Path, cache_dir: Path) -> Path:
	"""A tokenizer folder for `gguf` under cache_dir (made once per file; reused while the file is unchanged)."""
	st = gguf.stat()
	key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
	out = cache_dir / f"{gguf.stem}-{key}"
	if (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file():
		return out
	files = tokenizer_files(read_gguf_metadata(gguf))
	tmp = out.with_name(out.name + ".tmp")
	tmp.mkdir(parents=True, exist_ok=True)
	for name, content in files.items():
		(tmp / name).write_text(json.dumps(content, ensure_ascii=False))
	if not out.exists():
		tmp.replace(out)
	return out


def resolve_tokenizer(model_tokenizer: str | None, model_path: str | Path | None, cache_dir: Path) -> str:
	"""The tokenizer folder for an external tool: the spec's folder, else one derived from a GGUF model."""
	if model_tokenizer:
		folder = Path(model_tokenizer).expanduser()
		if folder.is_dir():
			return str(folder)
		raise BenchmarkError(
			f"benchmark.model_tokenizer {model_tokenizer!r} is not a local folder; external load drivers need a "
			"local tokenizer folder (there is no network to the Hugging Face hub)",
			hint=f"download it first (huggingface-cli download {model_tokenizer} --local-dir DIR) and give DIR",
		)
	path = Path(model_path) if model_path else None
	if path is not None and path.is_file() and path.suffix == ".gguf":
		return str(derive_tokenizer(path, cache_dir))
	if path is not None and (path / "tokenizer.json").is_file():
		return str(path)
	raise BenchmarkError(
		"external load drivers need a local tokenizer folder and none could be derived from the model",
		hint="set benchmark.model_tokenizer to a folder with tokenizer.json",
	)
