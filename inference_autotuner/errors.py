"""Domain errors. Every error a user can cause is an AutotunerError with a message that names the cause and a fix."""

from __future__ import annotations


class AutotunerError(Exception):
	"""Base of every error the tool reports to a user without a traceback.

	exit_code: the CLI's exit status; http_status: the API's answer (api/errors.py reads it)."""

	exit_code = 1
	http_status = 400

	def __init__(self, message: str, hint: str | None = None) -> None:
		super().__init__(message)
		self.message = message
		self.hint = hint

	def __str__(self) -> str:
		return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class SpecProblem:
	"""One problem in a task spec: where (field path), what, and how to fix it."""

	__slots__ = ("path", "message", "hint")

	def __init__(self, path: str, message: str, hint: str | None = None) -> None:
		self.path = path
		self.message = message
		self.hint = hint

	def __str__(self) -> str:
		text = f"{self.path or '<spec>'}: {self.message}"
		return text if not self.hint else f"{text} (hint: {self.hint})"

	def as_dict(self) -> dict[str, str | None]:
		return {"path": self.path, "message": self.message, "hint": self.hint}


class SpecError(AutotunerError):
	"""The task spec is invalid; carries every problem found, not just the first."""

	exit_code = 2

	def __init__(self, problems: list[SpecProblem], source: str | None = None) -> None:
		self.problems = problems
		self.source = source
		where = f" in {source}" if source else ""
		lines = [f"{len(problems)} problem(s){where}:"] + [f"  - {p}" for p in problems]
		super().__init__("\n".join(lines))


class UsageError(AutotunerError):
	"""A bad option or argument (an unknown --format, ...): exit 2, HTTP 400."""

	exit_code = 2


class ModelNotFoundError(AutotunerError):
	exit_code = 2


class EngineStartError(AutotunerError):
	"""The engine did not become ready: exited early, timed out, or its port was taken.

	`kind` tells failed starts apart where the deployer can: bad-flag, bad-config, out-of-memory, crashed, timeout."""

	def __init__(self, message: str, hint: str | None = None, kind: str | None = None) -> None:
		super().__init__(message, hint)
		self.kind = kind


class DeployError(AutotunerError):
	pass


class BenchmarkError(AutotunerError):
	pass


class TaskNotFoundError(AutotunerError):
	exit_code = 2
	http_status = 404


# -- what the application layer answers (CLI and API alike) -----------------------------------------------------
class NotFound(AutotunerError):
	exit_code = 2
	http_status = 404


class Conflict(AutotunerError):
	"""The request is valid but the state does not allow it now (a running task, a name taken)."""

	http_status = 409


class Unavailable(AutotunerError):
	"""A service the request needs (the database, Redis) cannot be reached."""

	http_status = 503


class Unauthorized(AutotunerError):
	"""No token, or a token that is unknown or revoked."""

	http_status = 401


class Forbidden(AutotunerError):
	"""Signed in, but the role or ownership does not allow it; or a foreign Origin."""

	http_status = 403


class UnsupportedMediaType(AutotunerError):
	http_status = 415


class CancelledError(AutotunerError):
	"""The task was cancelled (Ctrl-C, SIGTERM or a cancel request)."""

	exit_code = 130
