"""Moved to services/views.py; this re-export stays while deploy/k8s/render.py (another area) imports it from here."""

from __future__ import annotations

from .services.views import FIGURE_COLUMNS, experiments_of, find_task

__all__ = ["FIGURE_COLUMNS", "experiments_of", "find_task"]
