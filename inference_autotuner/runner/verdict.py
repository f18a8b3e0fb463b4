"""How a task that ran to its end ends: `completed`, or `failed` when none of its experiments measured anything
because they all failed (the engine would not start, crashed, timed out, no request completed).

Infeasible and pruned experiments were measured: the tool worked and found no (or a worse) feasible config, so such a
task is `completed`. Skipped ones were refused before launch (e.g. a config that does not fit the GPU): they are not
failures of the tool either, so a task whose experiments were all skipped is `completed` with nothing to recommend;
among failed ones they are counted in the message but do not save the task. See docs/runner.md.
"""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select

from ..store import Experiment, ExperimentStatus, Store
from .base import FINAL

MEASURED = (ExperimentStatus.SUCCESS, ExperimentStatus.INFEASIBLE, ExperimentStatus.PRUNED)
REASON_KINDS_SHOWN = 4
REASON_CHARS = 120


def reason_kind(reason: str | None) -> str:
	"""A failure reason without what differs between experiments of the same cause: its log path and log lines."""
	text = (reason or "").strip().splitlines()[0] if (reason or "").strip() else "no reason recorded"
	text = re.sub(r"\s*\(log: [^)]*\)", "", text)
	text = re.sub(r";?\s*last log lines:.*$", "", text).strip().rstrip(";:,")
	return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def all_failed(store: Store, task_id: int) -> str | None:
	"""Why the task failed when every experiment that was launched failed and none measured anything, e.g.
	"all 5 experiments failed: 3 x engine exited with code 1 before it was ready, 2 x timed out after 60 s ...";
	None when some experiment was measured, or none failed."""
	with store.session() as s:
		rows = s.execute(
			select(Experiment.status, Experiment.failure_reason).where(
				Experiment.task_id == task_id, Experiment.status.in_(FINAL)
			)
		).all()
	if any(status in MEASURED for status, _ in rows):
		return None
	failed = [reason for status, reason in rows if status == ExperimentStatus.FAILED]
	if not failed:
		return None
	kinds = Counter(reason_kind(r) for r in failed).most_common()
	shown = [f"{n} x {kind}" for kind, n in kinds[:REASON_KINDS_SHOWN]]
	rest = sum(n for _, n in kinds[REASON_KINDS_SHOWN:])
	if rest:
		shown.append(f"{rest} x other reasons")
	skipped = len(rows) - len(failed)
	head = f"all {len(failed)} experiments failed" if len(failed) > 1 else "the only experiment failed"
	if skipped:
		head = f"{head} ({skipped} more skipped before launch)"
	return f"{head}: {', '.join(shown)}"
