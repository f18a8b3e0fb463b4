"""Greedy completions with their top-k next-token log-probabilities, in each engine's own request shape.

- llama.cpp: POST /completion {n_probs} -> completion_probabilities[].top_logprobs (token ids)
- vLLM (and any OpenAI-compatible server): POST /v1/completions {logprobs: k} -> choices[0].logprobs.top_logprobs
- SGLang: POST /generate {return_logprob, top_logprobs_num} -> meta_info.output_top_logprobs (token ids)
- TensorRT-LLM: its server's completions return no top-k log-probabilities: `LogprobsUnavailable`; the eval
  accuracy (plain text) still runs.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
from pydantic import BaseModel, Field

from ..errors import AutotunerError

TIMEOUT = 120.0


class LogprobsUnavailable(AutotunerError):
	"""The engine's server returns no top-k log-probabilities: only the eval accuracy can be checked."""


class Position(BaseModel):
	"""One generated position: the greedy token and the top-k log-probabilities (natural log) at it."""

	token: str = Field(description="The generated token (its id as '#ID' where the engine gives ids)")
	top: dict[str, float] = Field(description="token -> log-probability, the k most likely tokens")


class Completion(BaseModel):
	text: str
	positions: list[Position] = Field(default_factory=list)


def _finite(x: Any) -> float:
	v = float(x)
	return v if math.isfinite(v) else -1e9


def _llamacpp(client: httpx.Client, base: str, prompt: str, n: int, k: int, _model: str | None) -> Completion:
	body = {"prompt": prompt, "n_predict": n, "temperature": 0, "n_probs": k, "cache_prompt": False, "seed": 0}
	r = client.post(base + "/completion", json=body)
	r.raise_for_status()
	data = r.json()
	positions = []
	for p in data.get("completion_probabilities") or []:
		top = {f"#{t['id']}": _finite(t["logprob"]) for t in p.get("top_logprobs") or []}
		positions.append(Position(token=f"#{p['id']}", top=top))
	return Completion(text=str(data.get("content", "")), positions=positions)


def _openai(client: httpx.Client, base: str, prompt: str, n: int, k: int, model: str | None) -> Completion:
	body: dict[str, Any] = {"prompt": prompt, "max_tokens": n, "temperature": 0, "seed": 0}
	if model:
		body["model"] = model
	if k:
		body["logprobs"] = k
	r = client.post(base + "/v1/completions", json=body)
	r.raise_for_status()
	choice = r.json()["choices"][0]
	positions = []
	lp = choice.get("logprobs") or {}
	for token, top in zip(lp.get("tokens") or [], lp.get("top_logprobs") or [], strict=False):
		positions.append(Position(token=str(token), top={str(t): _finite(v) for t, v in (top or {}).items()}))
	if k and not positions and choice.get("text"):
		raise LogprobsUnavailable("the server's /v1/completions returned no logprobs")
	return Completion(text=str(choice.get("text", "")), positions=positions)


def _sglang(client: httpx.Client, base: str, prompt: str, n: int, k: int, _model: str | None) -> Completion:
	params = {"max_new_tokens": n, "temperature": 0}
	body = {"text": prompt, "sampling_params": params, "return_logprob": bool(k), "top_logprobs_num": k}
	r = client.post(base + "/generate", json=body)
	r.raise_for_status()
	data = r.json()
	data = data[0] if isinstance(data, list) else data
	meta = data.get("meta_info") or {}
	positions = []
	chosen = meta.get("output_token_logprobs") or []
	for (_lp, tid, *_), top in zip(chosen, meta.get("output_top_logprobs") or [], strict=False):
		positions.append(Position(token=f"#{tid}", top={f"#{t[1]}": _finite(t[0]) for t in top or []}))
	return Completion(text=str(data.get("text", "")), positions=positions)


def _trtllm(client: httpx.Client, base: str, prompt: str, n: int, k: int, model: str | None) -> Completion:
	if k:
		raise LogprobsUnavailable(
			"TensorRT-LLM's server returns no top-k log-probabilities: top-1 agreement and KL are not available; "
			"only the eval accuracy (quality.eval) is checked"
		)
	return _openai(client, base, prompt, n, 0, model)


CLIENTS = {"llamacpp": _llamacpp, "vllm": _openai, "sglang": _sglang, "trtllm": _trtllm}


def complete(
	engine: str, base_url: str, prompt: str, *, max_tokens: int, top_k: int, model: str | None = None
) -> Completion:
	"""One greedy completion of `prompt` (top_k=0: text only) from the engine at `base_url`."""
	call = CLIENTS.get(engine, _openai)
	with httpx.Client(timeout=TIMEOUT) as client:
		try:
			return call(client, base_url.rstrip("/"), prompt, max_tokens, top_k, model)
		except httpx.HTTPStatusError as exc:
			raise AutotunerError(
				f"quality probe: {engine} answered HTTP {exc.response.status_code}: {exc.response.text[:200]}"
			) from None
		except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
			raise AutotunerError(f"quality probe: {type(exc).__name__}: {exc}") from None


def served_model(base_url: str) -> str | None:
	"""The model name an OpenAI-compatible server lists first (for the `model` field), or None."""
	try:
		r = httpx.get(base_url.rstrip("/") + "/v1/models", timeout=10)
		data = r.json().get("data") or []
		return str(data[0]["id"]) if data else None
	except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError, AttributeError):
		return None
