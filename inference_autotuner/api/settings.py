"""Server settings: database, queue, worker slots, who may reach it. Unsafe or impossible combinations are refused at
start."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..errors import AutotunerError
from ..paths import default_db_url

# Host header names a loopback server answers to (DNS rebinding: a foreign name pointing at 127.0.0.1 is refused).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
	"""Whether a listen address (or a Host name) only reaches this machine."""
	name = host.strip().strip("[]").lower()
	if name == "localhost" or name.endswith(".localhost"):
		return True
	try:
		return ipaddress.ip_address(name).is_loopback
	except ValueError:
		return False


def host_pattern(host: str) -> str:
	"""A listen address as the Host header carries it (IPv6 in brackets, lower case)."""
	name = host.strip().lower()
	try:
		if ipaddress.ip_address(name.strip("[]")).version == 6:
			return f"[{name.strip('[]')}]"
	except ValueError:
		pass
	return name


@dataclass
class Settings:
	db_url: str | None = None  # default: SQLite in the data dir (AUTOTUNER_DB)
	redis_url: str | None = None  # None: in-process worker; else ARQ queue + `autotuner worker` processes
	worker_slots: int = 1  # in-process worker: tasks run at the same time
	run_worker: bool = True  # in-process worker in this process (ignored with redis_url)
	# Host header names answered (bare names, no port; '*.example.com' for subdomains); anything else gets 400
	allowed_hosts: list[str] = field(default_factory=lambda: list(LOOPBACK_HOSTS))
	# Origins (scheme://host[:port]) besides the server's own that may write and open WebSockets; they also get CORS
	cors_origins: list[str] = field(default_factory=list)
	# Every request needs a token, even while no user exists (serve sets it when listening beyond loopback)
	require_auth: bool = False

	def __post_init__(self) -> None:
		self.db_url = self.db_url or default_db_url()
		if self.worker_slots < 1:
			raise AutotunerError("worker slots must be >= 1", hint="use --slots 1 or more")
		if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
			raise AutotunerError(
				f"not a Redis URL: {self.redis_url}", hint="use redis://host:6379/0 or unix:///path/redis.sock"
			)
		self.allowed_hosts = [host_pattern(h) for h in self.allowed_hosts if h.strip()]
		for h in self.allowed_hosts:
			wildcard = h == "*" or "*" in h[1:] or (h.startswith("*") and not h.startswith("*."))
			if wildcard or "/" in h or (":" in h and not h.startswith("[")):
				raise AutotunerError(
					f"not an allowed host name: {h!r}",
					hint="give bare host names without scheme or port, e.g. tuner.example.com or *.example.com",
				)
		origins = []
		for o in self.cors_origins:
			o = o.strip().rstrip("/").lower()
			if not o:
				continue
			if o == "*" or not o.startswith(("http://", "https://")) or "/" in o.split("://", 1)[1]:
				raise AutotunerError(
					f"not an origin: {o!r}",
					hint="give scheme://host[:port], e.g. https://tuner.example.com ('*' is refused)",
				)
			origins.append(o)
		self.cors_origins = origins

	@property
	def queue_mode(self) -> str:
		return "redis" if self.redis_url else "in-process"
