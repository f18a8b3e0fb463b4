"""The one rule for "the same task spec": what `autotuner tune` (resume the task of that name) and a task update with
measured experiments (PUT /api/tasks/{id}) both accept as no change."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .models import TaskSpec

# Fields a task may change without its measurements losing their meaning: the budget and the description.
FREE_FIELDS = ("optimization.max_iterations", "description")


def spec_dump(spec: TaskSpec) -> dict[str, Any]:
	"""The stored form of a spec (JSON types, no nulls)."""
	return spec.model_dump(mode="json", exclude_none=True)


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
	"""The spec as today's defaults read it (a field added since it was stored is not a change), without the free
	fields."""
	try:
		out = spec_dump(TaskSpec.model_validate(data))
	except ValidationError:
		out = dict(data)
	opt = dict(out.get("optimization") or {})
	opt.pop("max_iterations", None)
	out["optimization"] = opt
	out.pop("description", None)
	return out


def same_spec(old: dict[str, Any], new: dict[str, Any]) -> bool:
	"""Whether two stored specs describe the same tuning: equal once read with today's defaults, apart from
	optimization.max_iterations and the description."""
	return _comparable(old) == _comparable(new)
