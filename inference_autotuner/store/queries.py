"""Small reads every layer needs (the runner, the views)."""

from __future__ import annotations

from sqlalchemy import select

from .db import Store
from .models import Experiment


def experiments_of(store: Store, task_id: int) -> list[Experiment]:
	"""A task's experiments in number order, detached from the session."""
	with store.session() as s:
		rows = list(s.scalars(select(Experiment).where(Experiment.task_id == task_id).order_by(Experiment.number)))
		for r in rows:
			s.expunge(r)
		return rows
