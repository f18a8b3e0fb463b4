"""Reset an engine's prefix cache before a run, where the engine allows it (docs/workloads.md, cache hygiene).

- llama.cpp: `POST /slots/{id}?action=erase` for every slot of `GET /slots`; the server answers 501 unless it was
  started with `--slot-save-path` (then: not reset, the prompts' salt keeps runs apart);
- vLLM: `POST /reset_prefix_cache`, served when the engine runs with VLLM_SERVER_DEV_MODE=1 (spec `env`);
- SGLang: `POST /flush_cache` (refused while requests are running: none are, between runs).
Returns True when the engine said it reset, False when it refused or has no such endpoint, None for an engine this
does not know. Never raises: a failed reset is recorded (RunMetrics.cache_reset), not an error.
"""

from __future__ import annotations

import httpx

_TIMEOUT = httpx.Timeout(10.0)


async def reset_prefix_cache(base_url: str, engine: str | None) -> bool | None:
	url = base_url.rstrip("/")
	try:
		async with httpx.AsyncClient(timeout=_TIMEOUT, trust_env=False) as client:
			if engine == "llamacpp":
				slots = await client.get(url + "/slots")
				if slots.status_code != 200 or not isinstance(slots.json(), list):
					return False
				ids = [s.get("id") for s in slots.json() if isinstance(s, dict) and isinstance(s.get("id"), int)]
				answers = [await client.post(f"{url}/slots/{i}", params={"action": "erase"}) for i in ids]
				return bool(answers) and all(a.status_code == 200 for a in answers)
			if engine == "vllm":
				return (await client.post(url + "/reset_prefix_cache")).status_code == 200
			if engine == "sglang":
				return (await client.post(url + "/flush_cache")).status_code == 200
	except (httpx.HTTPError, ValueError):
		return False
	return None
