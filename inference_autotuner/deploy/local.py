"""Local-process deployer: the engine as a child process in its own process group.

Nothing is left behind, however many processes the engine spawns (vLLM: API server, EngineCore, workers): each engine
gets a pid record (pid = its process group, its start time, a unique tag, the tuner's pid and start time) under the
data dir, and the tag in its environment (AUTOTUNER_ENGINE_TAG), which every process it starts inherits. stop()
sends SIGTERM to the group and to every tagged process, then SIGKILL; the engine is also asked to die with its parent
(PR_SET_PDEATHSIG on Linux); and sweep(), run at every start, kills what a killed tuner left (records whose tuner is
gone) by group and tag, even when the group leader is already gone, never touching a reused pid (start times).

Start-up has its own timeout (the spec's startup_timeout); a failed start is told apart (the engine refused a flag,
refused the configuration, ran out of memory, crashed, or was not ready in time) with the engine's own last lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

from ..errors import CancelledError, EngineStartError
from ..gpus import Allocation, GPUAllocator
from ..paths import run_dir
from ..procs import started
from .base import Deployer, Deployment, Launch
from .gpu_hold import GPUHold
from .ports import ensure_port_free


def _die_with_parent() -> None:  # runs in the child between fork and exec
	if sys.platform.startswith("linux") and not os.environ.get("AUTOTUNER_NO_PDEATHSIG"):
		with contextlib.suppress(Exception):
			ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


TAG_ENV = "AUTOTUNER_ENGINE_TAG"


def _tail(path: Path, lines: int = 15) -> str:
	try:
		text = path.read_text(errors="replace").splitlines()
	except OSError:
		return ""
	return "\n".join(text[-lines:])


# How a failed start is told apart, from the engine's log (first match wins) and its exit code.
_FAILURES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
	(
		"bad-flag",
		"the engine refused its command line",
		re.compile(r"error: (unrecognized arguments|argument |the following arguments)|invalid choice:|No such option"),
	),
	(
		"out-of-memory",
		"the engine ran out of memory while starting",
		re.compile(
			r"out of memory|OutOfMemoryError|Cannot allocate memory|MemoryError|not enough memory|insufficient memory"
			r"|No available memory for the cache blocks|larger than the maximum number of tokens that can be stored in "
			r"KV cache|failed to allocate|std::bad_alloc",
			re.IGNORECASE,
		),
	),
	(
		"bad-config",
		"the engine refused the configuration",
		re.compile(r"ValidationError|ValueError|AssertionError|NotImplementedError|is not supported|must be"),
	),
)


def classify_failure(log_text: str, exit_code: int | None) -> tuple[str, str, str | None]:
	"""(kind, description, the log line that tells) for an engine that exited before it was ready."""
	lines = log_text.splitlines()
	for kind, text, pattern in _FAILURES:
		for line in lines:
			if pattern.search(line):
				return kind, text, line.strip()[:400]
	if exit_code in (-signal.SIGKILL, 128 + signal.SIGKILL):
		return "out-of-memory", "the engine was killed (SIGKILL: the kernel's out-of-memory killer?)", None
	return "crashed", f"the engine exited with code {exit_code} before it was ready", None


def _start_time(pid: int) -> float | None:
	try:
		# seconds since boot, not psutil's epoch time, which moves with the clock (procs.py)
		return started(pid)
	except (psutil.NoSuchProcess, psutil.AccessDenied):
		return None


class LocalProcessDeployer(Deployer):
	name = "local"

	def __init__(
		self,
		records: Path | None = None,
		host: str = "127.0.0.1",
		*,
		gpus: bool = False,
		allocator: GPUAllocator | None = None,
		gpu_wait: float | None = None,
	) -> None:
		self.records = records or run_dir()
		self.host = host
		self.use_gpus = gpus  # GPU engines: hold world-size GPUs per engine and pass them as CUDA_VISIBLE_DEVICES
		self.gpu_hold = GPUHold(allocator, gpu_wait)
		self.cancel_event: threading.Event | None = None  # the runner's cancel: a start in progress stops at once

	# -- pid records -------------------------------------------------------------------------------------------
	def _record_path(self, pid: int) -> Path:
		return self.records / f"engine-{pid}.json"

	def _write_record(self, proc: subprocess.Popen[bytes], argv: list[str], labels: dict[str, str], tag: str) -> None:
		me = os.getpid()
		record = {
			"pid": proc.pid,  # also the process group: the engine leads its own session
			"start_time": _start_time(proc.pid),
			"tag": tag,
			"owner_pid": me,
			"owner_start_time": _start_time(me),
			"argv": argv,
			"labels": labels,
		}
		path = self._record_path(proc.pid)
		tmp = path.with_suffix(".tmp")
		tmp.write_text(json.dumps(record))
		tmp.replace(path)

	# -- lifecycle ---------------------------------------------------------------------------------------------
	def start(self, launch: Launch, *, log_path: Path, timeout: float) -> Deployment:
		ensure_port_free(launch.port, self.host)
		allocation = self.gpu_hold.acquire(launch)
		try:
			return self._start(launch, log_path, timeout, allocation)
		except BaseException:
			self.gpu_hold.release(allocation)
			raise

	def _start(self, launch: Launch, log_path: Path, timeout: float, allocation: Allocation | None) -> Deployment:
		argv = list(launch.argv)
		log_path.parent.mkdir(parents=True, exist_ok=True)
		log = log_path.open("ab")
		log.write(f"$ {' '.join(argv)}\n".encode())
		log.flush()
		tag = uuid.uuid4().hex
		full_env = {**os.environ, **launch.env, TAG_ENV: tag}
		if allocation is not None and allocation.gpus:
			full_env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in allocation.ids)
		try:
			proc = subprocess.Popen(
				argv,
				stdin=subprocess.DEVNULL,
				stdout=log,
				stderr=subprocess.STDOUT,
				env=full_env,
				start_new_session=True,  # own process group: stop() signals the whole group
				preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
			)
		except FileNotFoundError:
			log.close()
			raise EngineStartError(
				f"engine executable '{argv[0]}' not found", hint="install the engine or fix PATH"
			) from None
		finally:
			if not log.closed:
				log.close()
		self._write_record(proc, argv, launch.labels, tag)
		base_url = f"http://{self.host}:{launch.port}"
		info: dict[str, object] = {"pid": proc.pid, "tag": tag, "start_time": _start_time(proc.pid)}
		if allocation is not None:
			info["gpu_info"] = GPUHold.info(allocation, launch)
			info["allocation"] = allocation
		deployment = Deployment(base_url=base_url, argv=argv, log_path=log_path, handle=proc, info=info)
		try:
			self._wait_ready(proc, base_url + launch.health_path, timeout, log_path)
		except BaseException:
			self.stop(deployment)
			raise
		return deployment

	def _wait_ready(self, proc: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path) -> None:
		deadline = time.monotonic() + timeout
		with httpx.Client(timeout=2.0) as client:
			while True:
				code = proc.poll()
				if code is not None:
					try:
						text = log_path.read_text(errors="replace")
					except OSError:
						text = ""
					kind, what, line = classify_failure(text, code)
					told = f"\n  {line}" if line else ""
					raise EngineStartError(
						f"{what} (exit code {code}; {kind}){told}\nlast log lines:\n{_tail(log_path)}",
						hint=f"full log: {log_path}",
						kind=kind,
					)
				try:
					if client.get(url).status_code == 200:
						return
				except httpx.HTTPError:
					pass
				if self.cancelled():
					raise CancelledError("cancelled while the engine was starting")
				if time.monotonic() > deadline:
					raise EngineStartError(
						f"engine not ready after {timeout:.0f} s (startup_timeout; timeout); last log lines:\n"
						f"{_tail(log_path)}",
						hint="raise startup_timeout in the spec, or check the log: " + str(log_path),
						kind="timeout",
					)
				time.sleep(0.1)

	def stop(self, deployment: Deployment, grace: float = 10.0) -> None:
		proc: subprocess.Popen[bytes] | None = deployment.handle
		allocation = deployment.info.pop("allocation", None)
		if isinstance(allocation, Allocation):
			self.gpu_hold.release(allocation)
		if proc is None:
			return
		info = deployment.info
		_terminate_tree(proc.pid, info.get("tag"), info.get("start_time"), grace)
		with contextlib.suppress(Exception):
			proc.wait(timeout=1)
		self._record_path(proc.pid).unlink(missing_ok=True)
		deployment.handle = None

	def exit_code(self, deployment: Deployment) -> int | None:
		handle: subprocess.Popen[bytes] | None = deployment.handle
		return handle.poll() if handle is not None else None

	def sweep(self) -> int:
		"""Kill engines whose tuner is gone (killed with -9, crashed); keep those of a tuner still running."""
		removed = 0
		for path in self.records.glob("engine-*.json"):
			try:
				rec = json.loads(path.read_text())
			except (OSError, json.JSONDecodeError):
				path.unlink(missing_ok=True)
				continue
			owner_alive = _start_time(rec["owner_pid"]) == rec.get("owner_start_time")
			if owner_alive and rec["owner_pid"] != os.getpid():
				continue
			if rec["owner_pid"] == os.getpid():
				continue  # our own live engines are stopped by stop()
			if rec.get("start_time") is not None and _engine_processes(rec["pid"], rec.get("tag"), rec["start_time"]):
				_terminate_tree(rec["pid"], rec.get("tag"), rec["start_time"], 5.0)
				removed += 1
			path.unlink(missing_ok=True)
		return removed


def _engine_processes(pgid: int, tag: str | None, since: float | None) -> list[psutil.Process]:
	"""Every live process of one engine: its group (leader = pgid), the leader's descendants, and every process with
	its tag in the environment (a worker that left the group). Processes older than the engine are never included,
	so a reused pid or group id is not touched."""
	found: dict[int, psutil.Process] = {}
	with contextlib.suppress(psutil.Error):
		root = psutil.Process(pgid)
		if since is None or abs(started(root) - since) < 1e-3:
			for p in [root, *root.children(recursive=True)]:
				found[p.pid] = p
	for p in psutil.process_iter(["pid", "status"]):
		if p.pid in found or p.info["status"] == psutil.STATUS_ZOMBIE:
			continue
		try:
			if since is not None and started(p) < since - 1e-3:
				continue
		except psutil.Error:
			continue
		try:
			if os.getpgid(p.pid) == pgid or (tag is not None and p.environ().get(TAG_ENV) == tag):
				found[p.pid] = p
		except (OSError, psutil.Error):
			continue
	return [p for p in found.values() if p.pid != os.getpid()]


def _terminate_tree(pgid: int, tag: str | None, since: float | None, grace: float) -> None:
	"""SIGTERM every process of the engine (group, descendants, tagged), wait up to `grace` s, then SIGKILL the rest."""
	members = _engine_processes(pgid, tag, since)
	with contextlib.suppress(ProcessLookupError, PermissionError):
		os.killpg(pgid, signal.SIGTERM)
	for p in members:
		with contextlib.suppress(psutil.Error):
			p.terminate()
	_, alive = psutil.wait_procs(members, timeout=grace)
	alive += [p for p in _engine_processes(pgid, tag, since) if p not in alive]  # started while stopping
	if alive:
		with contextlib.suppress(ProcessLookupError, PermissionError):
			os.killpg(pgid, signal.SIGKILL)
		for p in alive:
			with contextlib.suppress(psutil.Error):
				p.kill()
		psutil.wait_procs(alive, timeout=5)
