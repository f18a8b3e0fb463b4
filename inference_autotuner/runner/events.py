"""Events the runner emits while a task runs (the CLI renders them; the API forwards them over WebSocket)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
EventSink = Callable[[Event], None]


def no_events(_: Event) -> None:
	return None
