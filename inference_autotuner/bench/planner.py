"""The requests of one run of the built-in client, planned before the clock starts: sizes drawn from the traffic
scenario with the run's seed, or a workload's requests (bench/workload.py) in the same order on every run.

- synthetic: `max_requests` requests of sampled sizes (distinct prompts up to MAX_UNIQUE_PROMPTS, then reused);
- dataset: the file's (sampled) entries in order, the first turn of each conversation, cycled up to max_requests;
- shared_prefix: request i belongs to group i mod groups and starts with that group's prefix;
- trace: the trace's requests in time order (at most max_requests), due at their recorded times / speedup;
- sessions: whole conversations (the file's, or synthetic ones of `turns` turns), enough to make max_requests turns.
Every variant (a synthetic prompt's start in the seed text) is new for the run, so two runs' synthetic prompts differ
and only the workload's own sharing can hit a prefix cache.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .prompts import PromptBuilder
from .request import RunRequest
from .sender import Planned
from .workload import Conversation, Workload, WorkloadScenario

MAX_UNIQUE_PROMPTS = 2048
"""Distinct prompts built per run; longer runs reuse them in turn (then prefix caches may hit)."""


@dataclass
class RunPlan:
	warm: list[Planned]
	requests: list[Planned] = field(default_factory=list)  # sent one by one (closed or open loop)
	sessions: list[list[Planned]] | None = None  # sessions mode: each conversation's turns, in order
	offsets: list[float] | None = None  # trace: each request's due time, seconds after the start
	think_time_s: float = 0.0

	@property
	def total(self) -> int:
		return len(self.requests) if self.sessions is None else sum(len(s) for s in self.sessions)


def workload_of(req: RunRequest) -> Workload | None:
	return req.scenario.workload if isinstance(req.scenario, WorkloadScenario) else None


def plan_run(req: RunRequest) -> RunPlan:
	rng = random.Random(req.seed)
	warm = [Planned(*req.scenario.sample(rng), variant=PromptBuilder.new_variant()) for _ in range(req.warmup)]
	wl = workload_of(req)
	if wl is None:
		return RunPlan(warm, _synthetic(req, rng))
	if wl.kind == "sessions":
		return RunPlan(warm, sessions=_sessions(req, wl, rng), think_time_s=wl.think_time_s)
	if wl.kind == "trace":
		blocks: dict[int, int] = {}  # one variant per Mooncake hash id, new for each run
		reqs = [_from_conversation(c, wl, 0, blocks) for c in wl.conversations[: req.max_requests]]
		speed = req.speedup or wl.speedup
		return RunPlan(warm, reqs, offsets=[(c.at or 0.0) / speed for c in wl.conversations[: req.max_requests]])
	if wl.kind == "shared_prefix":
		groups = PromptBuilder.reserve_variants(wl.groups)
		shape = req.scenario.shape if isinstance(req.scenario, WorkloadScenario) else req.scenario
		inp, out = shape.sample(rng)
		own = max(1, inp - wl.prefix_tokens)
		reqs = [
			Planned(
				own,
				out,
				PromptBuilder.new_variant(),
				prefix_tokens=wl.prefix_tokens,
				prefix_variant=groups + i % wl.groups,
			)
			for i in range(req.max_requests)
		]
		return RunPlan(warm, reqs)
	convs = wl.conversations
	salt = run_salt() if wl.salt else ""
	return RunPlan(warm, [_from_conversation(convs[i % len(convs)], wl, salt=salt) for i in range(req.max_requests)])


def run_salt() -> str:
	"""A short text no other run of this process starts its prompts with (a dataset's cache hygiene)."""
	return f"[run {PromptBuilder.new_variant():06d}] "


def _synthetic(req: RunRequest, rng: random.Random) -> list[Planned]:
	plan: list[Planned] = []
	for i in range(req.max_requests):
		if i < MAX_UNIQUE_PROMPTS:
			plan.append(Planned(*req.scenario.sample(rng), variant=PromptBuilder.new_variant()))
		else:
			again = plan[i % MAX_UNIQUE_PROMPTS]
			plan.append(Planned(again.input_tokens, again.output_tokens, again.variant))
	return plan


def _from_conversation(
	c: Conversation, wl: Workload, turn: int = 0, blocks: dict[int, int] | None = None, salt: str = ""
) -> Planned:
	t = c.turns[turn]
	item = Planned(t.input_tokens, t.output_tokens, PromptBuilder.new_variant(), text=t.text, reply=t.reply)
	item.system = c.system
	if salt and item.system is not None:  # the conversation's first words: its system prompt (sent every turn) ...
		item.system = salt + item.system
	elif salt and turn == 0 and item.text is not None:  # ... or its first turn (later turns re-send it as history)
		item.text = salt + item.text
	if c.blocks:  # Mooncake: every block but the last is a shared prefix block; the last holds the rest
		shared = c.blocks[:-1] if len(c.blocks) * wl.block_tokens >= t.input_tokens else c.blocks
		known = blocks if blocks is not None else {}
		item.block_variants = tuple(known.setdefault(h, PromptBuilder.new_variant()) for h in shared)
		item.input_tokens = max(1, t.input_tokens - len(shared) * wl.block_tokens)
	return item


def _sessions(req: RunRequest, wl: Workload, rng: random.Random) -> list[list[Planned]]:
	"""Conversations of up to `turns` turns, enough for max_requests turns in all."""
	out: list[list[Planned]] = []
	total = 0
	i = 0
	shape = req.scenario.shape if isinstance(req.scenario, WorkloadScenario) else req.scenario
	salt = run_salt() if wl.salt else ""
	limit = max(1, math.ceil(req.max_requests / max(1, wl.turns))) * 4 + len(wl.conversations)
	while total < req.max_requests and i < limit:
		if wl.conversations:
			c = wl.conversations[i % len(wl.conversations)]
			turns = [_from_conversation(c, wl, k, salt=salt) for k in range(min(wl.turns, len(c.turns)))]
		else:
			turns = [Planned(*shape.sample(rng), variant=PromptBuilder.new_variant()) for _ in range(wl.turns)]
		turns = turns[: req.max_requests - total]
		out.append(turns)
		total += len(turns)
		i += 1
	return out
