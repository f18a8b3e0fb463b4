"""Database access: engine creation (SQLite WAL by default, Postgres by URL), migrations, sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from ..errors import AutotunerError
from ..paths import default_db_url

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "autotuner_alembic_version"  # Optuna's tables use the default alembic_version
_HEAD: dict[str, str | None] = {}  # the migrations' head revision, read once per process


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
	cur = dbapi_conn.cursor()
	cur.execute("PRAGMA journal_mode=WAL")
	cur.execute("PRAGMA synchronous=NORMAL")
	cur.execute("PRAGMA foreign_keys=ON")
	cur.execute("PRAGMA busy_timeout=30000")
	cur.close()


def make_engine(url: str) -> Engine:
	if url.startswith("sqlite"):
		path = url.split("///", 1)[-1]
		if path and path != ":memory:":
			Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
		engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
		event.listen(engine, "connect", _sqlite_pragmas)
		return engine
	return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
	cfg = Config()
	cfg.set_main_option("script_location", str(MIGRATIONS))
	cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
	cfg.attributes["version_table"] = VERSION_TABLE
	return cfg


class Store:
	"""One database: our tables (migrated with Alembic) and the Optuna studies, side by side."""

	def __init__(self, url: str | None = None) -> None:
		self.url = url or default_db_url()
		try:
			self.engine = make_engine(self.url)
		except Exception as exc:
			raise AutotunerError(f"cannot open database {self.url}: {exc}", hint="check --db / AUTOTUNER_DB") from None
		self.migrate()
		self._sessions = sessionmaker(self.engine, expire_on_commit=False)

	def migrate(self) -> None:
		"""Bring the schema to head. Alembic's upgrade (seconds of imports and script parsing) runs once per process
		and database: a Store opened again checks the stored revision with one query and upgrades only if it
		differs (a database deleted and made again, or migrated back, is noticed)."""
		if _HEAD.get("rev") is not None and self._revision() == _HEAD["rev"]:
			return
		cfg = alembic_config(self.url)
		_HEAD.setdefault("rev", ScriptDirectory.from_config(cfg).get_current_head())
		try:
			with self.engine.begin() as conn:
				cfg.attributes["connection"] = conn
				command.upgrade(cfg, "head")
		except Exception as exc:
			raise AutotunerError(
				f"cannot prepare database {self.url}: {type(exc).__name__}: {exc}",
				hint="check --db / AUTOTUNER_DB and that the database server is reachable",
			) from None

	def _revision(self) -> str | None:
		try:
			with self.engine.connect() as conn:
				return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608 (constant)
		except Exception:  # no table yet, or no database: the full upgrade says what is wrong
			return None

	@contextmanager
	def session(self) -> Iterator[Session]:
		"""A unit of work: commits on success, rolls back on error (commit at the service boundary)."""
		s = self._sessions()
		try:
			yield s
			s.commit()
		except BaseException:
			s.rollback()
			raise
		finally:
			s.close()

	def optuna_storage(self, url: str | None = None, *, heartbeat: Heartbeat | None = None):  # type: ignore[no-untyped-def]
		"""Optuna's storage: this database, or another one at `url` (a task's optimization.storage). With
		`heartbeat`, trials carry Optuna heartbeats: a trial whose process stopped beating for the grace period is
		failed and queued again (RetryFailedTrialCallback) by whichever process looks next (docs/distributed.md)."""
		import optuna

		url = url or self.url
		kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
		beat: dict[str, Any] = {}
		if heartbeat is not None:
			beat = {
				"heartbeat_interval": heartbeat.interval,
				"grace_period": heartbeat.grace_period,
				# Optuna 5's name for RetryFailedTrialCallback (deprecated alias since 4.9)
				"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
					max_retry=heartbeat.max_retry
				),
			}
		if url.startswith("sqlite"):
			path = url.split("///", 1)[-1]
			if path and path != ":memory:":
				Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
		try:
			return _open_rdb(optuna, url, kwargs, beat)
		except Exception as exc:
			where = make_url(url).render_as_string(hide_password=True)
			raise AutotunerError(
				f"cannot open the Optuna storage {where}: {type(exc).__name__}: {exc}",
				hint="check optimization.storage in the task spec and that the database is reachable",
			) from None

	def study_storage(self, spec: dict[str, Any], *, heartbeat: Heartbeat | None = None):  # type: ignore[no-untyped-def]
		"""Where a task's study lives, from its stored spec: optimization.storage, else this database."""
		return self.optuna_storage(study_storage_url(spec), heartbeat=heartbeat)


@dataclass(frozen=True)
class Heartbeat:
	"""Optuna trial heartbeats (several workers on one study): a beat every `interval` s; a trial silent for
	`grace_period` s is failed and measured again, at most `max_retry` times."""

	interval: int = 5
	grace_period: int = 30
	max_retry: int = 3


_OPTUNA_INIT = threading.Lock()


def _open_rdb(optuna: Any, url: str, kwargs: dict[str, Any], beat: dict[str, Any] | None = None) -> Any:
	"""Optuna's RDBStorage. Its first open of a database creates the tables and inserts their alembic version without
	a lock: two at once fail ("table studies already exists", "UNIQUE constraint failed: alembic_version"), e.g. a
	runner starting its task while the web page reads the task's importance. One at a time in this process, and a
	retry for another process doing it at the same moment (the second open finds the tables and only reads)."""
	from sqlalchemy.exc import IntegrityError, OperationalError

	for attempt in range(4):
		try:
			with _OPTUNA_INIT:
				return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **(beat or {}))
		except (IntegrityError, OperationalError):
			if attempt == 3:
				raise
			time.sleep(0.2 * (attempt + 1))
	raise AssertionError("unreachable")


def study_storage_url(spec: dict[str, Any]) -> str | None:
	"""A task spec's optimization.storage (None: the autotuner database). A SQLite file is always inside the data
	directory: a relative path is taken from there (sqlite:///optuna.db -> DATA_DIR/optuna.db)."""
	opt = spec.get("optimization") if isinstance(spec, dict) else None
	url = opt.get("storage") if isinstance(opt, dict) else None
	if not url:
		return None
	parsed = make_url(str(url))
	if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
		return parsed.set(database=str(sqlite_study_path(parsed.database))).render_as_string(hide_password=False)
	return str(url)


def sqlite_study_path(database: str | None) -> Path:
	"""Where a spec's SQLite study file lives: inside the data directory (relative paths are taken from there, an
	absolute one must already point inside it); ValueError for anything else (a spec never writes elsewhere)."""
	from ..paths import data_dir

	root = data_dir().resolve()
	if not database or database == ":memory:":
		raise ValueError("optimization.storage: a SQLite study needs a file name, e.g. sqlite:///optuna.db")
	path = Path(database)
	resolved = (path if path.is_absolute() else root / path).resolve()
	if resolved != root and root not in resolved.parents:
		raise ValueError(
			f"optimization.storage: the SQLite file {database!r} is outside the data directory {root}; "
			"use a relative name (sqlite:///optuna.db is kept in the data directory)"
		)
	return resolved


def study_name_for(task_id: int, spec: dict[str, Any]) -> str:
	"""The name a new task's Optuna study gets: optimization.study_name of its spec, else autotuner-task-ID."""
	opt = spec.get("optimization") if isinstance(spec, dict) else None
	name = opt.get("study_name") if isinstance(opt, dict) else None
	return str(name) if name else f"autotuner-task-{task_id}"
