"""Write the project's own sample workloads (seeded; nothing copied from any data set):

    python scripts/make_workloads.py [--out-dir examples/workloads] [--seed 7] [--conversations 40] [--requests 120]

- chat.json: a ShareGPT-shaped chat log: a list of {"id", "conversations": [{"from": "system"|"human"|"gpt",
  "value"}...]}; 1-4 turns per conversation, a third of them opening with one of three shared system prompts.
- prompts.jsonl: one {"prompt", "output_tokens"} a line (the `jsonl` dataset format).
- trace_azure.csv: an Azure-shaped trace (TIMESTAMP,ContextTokens,GeneratedTokens): bursty arrivals (a Poisson
  process whose rate switches between calm and bursts), about 60 s long.
- trace_mooncake.jsonl: a Mooncake-shaped trace ({"timestamp" ms, "input_length", "output_length", "hash_ids"}):
  requests of one session share their leading blocks (hash ids; 64-token blocks here: trace block_tokens 64).

Lengths are log-normal (word counts for text, token counts for traces), kept small so that the demo model on a CPU
serves them in seconds. Text is made of pronounceable pseudo-words from a fixed syllable list. The same seed writes
the same bytes (tests/test_workloads.py checks the committed files against a fresh run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_SYLLABLES = (
	"ka ri to mu se la no vi de ra pe lo su ti ma ne go bu fa ki "
	"zo ya he wa qu ce di ju lu mi po sa te vo xi re na ko be gu"
).split()
_SYSTEM = (
	"You are a concise assistant for a bakery. Answer in two sentences.",
	"You are a helpful travel planner. Suggest one route and one tip.",
	"You are a patient tutor. Explain step by step and end with a question.",
)


def lognormal_int(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
	"""A log-normal draw with this median, clipped to [lo, hi]."""
	return max(lo, min(hi, round(rng.lognormvariate(math.log(median), sigma))))


def words(rng: random.Random, count: int) -> str:
	"""`count` pseudo-words (1-3 syllables), capitalised sentences of 6-14 words."""
	out: list[str] = []
	sentence = 0
	target = rng.randint(6, 14)
	for _ in range(count):
		w = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3)))
		if sentence == 0:
			w = w.capitalize()
		sentence += 1
		if sentence >= target:
			w += "."
			sentence = 0
			target = rng.randint(6, 14)
		out.append(w)
	text = " ".join(out)
	return text if text.endswith(".") else text + "."


def chat(rng: random.Random, conversations: int) -> list[dict[str, object]]:
	"""ShareGPT-shaped conversations: human/gpt turns, some after a shared system prompt."""
	out: list[dict[str, object]] = []
	for i in range(conversations):
		turns: list[dict[str, str]] = []
		if i % 3 == 0:
			turns.append({"from": "system", "value": _SYSTEM[(i // 3) % len(_SYSTEM)]})
		for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
			turns.append({"from": "human", "value": words(rng, lognormal_int(rng, 24, 0.7, 3, 160))})
			turns.append({"from": "gpt", "value": words(rng, lognormal_int(rng, 20, 0.6, 2, 96))})
		out.append({"id": f"chat-{i:04d}", "conversations": turns})
	return out


def prompts(rng: random.Random, count: int) -> list[dict[str, object]]:
	return [
		{"prompt": words(rng, lognormal_int(rng, 30, 0.8, 3, 200)), "output_tokens": lognormal_int(rng, 16, 0.6, 2, 64)}
		for _ in range(count)
	]


def bursty_times(rng: random.Random, count: int, calm: float = 1.0, burst: float = 6.0) -> list[float]:
	"""Arrival times (s): a Poisson process switching between `calm` and `burst` req/s every few seconds."""
	times: list[float] = []
	t = 0.0
	rate = calm
	switch = rng.expovariate(1 / 8.0)
	while len(times) < count:
		t += rng.expovariate(rate)
		if t >= switch:
			rate = burst if rate == calm else calm
			switch = t + rng.expovariate(1 / (3.0 if rate == burst else 8.0))
		times.append(t)
	return times


def azure_trace(rng: random.Random, count: int) -> str:
	"""Azure LLM inference trace columns; timestamps as the published traces write them."""
	start = dt.datetime(2026, 1, 5, 10, 0, 0)
	lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
	for t in bursty_times(rng, count):
		stamp = (start + dt.timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S.%f") + "0"
		lines.append(f"{stamp},{lognormal_int(rng, 48, 0.8, 4, 400)},{lognormal_int(rng, 12, 0.6, 2, 64)}")
	return "\n".join(lines) + "\n"


def mooncake_trace(rng: random.Random, count: int, block: int = 64) -> str:
	"""Mooncake's trace fields; requests of one session repeat its leading blocks (hash ids) and add their own."""
	lines = []
	next_hash = 0
	sessions: list[list[int]] = []
	for t in bursty_times(rng, count):
		if sessions and rng.random() < 0.6:
			prefix = rng.choice(sessions)
		else:
			prefix = list(range(next_hash, next_hash + rng.randint(1, 2)))
			next_hash += len(prefix)
			sessions.append(prefix)
		own = rng.randint(0, 1)
		ids = prefix + list(range(next_hash, next_hash + own))
		next_hash += own
		length = (len(ids) - 1) * block + rng.randint(16, block) if ids else rng.randint(16, block)
		rec = {
			"timestamp": round(t * 1000),
			"input_length": length,
			"output_length": lognormal_int(rng, 12, 0.6, 2, 64),
		}
		rec["hash_ids"] = ids
		lines.append(json.dumps(rec))
	return "\n".join(lines) + "\n"


def write_all(out_dir: Path, *, seed: int = 7, conversations: int = 40, requests: int = 120) -> list[Path]:
	"""Write every sample file into `out_dir`; the same arguments write the same bytes."""
	out_dir.mkdir(parents=True, exist_ok=True)
	files = {
		"chat.json": json.dumps(chat(random.Random(f"{seed}-chat"), conversations), indent=1) + "\n",
		"prompts.jsonl": "".join(json.dumps(p) + "\n" for p in prompts(random.Random(f"{seed}-prompts"), requests)),
		"trace_azure.csv": azure_trace(random.Random(f"{seed}-azure"), requests),
		"trace_mooncake.jsonl": mooncake_trace(random.Random(f"{seed}-mooncake"), requests),
	}
	written = []
	for name, text in files.items():
		path = out_dir / name
		path.write_text(text)
		written.append(path)
	return written


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--out-dir", type=Path, default=REPO / "examples" / "workloads")
	ap.add_argument("--seed", type=int, default=7)
	ap.add_argument("--conversations", type=int, default=40)
	ap.add_argument("--requests", type=int, default=120)
	args = ap.parse_args()
	for path in write_all(args.out_dir, seed=args.seed, conversations=args.conversations, requests=args.requests):
		print(f"{path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
	main()
