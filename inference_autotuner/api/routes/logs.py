"""Task log (JSON, or SSE with follow) and experiment (engine) logs; only files under the data directory are read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from ...paths import logs_dir
from ...services import commands as svc
from ...store import Experiment, Store
from ...worker import task_log_path
from ..deps import ExperimentId, StoreDep, TaskId
from ..errors import NotFound
from ..schemas import ErrorBody, TaskLogs

router = APIRouter(prefix="/api/tasks", tags=["logs"])
MAX_READ = 5_000_000


def _inside_logs(path: Path) -> bool:
	try:
		return path.resolve().is_relative_to(logs_dir().resolve())
	except (OSError, ValueError):
		return False


def _read_tail(path: Path, tail: int | None) -> str:
	if not path.exists() or not _inside_logs(path):
		return ""
	with path.open("rb") as f:
		f.seek(0, 2)
		size = f.tell()
		f.seek(max(0, size - MAX_READ))
		text = f.read().decode("utf-8", errors="replace")
	if tail:
		text = "\n".join(text.splitlines()[-tail:]) + "\n"
	return text


@router.get(
	"/{task_id}/logs",
	operation_id="get_task_logs",
	response_model=TaskLogs,
	responses={404: {"model": ErrorBody}, 200: {"content": {"text/event-stream": {}}}},
)
def task_logs(
	task_id: TaskId,
	store: StoreDep,
	follow: Annotated[bool, Query(description="Stream as Server-Sent Events until the task stops")] = False,
	tail: Annotated[int | None, Query(ge=1, le=100000, description="Only the last N lines")] = None,
) -> TaskLogs | StreamingResponse:
	task = svc.get_task(store, task_id)
	path = task_log_path(task.id, task.name)
	if not follow:
		text = _read_tail(path, tail)
		return TaskLogs(task_id=task_id, logs=text, lines=len(text.splitlines()))
	return StreamingResponse(
		_follow(store, task_id, path), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
	)


async def _follow(store: Store, task_id: int, path: Path) -> AsyncIterator[str]:
	"""Every line so far, then new lines as they are written; ends (event: end) once the task is not active."""
	pos = 0
	buf = b""
	idle = 0.0
	while True:
		chunk = b""
		if path.exists() and _inside_logs(path):
			with path.open("rb") as f:
				f.seek(pos)
				chunk = f.read(1_000_000)
				pos += len(chunk)
		buf += chunk
		*lines, buf = buf.split(b"\n")
		for line in lines:
			yield f"data: {line.decode('utf-8', errors='replace')}\n\n"
		if not chunk:
			status = (await asyncio.to_thread(svc.get_task, store, task_id)).status
			if status not in svc.ACTIVE:
				yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
				return
			idle += 0.25
			if idle >= 15:
				idle = 0
				yield ": keep-alive\n\n"
			await asyncio.sleep(0.25)


@router.get(
	"/{task_id}/experiments/{experiment_id}/logs",
	operation_id="get_experiment_logs",
	response_class=PlainTextResponse,
	responses={404: {"model": ErrorBody}},
)
def experiment_logs(
	task_id: TaskId,
	experiment_id: ExperimentId,
	store: StoreDep,
	tail: Annotated[int | None, Query(ge=1, le=100000, description="Only the last N lines")] = None,
) -> PlainTextResponse:
	"""The engine's output for one experiment (plain text)."""
	with store.session() as s:
		exp = s.get(Experiment, experiment_id)
		if exp is None or exp.task_id != task_id:
			raise NotFound(f"experiment {experiment_id} of task {task_id} not found")
		log_path = exp.log_path
	if not log_path:
		raise NotFound(f"experiment {experiment_id} has no log yet")
	path = Path(log_path)
	if not _inside_logs(path):
		raise NotFound(f"the log of experiment {experiment_id} is not under this server's data directory")
	if not path.exists():
		raise NotFound(f"the log of experiment {experiment_id} is gone ({path.name})")
	return PlainTextResponse(_read_tail(path, tail))
