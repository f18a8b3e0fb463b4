"""A workload (bench/workload.py) as AIPerf's input file: its `mooncake_trace` JSONL format, one request a line.

- dataset: `{"messages": [system?, user], "output_length": n}` (completions: `text_input`; the reply's tokens counted with the engine's
  /tokenize, or the local tokenizer folder, capped at max_output_tokens), sent in file order at the run's concurrency;
- trace: `{"timestamp": ms / speedup, "input_length", "output_length", "hash_ids"?}`, replayed by AIPerf at the
  recorded times (`--fixed-schedule`), Mooncake hash ids as its prefix blocks (`--prompt-input-tokens-block-size`).
Sessions and shared prefixes are not written: the driver refuses them (docs/workloads.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from ..planner import run_salt
from ..prompts import open_tokenizer
from ..request import RunRequest
from ..workload import Workload

INPUT = "workload.jsonl"


async def write_input(req: RunRequest, wl: Workload, folder: Path) -> Path:
	"""AIPerf's input file for this run's share of the workload (at most max_requests requests)."""
	lines: list[dict[str, Any]] = []
	if wl.kind == "trace":
		speed = req.speedup or wl.speedup
		for c in wl.conversations[: req.max_requests]:
			t = c.turns[0]
			rec: dict[str, Any] = {
				"timestamp": round((c.at or 0.0) * 1000.0 / speed, 3),
				"input_length": t.input_tokens,
				"output_length": t.output_tokens,
			}
			if c.blocks:
				rec["hash_ids"] = list(c.blocks)
			lines.append(rec)
	else:
		salt = run_salt() if wl.salt else ""
		async with httpx.AsyncClient(timeout=req.request_timeout, trust_env=False) as client:
			tokenizer = await open_tokenizer(client, req.base_url.rstrip("/"), req.tokenizer_dir)
			for i in range(req.max_requests):
				c = wl.conversations[i % len(wl.conversations)]
				t = c.turns[0]
				out = t.output_tokens
				if out <= 0 and t.reply is not None:
					out = max(1, min(len(await tokenizer.tokenize(t.reply)), wl.max_output_tokens))
				messages = [{"role": "system", "content": salt + c.system}] if c.system else []
				text = t.text or ""
				messages.append({"role": "user", "content": text if c.system or not salt else salt + text})
				if req.endpoint == "chat":
					lines.append({"messages": messages, "output_length": out})
				else:  # /v1/completions: the conversation as one text
					joined = "\n\n".join(m["content"] for m in messages)
					lines.append({"text_input": joined, "output_length": out})
	path = folder / INPUT
	path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
	return path
