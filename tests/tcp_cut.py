"""A TCP forwarder a test can cut and restore: one process's connection to a shared server (PostgreSQL) goes away
for a while and comes back on the same address, while the server itself keeps serving everyone else.

cut(): the listening socket and every forwarded connection are closed (clients see resets, new connections are
refused); restore(): it listens again on the same port."""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpCut:
	def __init__(self, target_host: str, target_port: int) -> None:
		self.target = (target_host, target_port)
		self._lock = threading.Lock()
		self._conns: list[socket.socket] = []
		self._listener: socket.socket | None = None
		self.port = 0
		self.restore()

	def restore(self) -> None:
		"""Listen (again) on the same port; forward each connection to the target."""
		ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		ls.bind(("127.0.0.1", self.port))
		ls.listen(64)
		self.port = ls.getsockname()[1]
		with self._lock:
			self._listener = ls
		threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

	def cut(self) -> None:
		"""Close the listener and every forwarded connection."""
		with self._lock:
			ls, self._listener = self._listener, None
			conns, self._conns = self._conns, []
		for s in [*([ls] if ls is not None else []), *conns]:
			with contextlib.suppress(OSError):
				s.shutdown(socket.SHUT_RDWR)
			s.close()

	close = cut

	def _accept(self, ls: socket.socket) -> None:
		while True:
			try:
				client, _ = ls.accept()
			except OSError:
				return  # cut
			try:
				upstream = socket.create_connection(self.target, timeout=5)
				upstream.settimeout(None)
			except OSError:
				client.close()
				continue
			with self._lock:
				if self._listener is not ls:  # cut meanwhile
					client.close()
					upstream.close()
					return
				self._conns += [client, upstream]
			threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
			threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

	@staticmethod
	def _pump(src: socket.socket, dst: socket.socket) -> None:
		try:
			while data := src.recv(65536):
				dst.sendall(data)
		except OSError:
			pass
		for s in (src, dst):
			with contextlib.suppress(OSError):
				s.shutdown(socket.SHUT_RDWR)
			s.close()
