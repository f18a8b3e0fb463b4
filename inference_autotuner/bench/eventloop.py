"""The event loop measurements run on: uvloop where it is importable (libuv: less of the client's own CPU per
request and per streamed chunk, so the client is less often the bottleneck), else asyncio's own loop, silently."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
	"""uvloop's loop factory, or None (asyncio's default loop) when uvloop is not installed."""
	try:
		import uvloop
	except ImportError:
		return None
	return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
	"""asyncio.run(main) on the fastest loop available (uvloop when importable)."""
	with asyncio.Runner(loop_factory=loop_factory()) as runner:
		return runner.run(main)
