"""Compare a configuration's probe with the reference's: top-1 agreement, mean KL over the top-k, exact match.

Alignment: both sides generate greedily from the same prompt, so their contexts are the same up to the first
position where the greedy tokens differ. Each prompt is compared at every position up to and including that first
difference (after it the contexts differ and the distributions are not comparable); a prompt that never differs is
compared at every position. llama.cpp's --kl-divergence feeds the same text to both (teacher forcing); a server
API cannot, so this is the prefix-aligned equivalent.

KL approximation (servers return only the top-k log-probabilities): KL(P_ref || P_cand) over the reference's top-k
tokens T plus one "other" bucket holding the rest of each distribution (1 - its mass on T). Coarse-graining a
distribution can only lower a KL divergence, so the figure is a lower bound of the full-vocabulary KL. A token of T
missing from the candidate's top-k gets the candidate's leftover mass (1 - its top-k mass) shared evenly among the
missing tokens, capped at the candidate's k-th probability (a token outside the top-k is no likelier than that);
every probability is floored at 1e-10. The figure is the mean over the compared positions, in nats.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from .requests import Completion, Position

FLOOR = 1e-10


class Comparison(BaseModel):
	top1: float | None = Field(description="Share of compared positions whose greedy token equals the reference's")
	kl: float | None = Field(description="Mean KL(reference || candidate) over the reference's top-k, nats")
	exact: float | None = Field(description="Share of completions identical to the reference's")
	positions: int = Field(description="Positions compared")


def position_kl(ref: Position, cand: Position) -> float:
	"""KL(ref || cand) at one position over the reference's top-k tokens and an "other" bucket (module docstring)."""
	if not ref.top:
		return 0.0
	p = {t: math.exp(lp) for t, lp in ref.top.items()}
	cand_p = {t: math.exp(lp) for t, lp in cand.top.items()}
	missing = [t for t in p if t not in cand_p]
	leftover = max(0.0, 1.0 - sum(cand_p.values()))
	# a token outside the candidate's top-k has at most the k-th probability: never more than that
	fill = min(leftover / len(missing), min(cand_p.values(), default=leftover)) if missing else 0.0
	q = {t: cand_p.get(t, fill) for t in p}
	p["\0other"] = 1.0 - sum(p.values())
	q["\0other"] = 1.0 - sum(q.values())
	return sum(pv * math.log(pv / max(q[t], FLOOR)) for t, pv in p.items() if pv > FLOOR)


def compare(reference: list[Completion], candidate: list[Completion]) -> Comparison:
	"""The figures of `candidate` against `reference` (same prompts, same order)."""
	agree = compared = 0
	kls: list[float] = []
	same = 0
	for ref, cand in zip(reference, candidate, strict=False):
		same += ref.text == cand.text
		for rp, cp in zip(ref.positions, cand.positions, strict=False):
			compared += 1
			kls.append(position_kl(rp, cp))
			if rp.token != cp.token:
				break
			agree += 1
	n = min(len(reference), len(candidate))
	return Comparison(
		top1=agree / compared if compared else None,
		kl=sum(kls) / len(kls) if kls else None,
		exact=same / n if n else None,
		positions=compared,
	)
