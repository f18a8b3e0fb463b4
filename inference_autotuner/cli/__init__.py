"""The `autotuner` command line (Typer + Rich): one module per group of commands, all on one Typer app."""

# ruff: noqa: I001  -- import order is the order commands appear in --help
from . import tasks  # noqa: F401  tune, resume, list, show, best, export, delete
from . import results  # noqa: F401  pareto
from . import report  # noqa: F401  report, compare
from . import specs  # noqa: F401  validate, explain, plan, manifest, engines
from . import system  # noqa: F401  gpus, models, serve, worker
from . import users  # noqa: F401  users add, list, revoke
from .common import app
from ..reporting.export_formats import to_csv as _to_csv  # kept for scripts/make_landscapes.py

__all__ = ["_to_csv", "app"]
