"""GPU discovery and allocation.

This machine has no GPU: the allocator is tested with NVML replaced by a stand-in list of GPUs (the locks, waiting,
timeouts and cross-process exclusion are real); discovery is checked to answer [] here, not to fail, and its
nvidia-smi fallback is checked on captured output. scripts/gpu_check.sh checks discovery on a real card.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from inference_autotuner import gpus as g
from inference_autotuner.gpus import GPU, GPUAllocator, OutOfGPUsError

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3


def fake(n: int, busy: tuple[int, ...] = ()) -> list[GPU]:
	return [
		GPU(i, f"GPU-fake-{i}", "NVIDIA H100 80GB HBM3", 80 * GIB, GIB if i in busy else 0, 0, 1 if i in busy else 0)
		for i in range(n)
	]


def alloc(tmp_path: Path, gpus: list[GPU], **kw) -> GPUAllocator:  # type: ignore[no-untyped-def]
	return GPUAllocator(lambda: gpus, lock_dir=tmp_path / "locks", poll=0.05, **kw)


def test_no_gpu_gives_an_empty_allocation(tmp_path: Path) -> None:
	a = alloc(tmp_path, []).acquire(2, timeout=0)
	assert a.gpus == [] and a.ids == []
	assert a.info() == {"model": None, "count": 0, "ids": [], "world_size": 2, "memory_total_mib": None}


def test_world_size_gpus_lowest_first_and_release(tmp_path: Path) -> None:
	al = alloc(tmp_path, fake(4))
	a = al.acquire(2, timeout=0)
	b = al.acquire(1, timeout=0)
	assert a.ids == [0, 1] and b.ids == [2]
	assert [x.index for x in al.free()] == [3]
	info = a.info()
	assert info["model"] == "NVIDIA H100 80GB HBM3" and info["count"] == 2 and info["world_size"] == 2
	assert info["memory_total_mib"] == [80 * 1024, 80 * 1024] and info["uuids"] == ["GPU-fake-0", "GPU-fake-1"]
	al.release(a)
	al.release(a)  # twice is harmless
	assert al.acquire(2, timeout=0).ids == [0, 1]


def test_out_of_gpus_after_the_timeout(tmp_path: Path) -> None:
	al = alloc(tmp_path, fake(2))
	al.acquire(2, timeout=0)
	t0 = time.monotonic()
	with pytest.raises(OutOfGPUsError, match="out of GPUs: needed 1, 0 free of 2 after waiting 0 s"):
		al.acquire(1, timeout=0.3)
	assert time.monotonic() - t0 >= 0.25, "it waited for the timeout"


def test_more_than_the_host_has_fails_at_once(tmp_path: Path) -> None:
	with pytest.raises(OutOfGPUsError, match="needs 8 GPUs .* this host has 2"):
		alloc(tmp_path, fake(2)).acquire(8, timeout=60)


def test_waits_until_a_gpu_is_released(tmp_path: Path) -> None:
	al = alloc(tmp_path, fake(1))
	held = al.acquire(1, timeout=0)
	threading.Timer(0.3, al.release, args=(held,)).start()
	t0 = time.monotonic()
	got = al.acquire(1, timeout=10)
	assert got.ids == [0] and 0.2 < time.monotonic() - t0 < 5


def test_gpu_busy_with_other_programs_is_skipped(tmp_path: Path) -> None:
	assert alloc(tmp_path, fake(3, busy=(0,))).acquire(2, timeout=0).ids == [1, 2]
	assert alloc(tmp_path / "b", fake(3, busy=(0,)), respect_processes=False).acquire(2, timeout=0).ids == [0, 1]


def test_another_process_holds_a_gpu_until_it_dies(tmp_path: Path) -> None:
	"""Two tuners never share a GPU; a tuner killed with -9 frees its GPUs (flock dies with its holder)."""
	code = (
		"import sys, time\n"
		"from inference_autotuner.gpus import GPU, GPUAllocator\n"
		"gs = [GPU(i, f'GPU-fake-{i}', 'x', 1) for i in range(2)]\n"
		f"a = GPUAllocator(lambda: gs, lock_dir=__import__('pathlib').Path({str(tmp_path / 'locks')!r}))\n"
		"print(a.acquire(1, timeout=0).ids, flush=True)\n"
		"time.sleep(60)\n"
	)
	child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
	try:
		assert child.stdout is not None and child.stdout.readline().strip() == "[0]"
		al = alloc(tmp_path, fake(2))
		assert al.acquire(1, timeout=0).ids == [1], "GPU 0 is the other tuner's"
		with pytest.raises(OutOfGPUsError):
			al.acquire(1, timeout=0.1)
		os.kill(child.pid, signal.SIGKILL)
		child.wait()
		assert al.acquire(1, timeout=2).ids == [0], "freed when its holder died"
	finally:
		child.kill()
		child.wait()


NVIDIA_SMI = """0, GPU-1b2c, NVIDIA H100 80GB HBM3, 81559, 4, 0
1, GPU-3d4e, NVIDIA H100 80GB HBM3, 81559, 40211, 97
"""


def test_nvidia_smi_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
	parsed = g.parse_nvidia_smi(NVIDIA_SMI)
	assert [(x.index, x.uuid, x.memory_total // g.MIB, x.utilization) for x in parsed] == [
		(0, "GPU-1b2c", 81559, 0),
		(1, "GPU-3d4e", 81559, 97),
	]

	def no_nvml() -> list[GPU]:
		raise ImportError("no pynvml")

	monkeypatch.setattr(g, "_nvml", no_nvml)
	monkeypatch.setattr(g, "_nvidia_smi", lambda: parsed)
	assert g.discover() == parsed
	monkeypatch.setenv("AUTOTUNER_GPUS", "none")
	assert g.discover() == []


def test_discovery_on_this_machine_is_empty_not_an_error() -> None:
	# no GPU here: NVML fails to initialise (or is missing) and nvidia-smi is absent -> []
	if shutil.which("nvidia-smi") or Path("/dev/nvidiactl").exists():
		pytest.skip("this host has an NVIDIA driver: scripts/gpu_check.sh checks discovery on a real card")
	assert g.discover() == []
	out = subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", "gpus"], capture_output=True, text=True, cwd=REPO
	)
	assert out.returncode == 0 and "no GPU found" in out.stdout, out.stderr
