"""Storage: SQLAlchemy models, Alembic migrations, one Store per database (SQLite WAL default, Postgres by URL)."""

from .db import Store
from .models import Experiment, ExperimentOrigin, ExperimentStatus, Task, TaskStatus

__all__ = ["Experiment", "ExperimentOrigin", "ExperimentStatus", "Store", "Task", "TaskStatus"]
