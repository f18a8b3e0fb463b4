"""What a run's requests come to: the tally of finished ones (records, progress, precision, early stop), the
outcome of a run, and the small helpers the run loops share (sender.py sends, loops.py and arrivals.py drive)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .metrics import RequestRecord
from .precision import PrecisionTracker


class _Prompted(Protocol):
	"""What `distinct` reads of a planned request (sender.Planned)."""

	@property
	def input_tokens(self) -> int: ...

	@property
	def variant(self) -> int: ...


P = TypeVar("P", bound=_Prompted)


class Tally:
	"""Where a run's measured requests go as they finish: the records, progress, precision and early stop. In a
	multi-process run the parent's tally is fed by every client process (processes.py)."""

	def __init__(
		self,
		stop_check: Callable[[RequestRecord], str | None] | None = None,
		precision: PrecisionTracker | None = None,
		sink: Callable[[RequestRecord], None] | None = None,
	) -> None:
		self.records: list[RequestRecord] = []
		self.stop_check = stop_check
		self.stopped_early: str | None = None
		self.halt = asyncio.Event()
		self.precision = precision
		self.enough = False  # the objective is known to benchmark.precision: send no more (those in flight finish)
		self.sink = sink  # a client process: each finished request also goes to its parent

	def finished(self, rec: RequestRecord, progress: Callable[[int, int], None] | None, total: int) -> None:
		"""Keep one measured request, report progress, and halt the run when `stop_check` says it is lost."""
		self.records.append(rec)
		if self.sink is not None:
			self.sink(rec)
		if progress is not None:
			try:
				progress(len(self.records), total)
			except Exception:  # a broken progress display must not stop the measurement
				pass
		if self.precision is not None and self.precision.add(rec):
			self.enough = True
		if self.stop_check is not None and self.stopped_early is None:
			why = self.stop_check(rec)
			if why:
				self.stopped_early = why
				self.halt.set()


@dataclass
class Outcome:
	"""What a run's requests gave, before any figure is computed."""

	records: list[RequestRecord]
	stalls: list[float] = field(default_factory=list)
	warm_rounds: int = 0
	warm_steady: bool = False
	stopped_early: str | None = None
	enough: bool = False


def shares(total: int, parts: int) -> list[int]:
	"""`total` split into `parts` near-equal whole shares (the first ones one larger), e.g. 33 over 2: [17, 16]."""
	return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def distinct(items: list[P]) -> list[P]:
	"""The items whose prompts differ (same length and variant: same prompt; a plan repeats after
	MAX_UNIQUE_PROMPTS)."""
	seen: set[tuple[int, int]] = set()
	out: list[P] = []
	for item in items:
		key = (item.input_tokens, item.variant)
		if key not in seen:
			seen.add(key)
			out.append(item)
	return out
