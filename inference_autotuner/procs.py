"""Which process is which, across clock updates.

psutil's `create_time()` is the process's start in ticks since boot plus the boot time *as the clock says it now*:
a clock update between two reads (a VM's time sync) moves it, so a process compared with 1 ms of slack stopped
being itself. The run audit then took the tuner for a new process and counted its whole lifetime CPU, every engine
it ever reaped included, as one run's (the client "used 1604 % of a core"), and an engine record no longer named
its engine. `started()` is the start in seconds since boot, from /proc: it never moves.
"""

from __future__ import annotations

import os

import psutil

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def started(proc: psutil.Process | int) -> float:
	"""When the process started, in seconds since boot (Linux; elsewhere psutil's epoch time, which then is the
	best there is). Raises psutil.NoSuchProcess when it is gone."""
	pid = proc if isinstance(proc, int) else proc.pid
	try:
		with open(f"/proc/{pid}/stat", "rb") as f:
			stat = f.read()
	except FileNotFoundError:
		raise psutil.NoSuchProcess(pid) from None
	except OSError:
		return (proc if not isinstance(proc, int) else psutil.Process(pid)).create_time()
	# the command name (field 2) may hold spaces and parentheses: the fields after its last ')' are fixed
	fields = stat[stat.rindex(b")") + 2 :].split()
	return int(fields[19]) / _HZ  # field 22 of the whole line: starttime, in clock ticks since boot
