"""Local-process deployer: the engine as a child process in its own process group.

Nothing is left behind: each engine process gets a pid record (pid, its start time, the tuner's pid and start time)
under the data dir; stop() sends SIGTERM to the group, then SIGKILL; the engine is also asked to die with its parent
(PR_SET_PDEATHSIG on Linux); and sweep(), run at every start, kills what a killed tuner left (records whose tuner is
gone), checking start times so a reused pid is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from ..errors import EngineStartError
from ..gpus import Allocation, GPUAllocator, OutOfGPUsError
from ..paths import run_dir
from .base import Deployment
from .ports import ensure_port_free


def _die_with_parent() -> None:  # runs in the child between fork and exec
	if sys.platform.startswith("linux") and not os.environ.get("AUTOTUNER_NO_PDEATHSIG"):
		with contextlib.suppress(Exception):
			ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = 15) -> str:
	try:
		text = path.read_text(errors="replace").splitlines()
	except OSError:
		return ""
	return "\n".join(text[-lines:])


def _start_time(pid: int) -> float | None:
	try:
		return psutil.Process(pid).create_time()
	except (psutil.NoSuchProcess, psutil.AccessDenied):
		return None


class LocalProcessDeployer:
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
		self.allocator = allocator or GPUAllocator()
		self.gpu_wait = gpu_wait if gpu_wait is not None else float(os.environ.get("AUTOTUNER_GPU_WAIT", "600"))

	# -- pid records -------------------------------------------------------------------------------------------
	def _record_path(self, pid: int) -> Path:
		return self.records / f"engine-{pid}.json"

	def _write_record(self, proc: subprocess.Popen[bytes], argv: list[str], labels: dict[str, str]) -> None:
		me = os.getpid()
		record = {
			"pid": proc.pid,
			"start_time": _start_time(proc.pid),
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
	def start(
		self,
		argv: list[str],
		*,
		port: int,
		health_path: str,
		log_path: Path,
		env: dict[str, str],
		timeout: float,
		labels: dict[str, str],
	) -> Deployment:
		ensure_port_free(port, self.host)
		allocation: Allocation | None = None
		if self.use_gpus:
			try:
				allocation = self.allocator.acquire(int(labels.get("world_size", "1")), timeout=self.gpu_wait)
			except OutOfGPUsError as exc:
				raise EngineStartError(exc.message, hint=exc.hint) from None
		try:
			return self._start(argv, port, health_path, log_path, env, timeout, labels, allocation)
		except BaseException:
			if allocation is not None:
				self.allocator.release(allocation)
			raise

	def _start(
		self,
		argv: list[str],
		port: int,
		health_path: str,
		log_path: Path,
		env: dict[str, str],
		timeout: float,
		labels: dict[str, str],
		allocation: Allocation | None,
	) -> Deployment:
		log_path.parent.mkdir(parents=True, exist_ok=True)
		log = log_path.open("ab")
		log.write(f"$ {' '.join(argv)}\n".encode())
		log.flush()
		full_env = {**os.environ, **env}
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
		self._write_record(proc, argv, labels)
		base_url = f"http://{self.host}:{port}"
		info: dict[str, object] = {"pid": proc.pid}
		if allocation is not None:
			info["gpu_info"] = allocation.info()
			info["allocation"] = allocation
		deployment = Deployment(base_url=base_url, argv=argv, log_path=log_path, handle=proc, info=info)
		try:
			self._wait_ready(proc, base_url + health_path, timeout, log_path)
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
					raise EngineStartError(
						f"engine exited with code {code} before it was ready; last log lines:\n{_tail(log_path)}",
						hint=f"full log: {log_path}",
					)
				try:
					if client.get(url).status_code == 200:
						return
				except httpx.HTTPError:
					pass
				if time.monotonic() > deadline:
					raise EngineStartError(
						f"engine not ready after {timeout:.0f} s; last log lines:\n{_tail(log_path)}",
						hint="raise startup_timeout in the spec, or check the log: " + str(log_path),
					)
				time.sleep(0.1)

	def stop(self, deployment: Deployment, grace: float = 10.0) -> None:
		proc: subprocess.Popen[bytes] | None = deployment.handle
		allocation = deployment.info.pop("allocation", None)
		if isinstance(allocation, Allocation):
			self.allocator.release(allocation)
		if proc is None:
			return
		_terminate_group(proc.pid, grace)
		with contextlib.suppress(Exception):
			proc.wait(timeout=1)
		self._record_path(proc.pid).unlink(missing_ok=True)
		deployment.handle = None

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
			if _start_time(rec["pid"]) == rec.get("start_time") and rec.get("start_time") is not None:
				_terminate_group(rec["pid"], 5.0)
				removed += 1
			path.unlink(missing_ok=True)
		return removed


def _terminate_group(pid: int, grace: float) -> None:
	"""SIGTERM the process group led by pid, wait up to `grace` s, then SIGKILL what is left."""
	try:
		pgid = os.getpgid(pid)
	except ProcessLookupError:
		return
	members: list[psutil.Process] = []
	with contextlib.suppress(psutil.Error):
		root = psutil.Process(pid)
		members = [root, *root.children(recursive=True)]
	with contextlib.suppress(ProcessLookupError, PermissionError):
		os.killpg(pgid, signal.SIGTERM)
	_, alive = psutil.wait_procs(members, timeout=grace)
	if alive:
		with contextlib.suppress(ProcessLookupError, PermissionError):
			os.killpg(pgid, signal.SIGKILL)
		for p in alive:
			with contextlib.suppress(psutil.Error):
				p.kill()
		psutil.wait_procs(alive, timeout=5)
