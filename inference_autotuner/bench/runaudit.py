"""The run audit's record (RunAudit), apart from the audit itself (audit.py) so that RunMetrics (metrics.py) can hold
one and audit.py can read RunMetrics without the two modules importing each other."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RunAudit(BaseModel):
	"""How far one run's figures can be trusted. CPU figures are in cores (1.0 = one core busy all run long)."""

	status: Literal["valid", "suspect"] = Field("valid", description="suspect: see reasons")
	reasons: list[str] = Field(default_factory=list, description="Why the run is suspect")
	client_bound: bool = Field(
		False, description="The client could not drive the load: the figures are not the engine's (never scored)"
	)
	notes: list[str] = Field(default_factory=list, description="What the audit could not check or separate")
	attempts: int = Field(1, description="Times this run was measured (a suspect run is measured again)")
	earlier: list[str] = Field(default_factory=list, description="Why the earlier attempts were measured again")
	# the client's schedule
	lag_p50: float | None = Field(None, description="Median delay from intended to actual send, seconds")
	lag_p99: float | None = Field(None, description="p99 delay from intended to actual send, seconds")
	loop_stall_p99: float | None = Field(None, description="p99 late wake-up of the client's event loop, seconds")
	asked_concurrency: int | None = Field(None, description="Concurrency asked (closed loop)")
	achieved_concurrency: float | None = Field(
		None, description="Time-weighted mean of requests in flight from the first to the last send"
	)
	asked_rate: float | None = Field(None, description="Request rate asked (open loop), requests/s")
	achieved_rate: float | None = Field(None, description="Requests actually sent per second (open loop)")
	# the host
	cores: int | None = Field(None, description="Cores the audit watched (this process's CPU affinity)")
	client_cpu: float | None = Field(None, description="Cores used by the client (tuner process tree, engine excluded)")
	client_processes: int | None = Field(
		None, description="Client processes that shared the load (benchmark.client_processes); None: one"
	)
	engine_cpu: float | None = Field(None, description="Cores used by the engine's process tree")
	sibling_cpu: float | None = Field(
		None, description="Cores used by the engines of this tuner's other experiments running at once (max_parallel)"
	)
	other_cpu: float | None = Field(None, description="Cores used by every other process on the watched cores")
	steal: float | None = Field(None, description="Fraction of CPU time stolen by the hypervisor")
	load_avg: float | None = Field(None, description="1-minute load average at the end of the run")
	engine_share: float | None = Field(None, description="engine_cpu / cores")
	engine_cores: list[int] | None = Field(None, description="Cores the engine was pinned to (None: not pinned)")
	client_cores: list[int] | None = Field(None, description="Cores the client was pinned to (None: not pinned)")
