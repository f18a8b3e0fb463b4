"""What every load driver shares: the run request, the protocol, tool lookup, subprocess running, metric assembly.

A driver turns one run (one traffic scenario at one concurrency) into a RunMetrics. The built-in client measures
itself; an external tool (genai-bench, AIPerf, GuideLLM) is run as a subprocess from an argv list (never a shell
string) in its own work folder, with a timeout and killed on cancel, and its output files are parsed back into
per-request rows from which every figure is derived with our definitions (docs/drivers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ...errors import BenchmarkError
from ..metrics import GoodputSLO, RequestRecord, RunMetrics, compute_run_metrics
from ..planner import workload_of
from ..request import RunRequest

TOOLS_DIR_ENV = "AUTOTUNER_TOOLS_DIR"
"""A folder of per-tool virtual environments: $AUTOTUNER_TOOLS_DIR/<driver>/bin/<executable>."""


class Driver(Protocol):
	"""A load driver. `run` never raises for what the server does; BenchmarkError for what the user must fix."""

	name: str

	def missing(self) -> str | None:
		"""Why this driver cannot run here (with the fix), or None when it can."""
		...

	async def run(self, req: RunRequest, cancel: asyncio.Event | None = None) -> RunMetrics:
		"""Run one scenario at one concurrency and measure it."""
		...


def with_workload(req: RunRequest, metrics: RunMetrics) -> RunMetrics:
	"""A tool's figures labelled with the run's workload and its file's hash (a trace run: its speedup, no
	concurrency)."""
	wl = workload_of(req)
	if wl is None:
		return metrics
	update: dict[str, object] = {"workload": wl.label, "workload_sha256": wl.sha256}
	if wl.kind == "trace":
		update |= {"concurrency": None, "speedup": req.speedup or wl.speedup}
	return metrics.model_copy(update=update)


def find_tool(driver: str, executable: str) -> str | None:
	"""The tool's executable: $AUTOTUNER_<DRIVER>_BIN, $AUTOTUNER_TOOLS_DIR/<driver>/bin/<exe>, this venv, PATH."""
	env = os.environ.get(f"AUTOTUNER_{driver.upper().replace('-', '_')}_BIN")
	if env:
		return env if Path(env).is_file() else None
	tools = os.environ.get(TOOLS_DIR_ENV)
	candidates = []
	if tools:
		candidates.append(Path(tools) / driver / "bin" / executable)
	candidates.append(Path(sys.executable).parent / executable)
	for c in candidates:
		if c.is_file() and os.access(c, os.X_OK):
			return str(c)
	return shutil.which(executable)


def missing_tool_message(driver: str, executable: str, extra: str) -> str:
	return (
		f"load driver {driver!r} needs the {executable} tool, which is not installed "
		f"(pip install 'inference-autotuner[{extra}]', about 1.5 GB; or point ${TOOLS_DIR_ENV} at a folder with "
		f"{driver}/bin/{executable}, or set AUTOTUNER_{driver.upper().replace('-', '_')}_BIN)"
	)


class ExternalTool:
	"""What every driver around an external tool shares: finding its executable, a work folder, and one run sequence
	(`run`): build the argv, run it with a timeout (killed on cancel), find its results, parse them into RunMetrics.
	A tool's module gives the four steps: `build_argv`, `timeout`, `results` and `parse`."""

	name: str
	extra: str
	executable: str
	log_name: str = "tool.log"
	env: dict[str, str] | None = None
	supports_rate = False  # Poisson arrivals (RunRequest.request_rate)
	supports_early_stop = False  # in-run early stop (RunRequest.stop_check): the tool's requests are not ours to see
	workloads: tuple[str, ...] = ()  # real workloads it can send (bench/workload.py); none: a clear error

	def missing(self) -> str | None:
		if find_tool(self.name, self.executable) is None:
			return missing_tool_message(self.name, self.executable, self.extra)
		return None

	def prepare(self, req: RunRequest) -> tuple[str, Path]:
		"""(executable, work folder), or a BenchmarkError saying what is missing."""
		exe = find_tool(self.name, self.executable)
		if exe is None:
			raise BenchmarkError(missing_tool_message(self.name, self.executable, self.extra))
		if req.workdir is None:
			raise BenchmarkError(f"{self.name} needs a work folder")
		return exe, req.workdir

	async def stage(self, req: RunRequest, workdir: Path) -> None:
		"""Write what the tool reads besides its argv (a workload's input file) into the work folder; default none."""

	def build_argv(self, exe: str, req: RunRequest, workdir: Path) -> list[str]:
		"""The tool's command line for one run (an argv list, never a shell string)."""
		raise NotImplementedError

	def timeout(self, req: RunRequest) -> float:
		"""Seconds the tool may run: the run's limit plus its start-up and the writing of its results."""
		raise NotImplementedError

	def results(self, req: RunRequest, workdir: Path) -> Path | None:
		"""The file (or folder) the tool wrote its results to, or None when it wrote none."""
		raise NotImplementedError

	def parse(self, path: Path, req: RunRequest) -> RunMetrics:
		"""RunMetrics from the tool's results, with our definitions (metrics_from_rows)."""
		raise NotImplementedError

	async def run(self, req: RunRequest, cancel: asyncio.Event | None = None) -> RunMetrics:
		exe, workdir = self.prepare(req)
		workdir.mkdir(parents=True, exist_ok=True)
		await self.stage(req, workdir)
		argv = self.build_argv(exe, req, workdir)
		rc = await run_tool(
			argv, cwd=workdir, timeout=self.timeout(req), cancel=cancel, env=self.env, log_name=self.log_name
		)
		found = self.results(req, workdir)
		if found is None:
			if cancel is not None and cancel.is_set():
				return req.labelled(metrics_from_rows([], scenario=str(req.scenario), concurrency=req.concurrency))
			raise BenchmarkError(
				f"{self.name} exited with code {rc} and wrote no results: {log_tail(workdir / self.log_name)}"
			)
		return with_workload(req, req.labelled(self.parse(found, req)))


