"""Where the tool keeps its data (database, logs, pid records) and caches (models). XDG by default."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "inference-autotuner"


def data_dir() -> Path:
	"""$AUTOTUNER_DATA_DIR, else $XDG_DATA_HOME/inference-autotuner (~/.local/share/inference-autotuner)."""
	override = os.environ.get("AUTOTUNER_DATA_DIR")
	path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
	path.mkdir(parents=True, exist_ok=True)
	return path


def cache_dir() -> Path:
	"""$AUTOTUNER_CACHE_DIR, else $XDG_CACHE_HOME/inference-autotuner (~/.cache/inference-autotuner)."""
	override = os.environ.get("AUTOTUNER_CACHE_DIR")
	path = Path(override) if override else Path(platformdirs.user_cache_dir(APP, appauthor=False))
	path.mkdir(parents=True, exist_ok=True)
	return path


def logs_dir() -> Path:
	path = data_dir() / "logs"
	path.mkdir(parents=True, exist_ok=True)
	return path


def run_dir() -> Path:
	"""Pid records of engine processes this tool started (swept by the next run if the tuner was killed)."""
	path = data_dir() / "run"
	path.mkdir(parents=True, exist_ok=True)
	return path


def default_db_url() -> str:
	"""$AUTOTUNER_DB, else SQLite in the data dir."""
	return os.environ.get("AUTOTUNER_DB") or f"sqlite:///{data_dir() / 'autotuner.db'}"


def safe_name(name: str) -> str:
	"""A file-name-safe form of a user-given name (task names end up in log paths)."""
	cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
	return cleaned[:100] or "task"
