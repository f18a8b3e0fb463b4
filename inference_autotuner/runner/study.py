"""The one place a task's Optuna study is opened: by the task's study name, in optimization.storage when the spec
gives one (else the autotuner database), marked as the task's own so that a study of something else is never mixed in.

Resume opens the same study the same way, so a study in an external storage is found there again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import optuna

from ..errors import AutotunerError
from ..search import open_study
from ..spec.models import OptimizationSpec
from ..store import Store, Task
from ..store.db import Heartbeat, study_storage_url

OWNER_ATTR = "autotuner_task"  # study user attribute: which task owns the study


def owner_mark(task_id: int, created_at: datetime | None) -> str:
	"""What marks a study as this task's: its id and creation time (a rename keeps it, a new task differs)."""
	if created_at is not None and created_at.tzinfo is not None:  # stored as UTC; a database may hand it back local
		created_at = created_at.astimezone(UTC)
	when = created_at.strftime("%Y-%m-%dT%H:%M:%S") if created_at is not None else "?"
	return f"task {task_id} created {when}"


def open_task_study(  # type: ignore[no-untyped-def]
	store: Store,
	task_id: int,
	sampler: optuna.samplers.BaseSampler,
	opt: OptimizationSpec,
	*,
	heartbeat: Heartbeat | None = None,
):
	"""Create or load task `task_id`'s study. Refuses a study that another task (or another program) made.
	`heartbeat`: the study's trials carry Optuna heartbeats (a task shared by several workers)."""
	with store.session() as s:
		task = s.get(Task, task_id)
		if task is None:
			raise AutotunerError(f"task {task_id} not found")
		name, spec, mark = task.study_name, dict(task.spec), owner_mark(task.id, task.created_at)
	url = study_storage_url(spec)
	study = open_study(store.study_storage(spec, heartbeat=heartbeat), name, sampler, opt=opt)
	owner = study.user_attrs.get(OWNER_ATTR)
	foreign = owner is not None and owner != mark
	if owner is None and url is not None and study.trials:
		foreign = True  # an external storage's study with trials that no task of ours marked: not ours
	if foreign:
		where = "the autotuner database" if url is None else "optimization.storage"
		raise AutotunerError(
			f"the Optuna study '{name}' in {where} belongs to something else ({owner or 'not made by this tuner'}, "
			f"{len(study.trials)} trial(s)); a task does not continue another's study",
			hint="give the task its own optimization.study_name, or delete that study (optuna delete-study)",
		)
	if owner is None:
		study.set_user_attr(OWNER_ATTR, mark)
	return study
