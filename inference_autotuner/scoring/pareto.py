"""Pareto front of points under several objectives (for multi-objective search and display)."""

from __future__ import annotations

import math
from collections.abc import Sequence

_DIRECTIONS = {"minimize": 1.0, "min": 1.0, "maximize": -1.0, "max": -1.0}


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
	"""True when a is no worse than b in every (minimised) coordinate and strictly better in at least one."""
	return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
	"""Indices (ascending) of the points no other point dominates.

	points: e.g. a list of tuples, one per experiment, all of the same length.
	directions: one per coordinate, "minimize" or "maximize" ("min" / "max" also accepted).
	Equal points do not dominate each other, so duplicates on the front are all kept. A point with a NaN
	coordinate cannot be compared and is never on the front. O(n^2) pairwise comparisons.
	"""
	signs: list[float] = []
	for d in directions:
		if d not in _DIRECTIONS:
			raise ValueError(f"unknown direction {d!r}; valid: minimize, maximize")
		signs.append(_DIRECTIONS[d])
	for i, p in enumerate(points):
		if len(p) != len(signs):
			raise ValueError(f"point {i} has {len(p)} coordinate(s) but {len(signs)} direction(s) were given")
	# Turn every coordinate into a lower-is-better one.
	flipped = [tuple(s * v for s, v in zip(signs, p, strict=True)) for p in points]
	candidates = [i for i, p in enumerate(flipped) if not any(math.isnan(v) for v in p)]
	return [i for i in candidates if not any(dominates(flipped[j], flipped[i]) for j in candidates if j != i)]
