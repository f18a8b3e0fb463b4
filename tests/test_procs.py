"""procs.started: a process's start in seconds since boot, from /proc, which a clock update does not move (psutil's
create_time adds the boot time as the clock says it at each read). Real processes."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from inference_autotuner.procs import started


def test_started_is_the_start_since_boot_and_names_one_process() -> None:
	me = psutil.Process()
	assert abs(started(me) - (me.create_time() - psutil.boot_time())) < 0.05  # the same instant, another origin
	assert started(me) == started(me.pid)  # by object or by pid, read twice: identical (no float drift)
	child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
	try:
		assert started(child.pid) >= started(me)  # started after us
	finally:
		child.kill()
		child.wait()
	with pytest.raises(psutil.NoSuchProcess):
		started(child.pid)  # reaped: gone


def test_a_command_name_with_spaces_and_parentheses_is_read_past() -> None:
	# the second field of /proc/PID/stat is the command name in parentheses, which may hold both
	child = subprocess.Popen(
		[sys.executable, "-c", "import ctypes, time; ctypes.CDLL(None).prctl(15, b'a) (b c', 0, 0, 0); time.sleep(30)"]
	)
	try:
		for _ in range(50):
			if ") (" in psutil.Process(child.pid).name():
				break
			time.sleep(0.05)
		proc = psutil.Process(child.pid)
		assert ") (" in proc.name()
		assert abs(started(proc) - (proc.create_time() - psutil.boot_time())) < 0.05
	finally:
		child.kill()
		child.wait()
