"""WebSocket /api/ws/tasks/{task_id}: the task's status, then every event the runner emits, as JSON messages.

Who may listen: a viewer or above, by `Authorization: Bearer` (non-browser clients) or the web app's sign-in cookie
(browsers cannot set headers on a WebSocket); the guard middleware has already refused a foreign Origin. A refused
socket is closed with code 1008 (policy violation) before it is accepted, with the reason."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...runner.events import TaskStatusEvent
from ...services import commands as svc
from ..auth import principal_of
from ..deps import MAX_ID
from ..errors import NotFound, Unauthorized

router = APIRouter(tags=["websocket"])


@router.websocket("/api/ws/tasks/{task_id}")
async def task_events(websocket: WebSocket, task_id: int) -> None:
	app = websocket.app
	try:
		await asyncio.to_thread(principal_of, websocket)
	except Unauthorized as exc:
		await websocket.close(code=1008, reason=exc.message)
		return
	if not 1 <= task_id <= MAX_ID:
		await websocket.close(code=1008, reason="task id out of range")
		return
	try:
		task = await asyncio.to_thread(svc.get_task, app.state.store, task_id)
	except NotFound:
		await websocket.close(code=1008, reason=f"task {task_id} not found")
		return
	hub = app.state.hub
	sub = hub.subscribe(task_id)  # before the snapshot: no event falls between the two
	await websocket.accept()
	try:
		snapshot = TaskStatusEvent(task_id=task_id, status=task.status, snapshot=True)
		await websocket.send_json(snapshot.model_dump(mode="json"))
		receiver = asyncio.create_task(_drain(websocket))
		while not receiver.done():
			getter = asyncio.create_task(sub[1].get())
			done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
			if getter in done:
				await websocket.send_json(getter.result())
			else:
				getter.cancel()
	except (WebSocketDisconnect, RuntimeError):
		pass
	finally:
		hub.unsubscribe(task_id, sub)
		with contextlib.suppress(Exception):
			await websocket.close()


async def _drain(websocket: WebSocket) -> None:
	"""Read (and ignore) what the client sends, so a disconnect is noticed."""
	with contextlib.suppress(WebSocketDisconnect, RuntimeError):
		while True:
			await websocket.receive_text()
