"""Tables: tasks, experiments, presets and users. Times are UTC; durations and latencies in seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
	return datetime.now(UTC)


class Base(DeclarativeBase):
	pass


class TaskStatus(StrEnum):
	"""A task's status; members are the stored strings (StrEnum: they compare equal to them)."""

	PENDING = "pending"
	QUEUED = "queued"  # waiting for a worker (API / worker queue)
	RUNNING = "running"
	COMPLETED = "completed"
	FAILED = "failed"
	CANCELLED = "cancelled"
	INTERRUPTED = "interrupted"  # the tuner died mid-task; resume continues it
	CLEARING = "clearing"  # its experiments and study are being deleted (POST clear); nothing may start it meanwhile


class ExperimentOrigin:
	"""What proposed an experiment. Only SEARCH and WARM_START count against optimization.max_iterations."""

	SEARCH = "search"  # the strategy's sampler
	WARM_START = "warm_start"  # a best configuration of an earlier task, measured first
	BASELINE = "baseline"  # the engine's default config (or the user's current one): the reference for gains
	REPEAT = "repeat"  # a top configuration (or the baseline) measured again for a confidence interval
	BUDGETED = (SEARCH, WARM_START)


class ExperimentStatus(StrEnum):
	RUNNING = "running"
	SUCCESS = "success"
	FAILED = "failed"  # engine would not start, crashed, timed out, load errors
	INFEASIBLE = "infeasible"  # measured, but a hard SLO failed on every level (or nothing completed)
	INTERRUPTED = "interrupted"  # tuner stopped mid-experiment; resume measures the same parameters again
	SKIPPED = "skipped"  # refused before launch (e.g. an engine cannot honour a field)
	PRUNED = "pruned"  # stopped after some load levels: the pruner judged it behind the others (multi-fidelity)


class Task(Base):
	__tablename__ = "tasks"

	id: Mapped[int] = mapped_column(Integer, primary_key=True)
	name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
	description: Mapped[str | None] = mapped_column(Text, nullable=True)
	spec: Mapped[dict[str, Any]] = mapped_column(JSON)
	engine: Mapped[str] = mapped_column(String(40))
	deployment_mode: Mapped[str] = mapped_column(String(40))
	status: Mapped[str] = mapped_column(String(20), default=TaskStatus.PENDING, index=True)
	study_name: Mapped[str] = mapped_column(String(240))
	best_experiment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
	error: Mapped[str | None] = mapped_column(Text, nullable=True)
	created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
	started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
	finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
	elapsed: Mapped[float] = mapped_column(Float, default=0.0)
	# who created it (migration 0005); None: made in single-user mode, or before users existed (admins only then)
	owner_id: Mapped[int | None] = mapped_column(
		ForeignKey("users.id", ondelete="SET NULL", name="fk_tasks_owner_id_users"), nullable=True, index=True
	)

	experiments: Mapped[list[Experiment]] = relationship(
		back_populates="task", cascade="all, delete-orphan", order_by="Experiment.number"
	)


class Experiment(Base):
	__tablename__ = "experiments"
	__table_args__ = (
		UniqueConstraint("task_id", "number", name="uq_experiment_task_number"),
		Index("ix_experiments_task_status", "task_id", "status"),  # migration 0003
		Index("ix_experiments_started_at", "started_at"),
		Index("ix_experiments_status_duration", "status", "duration"),
	)

	id: Mapped[int] = mapped_column(Integer, primary_key=True)
	task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
	number: Mapped[int] = mapped_column(Integer)  # 1-based within the task
	trial_number: Mapped[int | None] = mapped_column(Integer, nullable=True)  # Optuna trial
	params: Mapped[dict[str, Any]] = mapped_column(JSON)
	params_key: Mapped[str] = mapped_column(Text, index=True)
	status: Mapped[str] = mapped_column(String(20), index=True)
	objective_value: Mapped[float | None] = mapped_column(Float, nullable=True)
	score: Mapped[float | None] = mapped_column(Float, nullable=True)  # lower is better
	figures: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # aggregated metrics
	runs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)  # RunMetrics per level
	scoring: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # penalty, violations
	failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
	gpu_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
	launch_argv: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
	launch_command: Mapped[str | None] = mapped_column(Text, nullable=True)
	log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
	predicted: Mapped[bool] = mapped_column(Boolean, default=False)
	started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
	finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
	duration: Mapped[float | None] = mapped_column(Float, nullable=True)
	startup_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
	bench_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
	origin: Mapped[str] = mapped_column(String(20), default="search", server_default="search")  # migration 0004
	objective_values: Mapped[list[float | None] | None] = mapped_column(JSON, nullable=True)
	saved_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
	pareto: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
	# what produced the figures: engine + version, tools, host, GPUs/CPU, argv, env, tuner revision (migration 0006)
	provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
	# who measured it (migration 0007): the worker's name and its host; None for an in-process run
	worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
	host: Mapped[str | None] = mapped_column(String(200), nullable=True)

	task: Mapped[Task] = relationship(back_populates="experiments")


class Preset(Base):
	"""A named parameter set: engine flags (category `parameters`), a quant_config or a parallel_config."""

	__tablename__ = "presets"

	id: Mapped[int] = mapped_column(Integer, primary_key=True)
	name: Mapped[str] = mapped_column(String(200), unique=True, index=True)
	description: Mapped[str | None] = mapped_column(Text, nullable=True)
	category: Mapped[str] = mapped_column(String(40), default="parameters", index=True)
	runtime: Mapped[str | None] = mapped_column(String(40), nullable=True)  # engine it is meant for; None = any
	parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
	is_system: Mapped[bool] = mapped_column(Boolean, default=False)
	created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
	updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
	owner_id: Mapped[int | None] = mapped_column(  # migration 0005; None: system presets and single-user mode
		ForeignKey("users.id", ondelete="SET NULL", name="fk_presets_owner_id_users"), nullable=True, index=True
	)


class User(Base):
	"""Someone with an API token and a role (viewer, operator, admin). Only the token's SHA-256 is stored."""

	__tablename__ = "users"

	id: Mapped[int] = mapped_column(Integer, primary_key=True)
	name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
	role: Mapped[str] = mapped_column(String(20))
	token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
	token_hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
	created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
	revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