async def run_tool(
	argv: Sequence[str],
	*,
	cwd: Path,
	timeout: float,
	cancel: asyncio.Event | None = None,
	env: dict[str, str] | None = None,
	log_name: str = "tool.log",
) -> int:
	"""Run argv in cwd with stdout+stderr to cwd/log_name; kill its process group on timeout or cancel.

	Returns the exit code (or -9 when it was killed). Raises BenchmarkError on timeout, never on a non-zero exit.
	"""
	cwd.mkdir(parents=True, exist_ok=True)
	log = (cwd / log_name).open("wb")
	full_env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1", **(env or {})}
	try:
		proc = await asyncio.create_subprocess_exec(
			*argv,
			cwd=str(cwd),
			stdout=log,
			stderr=asyncio.subprocess.STDOUT,
			stdin=asyncio.subprocess.DEVNULL,
			env=full_env,
			start_new_session=True,
		)
	except OSError as exc:
		log.close()
		raise BenchmarkError(f"cannot start {argv[0]}: {exc}") from exc
	waiter = asyncio.create_task(proc.wait())
	stopper = asyncio.create_task(cancel.wait()) if cancel is not None else None
	try:
		done, _ = await asyncio.wait(
			{waiter} if stopper is None else {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
		)
		if waiter not in done:
			await _kill(proc)
			if stopper is not None and stopper in done:
				return -9
			raise BenchmarkError(
				f"{Path(argv[0]).name} did not finish within {timeout:.0f} s (log: {cwd / log_name})",
				hint="raise optimization.timeout_per_iteration or lower benchmark.max_requests_per_iteration",
			)
		return int(waiter.result())
	finally:
		if stopper is not None and not stopper.done():
			stopper.cancel()
		if not waiter.done():
			await _kill(proc)
			waiter.cancel()
		log.close()


async def _kill(proc: asyncio.subprocess.Process) -> None:
	"""SIGTERM the tool's process group (tools spawn workers), then SIGKILL after 3 s."""
	for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
		if proc.returncode is not None:
			return
		with contextlib.suppress(ProcessLookupError, PermissionError):
			os.killpg(proc.pid, sig)
		with contextlib.suppress(asyncio.TimeoutError):
			await asyncio.wait_for(proc.wait(), wait)


def log_tail(path: Path, chars: int = 600) -> str:
	try:
		return path.read_text(errors="replace")[-chars:].strip()
	except OSError:
		return ""


@dataclass
class Row:
	"""One request as an external tool reports it. Times in seconds; start/end on any one clock (or None)."""

	ttft: float | None
	e2e: float | None
	input_tokens: int = 0
	output_tokens: int = 0
	itls: list[float] = field(default_factory=list)
	start: float | None = None
	error: str | None = None


def metrics_from_rows(
	rows: Sequence[Row],
	*,
	scenario: str,
	concurrency: int,
	duration: float | None = None,
	goodput_slo: GoodputSLO | None = None,
) -> RunMetrics:
	"""RunMetrics from a tool's per-request rows, with our definitions (TPOT = (E2E - TTFT) / (out - 1), ...).

	Each row becomes a RequestRecord on a synthetic clock (sent = row.start or 0); `duration`, when the tool
	reports its own run wall time, replaces the one derived from start/end times for every throughput.
	"""
	records: list[RequestRecord] = []
	for r in rows:
		sent = r.start if r.start is not None else 0.0
		ok = r.error is None and r.ttft is not None and r.e2e is not None
		first = sent + r.ttft if r.ttft is not None else None
		end = sent + r.e2e if r.e2e is not None else None
		chunks: list[float] = []
		if ok and r.itls and first is not None:
			t = first
			chunks.append(t)
			for gap in r.itls:
				t += gap
				chunks.append(t)
		records.append(
			RequestRecord(
				scheduled=sent,
				sent=sent,
				first_token=first if ok else None,
				end=end if ok else None,
				chunk_times=chunks,
				input_tokens=r.input_tokens,
				output_tokens=r.output_tokens,
				error=None if ok else (r.error or "incomplete"),
			)
		)
	m = compute_run_metrics(records, scenario=scenario, concurrency=concurrency, goodput_slo=goodput_slo)
	if duration is not None and duration > 0:
		scale = m.duration / duration if m.duration else 0.0
		m.duration = duration
		m.output_throughput = m.output_tokens / duration
		m.total_throughput = (m.input_tokens + m.output_tokens) / duration
		m.request_throughput = m.completed / duration
		if m.goodput is not None:
			m.goodput *= scale
	return m
