"""GPUs: discovery (NVML through nvidia-ml-py, else `nvidia-smi`) and an allocator that gives each experiment its
world-size GPUs, waiting with a timeout while they are taken.

No GPU (or no driver) is not an error: discovery returns an empty list and the allocator hands out no GPUs (a CPU
engine such as llama.cpp runs as it is). This module imports only the standard library, so it works where the rest
of the package's dependencies are missing (`python -m inference_autotuner.gpus` prints what it sees).

Taken GPUs are marked with `flock` locks on files under the data dir (one per GPU): a lock is released by the kernel
when its holder dies, so a tuner killed with -9 never leaves a GPU marked as taken, and two tuners on one host never
get the same GPU. A GPU running another program's compute processes counts as busy too (configurable).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


class OutOfGPUsError(Exception):
	"""Not enough free GPUs within the timeout (or not enough on this machine at all)."""

	def __init__(self, message: str, hint: str | None = None) -> None:
		super().__init__(message)
		self.message, self.hint = message, hint

	def __str__(self) -> str:
		return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


@dataclass(frozen=True)
class GPU:
	"""One GPU as the driver reports it (memory in bytes)."""

	index: int
	uuid: str
	name: str
	memory_total: int
	memory_used: int = 0
	utilization: int | None = None  # percent
	processes: int | None = None  # compute processes on it (None: unknown)
	source: str = "nvml"


def _nvml() -> list[GPU]:
	import pynvml  # nvidia-ml-py

	pynvml.nvmlInit()
	try:
		gpus = []
		for i in range(pynvml.nvmlDeviceGetCount()):
			h = pynvml.nvmlDeviceGetHandleByIndex(i)
			name = pynvml.nvmlDeviceGetName(h)
			uuid = pynvml.nvmlDeviceGetUUID(h)
			mem = pynvml.nvmlDeviceGetMemoryInfo(h)
			util: int | None = None
			procs: int | None = None
			with contextlib.suppress(pynvml.NVMLError):
				util = int(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)
			with contextlib.suppress(pynvml.NVMLError):
				procs = len(pynvml.nvmlDeviceGetComputeRunningProcesses(h))
			gpus.append(
				GPU(
					index=i,
					uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
					name=name.decode() if isinstance(name, bytes) else str(name),
					memory_total=int(mem.total),
					memory_used=int(mem.used),
					utilization=util,
					processes=procs,
					source="nvml",
				)
			)
		return gpus
	finally:
		with contextlib.suppress(Exception):
			pynvml.nvmlShutdown()


_SMI_FIELDS = "index,uuid,name,memory.total,memory.used,utilization.gpu"


def parse_nvidia_smi(text: str) -> list[GPU]:
	"""Parse `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu --format=csv,noheader,
	nounits` output (memory in MiB)."""
	gpus = []
	for row in csv.reader(io.StringIO(text)):
		if len(row) < 5:
			continue
		cells = [c.strip() for c in row]
		try:
			util = int(cells[5]) if len(cells) > 5 and cells[5].isdigit() else None
			gpus.append(
				GPU(
					index=int(cells[0]),
					uuid=cells[1],
					name=cells[2],
					memory_total=int(float(cells[3]) * MIB),
					memory_used=int(float(cells[4]) * MIB),
					utilization=util,
					processes=None,
					source="nvidia-smi",
				)
			)
		except ValueError:
			continue
	return gpus


def _nvidia_smi() -> list[GPU]:
	exe = shutil.which("nvidia-smi")
	if exe is None:
		return []
	out = subprocess.run(
		[exe, f"--query-gpu={_SMI_FIELDS}", "--format=csv,noheader,nounits"],
		capture_output=True,
		text=True,
		timeout=20,
		check=False,
	)
	return parse_nvidia_smi(out.stdout) if out.returncode == 0 else []


def discover() -> list[GPU]:
	"""Every GPU this host has: NVML first, `nvidia-smi` second; [] where there is none (never an error).

	AUTOTUNER_GPUS=none hides every GPU (run engines on the CPU even on a GPU host)."""
	if os.environ.get("AUTOTUNER_GPUS", "").lower() in ("none", "0", "off"):
		return []
	try:
		return _nvml()
	except Exception:  # no nvidia-ml-py, no driver, no device: try the CLI
		pass
	try:
		return _nvidia_smi()
	except (OSError, subprocess.SubprocessError):
		return []


def _lock_dir() -> Path:
	override = os.environ.get("AUTOTUNER_DATA_DIR")
	base = Path(override) if override else Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share"))
	if not override:
		base = base / "inference-autotuner"
	path = base / "run" / "gpus"
	path.mkdir(parents=True, exist_ok=True)
	return path


@dataclass
class Allocation:
	"""GPUs held for one experiment (empty on a host without GPUs)."""

	gpus: list[GPU]
	world_size: int
	_fds: list[int] = field(default_factory=list, repr=False)

	@property
	def ids(self) -> list[int]:
		return [g.index for g in self.gpus]

	@property
	def uuids(self) -> list[str]:
		return [g.uuid for g in self.gpus]

	def info(self) -> dict[str, Any]:
		"""What is recorded per experiment as gpu_info."""
		if not self.gpus:
			return {"model": None, "count": 0, "ids": [], "world_size": self.world_size, "memory_total_mib": None}
		return {
			"model": self.gpus[0].name,
			"count": len(self.gpus),
			"ids": self.ids,
			"uuids": self.uuids,
			"world_size": self.world_size,
			"memory_total_mib": [g.memory_total // MIB for g in self.gpus],
			"source": self.gpus[0].source,
		}


class GPUAllocator:
	"""Hands out world-size GPUs per experiment; waits (polling) up to a timeout while too few are free."""

	def __init__(
		self,
		discover_fn: Callable[[], list[GPU]] = discover,
		*,
		lock_dir: Path | None = None,
		poll: float = 1.0,
		respect_processes: bool = True,
	) -> None:
		self.discover_fn = discover_fn
		self.lock_dir = lock_dir
		self.poll = poll
		self.respect_processes = respect_processes

	def _dir(self) -> Path:
		if self.lock_dir is None:
			self.lock_dir = _lock_dir()
		self.lock_dir.mkdir(parents=True, exist_ok=True)
		return self.lock_dir

	def _try_lock(self, gpu: GPU) -> int | None:
		safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in gpu.uuid or str(gpu.index))
		fd = os.open(self._dir() / f"gpu-{safe}.lock", os.O_RDWR | os.O_CREAT, 0o644)
		try:
			fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
		except OSError:
			os.close(fd)
			return None
		os.ftruncate(fd, 0)
		os.write(fd, json.dumps({"pid": os.getpid(), "gpu": gpu.index}).encode())
		return fd

	def free(self) -> list[GPU]:
		"""GPUs not held by an allocation (of any tuner on this host) and not busy with other programs' work."""
		out = []
		for gpu in self.discover_fn():
			if self.respect_processes and gpu.processes:
				continue
			fd = self._try_lock(gpu)
			if fd is None:
				continue
			fcntl.flock(fd, fcntl.LOCK_UN)
			os.close(fd)
			out.append(gpu)
		return out

	def acquire(self, world_size: int, timeout: float = 600.0) -> Allocation:
		"""`world_size` GPUs, lowest ids first; none on a host without GPUs. Raises OutOfGPUsError after `timeout`."""
		world_size = max(1, int(world_size))
		deadline = time.monotonic() + timeout
		while True:
			gpus = self.discover_fn()
			if not gpus:
				return Allocation([], world_size)
			if len(gpus) < world_size:
				raise OutOfGPUsError(
					f"this configuration needs {world_size} GPUs (world size) but this host has {len(gpus)}",
					hint="lower tensor/pipeline parallel sizes in the spec, or run on a bigger host",
				)
			held: list[tuple[GPU, int]] = []
			for gpu in sorted(gpus, key=lambda g: g.index):
				if self.respect_processes and gpu.processes:
					continue
				fd = self._try_lock(gpu)
				if fd is not None:
					held.append((gpu, fd))
				if len(held) == world_size:
					return Allocation([g for g, _ in held], world_size, [fd for _, fd in held])
			for _, fd in held:
				fcntl.flock(fd, fcntl.LOCK_UN)
				os.close(fd)
			if time.monotonic() >= deadline:
				raise OutOfGPUsError(
					f"out of GPUs: needed {world_size}, {len(held)} free of {len(gpus)} after waiting {timeout:.0f} s",
					hint="other experiments or programs hold them; wait, free some, or raise the GPU wait timeout",
				)
			time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))

	def release(self, allocation: Allocation) -> None:
		"""Give the GPUs back; safe to call twice."""
		fds, allocation._fds = allocation._fds, []
		for fd in fds:
			with contextlib.suppress(OSError):
				fcntl.flock(fd, fcntl.LOCK_UN)
				os.close(fd)


def describe(gpus: list[GPU]) -> list[dict[str, Any]]:
	return [
		{**asdict(g), "memory_total_mib": g.memory_total // MIB, "memory_used_mib": g.memory_used // MIB} for g in gpus
	]


def main() -> int:  # python -m inference_autotuner.gpus
	gpus = discover()
	if not gpus:
		print("no GPU found (no NVIDIA driver, nvidia-ml-py or nvidia-smi answered); engines run on the CPU")
		return 0
	for g in gpus:
		used = f"{g.memory_used // MIB}/{g.memory_total // MIB} MiB"
		print(f"GPU {g.index}: {g.name}  {used}  util {g.utilization}%  procs {g.processes}  {g.uuid}  ({g.source})")
	return 0


if __name__ == "__main__":
	raise SystemExit(main())
