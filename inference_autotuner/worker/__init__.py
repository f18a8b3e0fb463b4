"""Workers: run queued tasks. In-process (a long-lived thread per slot) by default; ARQ on Redis when configured."""

from .base import TaskQueue
from .execute import execute_task, task_log_path
from .local import LocalWorker

__all__ = ["LocalWorker", "TaskQueue", "execute_task", "task_log_path"]
