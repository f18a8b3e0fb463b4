"""Prompts of an exact number of tokens, measured with the served model's own tokenizer.

The server's `/tokenize` endpoint is the source of truth (llama.cpp: `{"content": text}` -> `{"tokens": [...]}`;
vLLM's `{"prompt": text}` form is understood too). A long seed text is tokenized once; a prompt of N tokens is the
text of N consecutive seed tokens, re-tokenized to check the count and adjusted by a few tokens when the tokenizer
merges differently at the edges. Without `/tokenize` a local Hugging Face tokenizer folder (`model_tokenizer`) is used
when `transformers` is installed; otherwise BenchmarkError says how to fix it. Token counts are never estimated.

Each `variant` starts at another place in the seed text, so requests can get distinct prompts of the same length
(no prefix-cache hits between them). `PromptBuilder.new_variant()` hands out process-wide unique variants.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from ..errors import BenchmarkError

_WORDS = (
	"time year people way day man thing woman life child world school state family student group country problem "
	"hand part place case week company system program question work government number night point home water room "
	"mother area money story fact month lot right study book eye job word business issue side kind head house service "
	"friend father power hour game line end member law car city community name president team minute idea kid body "
	"information back parent face others level office door health person art war history party result change morning "
	"reason research girl guy moment air teacher force education river garden window table mountain market music "
	"light paper road letter picture voice answer field season energy report table summer winter forest island bridge "
	"is was has made said went found gave told became left felt brought began kept held wrote stood heard let meant "
	"set met ran paid sat spoke lay led read grew lost fell sent built understood drew broke spent cut rose drove "
	"new good first last long great little own other old right big high different small large next early young "
	"important few public bad same able quiet bright simple strong clear open warm cold dark green blue red "
	"and but or so because while after before when where although if then also only still even just very often"
).split()
_SEED_WORDS = 6000
_PROBE_TEXT = "Hello world, the quick brown fox jumps over the lazy dog."
_variants = itertools.count()


class Tokenizer(Protocol):
	"""What prompt building needs from a tokenizer."""

	description: str

	async def tokenize(self, text: str, *, add_special: bool = False) -> list[int]: ...

	async def detokenize(self, ids: Sequence[int]) -> str: ...

	async def tokenize_with_pieces(self, text: str) -> tuple[list[int], list[str] | None]:
		"""Token ids and, where the backend gives them, each token's text (None otherwise)."""
		...


class ServerTokenizer:
	"""The inference server's /tokenize and /detokenize endpoints (llama.cpp or vLLM request shapes)."""

	def __init__(self, client: httpx.AsyncClient, base_url: str, dialect: Literal["llamacpp", "vllm"]) -> None:
		self.client = client
		self.base_url = base_url
		self.dialect = dialect
		self.description = f"{base_url}/tokenize ({dialect})"

	@classmethod
	async def probe(cls, client: httpx.AsyncClient, base_url: str) -> ServerTokenizer | None:
		"""The server's tokenizer, or None when it has no /tokenize endpoint. Transport errors propagate."""
		url = f"{base_url}/tokenize"
		resp = await client.post(url, json={"content": _PROBE_TEXT})
		if resp.status_code in (404, 405, 501):
			return None
		if resp.status_code == 200 and _ids(resp) is not None:
			return cls(client, base_url, "llamacpp")
		if resp.status_code in (400, 422):
			resp = await client.post(url, json={"prompt": _PROBE_TEXT})
			if resp.status_code == 200 and _ids(resp) is not None:
				return cls(client, base_url, "vllm")
		resp.raise_for_status()
		raise BenchmarkError(f"{url} answered {resp.text[:200]!r}, which is not a list of token ids")

	async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
		resp = await self.client.post(f"{self.base_url}{path}", json=body)
		resp.raise_for_status()
		data = resp.json()
		if not isinstance(data, dict):
			raise BenchmarkError(f"{self.base_url}{path} answered {resp.text[:200]!r}, not a JSON object")
		return data

	async def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
		if self.dialect == "llamacpp":
			body: dict[str, Any] = {"content": text, "add_special": add_special}
		else:
			body = {"prompt": text, "add_special_tokens": add_special}
		return _as_ids((await self._post("/tokenize", body)).get("tokens"))

	async def detokenize(self, ids: Sequence[int]) -> str:
		data = await self._post("/detokenize", {"tokens": list(ids)})
		text = data.get("content" if self.dialect == "llamacpp" else "prompt")
		if not isinstance(text, str):
			raise BenchmarkError(f"{self.base_url}/detokenize answered without text: {str(data)[:200]}")
		return text

	async def tokenize_with_pieces(self, text: str) -> tuple[list[int], list[str] | None]:
		if self.dialect != "llamacpp":
			return await self.tokenize(text), None
		data = await self._post("/tokenize", {"content": text, "add_special": False, "with_pieces": True})
		tokens = data.get("tokens")
		if isinstance(tokens, list) and tokens and all(isinstance(t, dict) for t in tokens):
			ids = _as_ids([t.get("id") for t in tokens])
			pieces = [t.get("piece") for t in tokens]
			if all(isinstance(p, str) for p in pieces):
				return ids, pieces  # type: ignore[return-value]
			return ids, None
		return _as_ids(tokens), None


