"""Reports people can share: `autotuner report TASK` (and GET /api/tasks/{id}/report) as one self-contained HTML file
with plots drawn server-side, or as Markdown. collect.py reads, plots.py draws, render.py writes."""

from __future__ import annotations

from typing import Literal

from ..errors import AutotunerError
from ..store import Store
from .collect import ReportData, collect

FORMATS = ("html", "md")
Format = Literal["html", "md"]


def build_report(store: Store, ref: str | int, fmt: str = "html", *, gpu_hour_usd: float | None = None) -> str:
	"""The report of task `ref` (name or id) in `fmt` (html or md)."""
	if fmt not in FORMATS:
		raise AutotunerError(f"unknown report format '{fmt}'", hint="use html or md")
	from .render import html_report, markdown_report

	data = collect(store, ref, gpu_hour_usd=gpu_hour_usd)
	return html_report(data) if fmt == "html" else markdown_report(data)


__all__ = ["FORMATS", "Format", "ReportData", "build_report", "collect"]
