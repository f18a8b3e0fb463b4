"""Free-port helpers."""

from __future__ import annotations

import socket

from ..errors import EngineStartError


def free_port(host: str = "127.0.0.1") -> int:
	with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
		s.bind((host, 0))
		return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
	with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		try:
			s.bind((host, port))
		except OSError:
			return True
		return False


def ensure_port_free(port: int, host: str = "127.0.0.1", why: str = "") -> None:
	"""Raise a clear EngineStartError when `port` is taken (never start an engine that would not bind)."""
	if port_in_use(port, host):
		raise EngineStartError(
			f"port {port} is already in use by another process{f' ({why})' if why else ''}",
			hint="stop what listens there, or leave engine_port unset so a free port is picked",
		)