class LocalTokenizer:
	"""A Hugging Face tokenizer loaded from a local folder (needs `transformers`)."""

	def __init__(self, folder: str) -> None:
		try:
			from transformers import AutoTokenizer  # type: ignore[import-not-found,unused-ignore]
		except ImportError as exc:
			raise BenchmarkError(
				f"cannot load the tokenizer in {folder}: the transformers package is not installed",
				hint="pip install transformers",
			) from exc
		try:
			self.tok = AutoTokenizer.from_pretrained(folder)
		except Exception as exc:
			raise BenchmarkError(
				f"cannot load a tokenizer from {folder}: {exc}",
				hint="benchmark.model_tokenizer must be a folder with tokenizer.json (or tokenizer.model)",
			) from exc
		self.description = f"local tokenizer {folder}"

	async def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
		return list(self.tok.encode(text, add_special_tokens=add_special))

	async def detokenize(self, ids: Sequence[int]) -> str:
		return str(self.tok.decode(list(ids)))

	async def tokenize_with_pieces(self, text: str) -> tuple[list[int], list[str] | None]:
		return await self.tokenize(text), None


def _ids(resp: httpx.Response) -> list[int] | None:
	try:
		return _as_ids(resp.json().get("tokens"))
	except (ValueError, AttributeError, BenchmarkError):
		return None


def _as_ids(tokens: object) -> list[int]:
	if isinstance(tokens, list) and all(isinstance(t, int) for t in tokens):
		return tokens
	if isinstance(tokens, list) and all(isinstance(t, dict) and isinstance(t.get("id"), int) for t in tokens):
		return [t["id"] for t in tokens]
	raise BenchmarkError(f"the tokenizer answered {str(tokens)[:200]!r}, not a list of token ids")


async def open_tokenizer(client: httpx.AsyncClient, base_url: str, model_tokenizer: str | None = None) -> Tokenizer:
	"""The server's tokenizer; else the local folder `model_tokenizer`; else BenchmarkError with the fix."""
	server = await ServerTokenizer.probe(client, base_url)
	if server is not None:
		return server
	if not model_tokenizer:
		raise BenchmarkError(
			f"the server at {base_url} has no /tokenize endpoint, so prompts of an exact length cannot be built",
			hint="set benchmark.model_tokenizer to a local tokenizer folder and install transformers "
			"(pip install transformers)",
		)
	if not Path(model_tokenizer).expanduser().is_dir():
		raise BenchmarkError(
			f"the server at {base_url} has no /tokenize endpoint and benchmark.model_tokenizer "
			f"{model_tokenizer!r} is not a local folder",
			hint=f"download it first (huggingface-cli download {model_tokenizer} --local-dir DIR) and give DIR",
		)
	return LocalTokenizer(str(Path(model_tokenizer).expanduser()))


def _seed_text() -> str:
	rng = random.Random(20240611)
	sentences: list[str] = []
	words = 0
	while words < _SEED_WORDS:
		n = rng.randint(6, 16)
		sentence = [rng.choice(_WORDS) for _ in range(n)]
		sentence[0] = sentence[0].capitalize()
		sentences.append(" ".join(sentence) + rng.choice((".", ".", ".", ",", "?", ";")))
		words += n
	return " ".join(sentences)


