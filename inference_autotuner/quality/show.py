"""How the quality figures read in the CLI (show, best) and reports: one short line, or table cells."""

from __future__ import annotations

from typing import Any

KEYS = ("quality_top1", "quality_kl", "quality_exact", "quality_accuracy")
TITLES = {"quality_top1": "top-1", "quality_kl": "KL (nats)", "quality_exact": "exact", "quality_accuracy": "eval"}


def has_quality(rows: list[dict[str, Any]]) -> bool:
	"""Whether any experiment row was probed by the quality guardrail."""
	return any(isinstance(r.get("figures"), dict) and "quality_probe_seconds" in r["figures"] for r in rows)


def _num(v: Any, digits: int = 3) -> str:
	return f"{v:.{digits}f}" if isinstance(v, int | float) else "-"


def quality_cells(figures: dict[str, Any] | None) -> tuple[str, str]:
	"""(top-1 agreement, KL) for a table row; '-' where not measured."""
	fig = figures or {}
	return _num(fig.get("quality_top1")), _num(fig.get("quality_kl"), 4)


def quality_line(figures: dict[str, Any] | None) -> str | None:
	"""'quality vs reference: top-1 0.987, KL 0.0980 nats, exact 0.75, eval 0.40 (probe 2.1 s)'; None if unprobed."""
	fig = figures or {}
	if "quality_probe_seconds" not in fig:
		return None
	parts = [
		f"{label} {_num(fig.get(key), 4 if key == 'quality_kl' else 3)}{' nats' if key == 'quality_kl' else ''}"
		for key, label in zip(KEYS, ("top-1", "KL", "exact", "eval accuracy"), strict=True)
		if fig.get(key) is not None
	]
	probe = fig.get("quality_probe_seconds")
	cost = f" (probe {probe:.1f} s)" if isinstance(probe, int | float) else ""
	return f"quality vs reference: {', '.join(parts) or 'not measured'}{cost}"


def quality_rejections(experiments: list[dict[str, Any]], rec: dict[str, Any] | None, *, maximize: bool) -> list[str]:
	"""Why a configuration better on the primary objective than the recommendation is not it, when the quality
	guardrail rejected it: 'experiment 3 is faster (12.1 vs 9.3) but infeasible: quality: top-1 agreement ...'.
	One line per configuration (its best measurement), best first; empty when none."""
	if rec is None or not isinstance(rec.get("objective_value"), int | float):
		return []
	mine = float(rec["objective_value"])
	better: dict[str, dict[str, Any]] = {}
	for e in experiments:
		value, reason = e.get("objective_value"), e.get("failure_reason") or ""
		if not isinstance(value, int | float) or not reason.startswith("quality:"):
			continue
		if (value > mine) if maximize else (value < mine):
			key = str(e.get("params_key") or e.get("params"))
			kept = better.get(key)
			if kept is None or ((value > kept["objective_value"]) if maximize else (value < kept["objective_value"])):
				better[key] = e
	ranked = sorted(better.values(), key=lambda e: float(e["objective_value"]), reverse=maximize)
	word = "higher" if maximize else "lower"
	return [
		f"experiment {e['number']} scores {word} ({e['objective_value']:.4g} vs {mine:.4g}) but is not recommended: "
		f"{e['failure_reason'].splitlines()[0]}"
		for e in ranked
	]