class PromptBuilder:
	"""Builds (and caches) prompts of exactly N tokens as the server counts them."""

	def __init__(
		self, tokenizer: Tokenizer, seed_ids: list[int], pieces: list[str] | None, special_tokens: int
	) -> None:
		if not seed_ids:
			raise BenchmarkError("the tokenizer returned no tokens for the seed text")
		self.tokenizer = tokenizer
		self.seed_ids = seed_ids
		self.pieces = pieces
		self.special_tokens = special_tokens
		"""Tokens the server adds to a raw completion prompt (e.g. BOS); chat templates are not counted."""
		self._cache: dict[tuple[int, int, bool], str] = {}
		size = len(seed_ids)
		stride = max(1, int(size * 0.6180339887))
		while math.gcd(stride, size) != 1:
			stride += 1
		self._stride = stride

	@classmethod
	async def create(
		cls, client: httpx.AsyncClient, base_url: str, *, model_tokenizer: str | None = None
	) -> PromptBuilder:
		"""Tokenize the seed text once with the server's tokenizer (or the local fallback)."""
		base_url = base_url.rstrip("/")
		tokenizer = await open_tokenizer(client, base_url, model_tokenizer)
		ids, pieces = await tokenizer.tokenize_with_pieces(_seed_text())
		with_special = await tokenizer.tokenize(_PROBE_TEXT, add_special=True)
		without = await tokenizer.tokenize(_PROBE_TEXT, add_special=False)
		return cls(tokenizer, ids, pieces, max(0, len(with_special) - len(without)))

	@staticmethod
	def new_variant() -> int:
		"""A variant number no other prompt of this process has used (distinct prompt start)."""
		return next(_variants)

	@staticmethod
	def reserve_variants(count: int) -> int:
		"""The first of `count` consecutive variants that this process will not hand out (for a client process of a
		multi-process run, which draws its own warm-up variants from there: bench/processes.py)."""
		global _variants
		first = next(_variants)
		_variants = itertools.count(first + count)
		return first

	@staticmethod
	def use_variants_from(first: int) -> None:
		"""Hand out variants from `first` on (in a client process: the block its parent reserved for it)."""
		global _variants
		_variants = itertools.count(first)

	async def count_tokens(self, text: str) -> int:
		"""Tokens in `text` without special tokens (e.g. to count generated text)."""
		return len(await self.tokenizer.tokenize(text, add_special=False))

	async def build(self, n_tokens: int, *, variant: int = 0, with_special: bool = True) -> str:
		"""A prompt of exactly `n_tokens` tokens.

		with_special=True (raw completion prompts): the count includes the special tokens the server adds (BOS), so
		the server's usage.prompt_tokens equals n_tokens. with_special=False (chat message content): the count is of
		the text alone; the chat template adds its own tokens on top.
		"""
		if n_tokens < 1:
			raise ValueError(f"a prompt needs at least 1 token, not {n_tokens}")
		key = (n_tokens, variant, with_special)
		cached = self._cache.get(key)
		if cached is not None:
			return cached
		target = n_tokens - self.special_tokens if with_special else n_tokens
		if target < 1:
			text = await self._exact_empty(n_tokens, with_special)
		else:
			text = await self._exact(target, variant)
		self._cache[key] = text
		return text

	async def _exact_empty(self, n_tokens: int, with_special: bool) -> str:
		got = len(await self.tokenizer.tokenize("", add_special=with_special))
		if got != n_tokens:
			raise BenchmarkError(
				f"cannot build a prompt of {n_tokens} token(s): the server adds {self.special_tokens} special "
				"token(s) to every prompt",
				hint=f"use input lengths of at least {self.special_tokens + 1} tokens",
			)
		return ""

	async def _text(self, start: int, count: int) -> str:
		size = len(self.seed_ids)
		if self.pieces is not None:
			pieces = self.pieces
			if start + count <= size:
				return "".join(pieces[start : start + count])
			return "".join(pieces[(start + i) % size] for i in range(count))
		if start + count <= size:
			ids = self.seed_ids[start : start + count]
		else:
			ids = [self.seed_ids[(start + i) % size] for i in range(count)]
		return await self.tokenizer.detokenize(ids)

	async def _exact(self, target: int, variant: int) -> str:
		size = len(self.seed_ids)
		base = (variant * self._stride) % size
		for shift in range(4):
			start = (base + shift) % size
			count = target
			tried: set[int] = set()
			for _ in range(8):
				tried.add(count)
				text = await self._text(start, count)
				got = len(await self.tokenizer.tokenize(text, add_special=False))
				if got == target:
					return text
				count = max(1, count + target - got)
				if count in tried:
					break
		raise BenchmarkError(
			f"could not build a prompt of exactly {target} tokens with {self.tokenizer.description}",
			hint="this tokenizer re-tokenizes text unstably; report it with the model name",
		)
