"""System presets (seeded at start) and preset merging (union, intersection, last_wins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..engines.parallel import DEFAULT_PARALLEL, PARALLEL_FLAGS, PARALLEL_PRESETS
from ..engines.quant import QUANT_PRESET_HELP, QUANT_PRESETS
from ..store import Store
from ..store.models import Preset

# The quantization and parallel system presets are the engines' own presets (engines/quant.py, engines/parallel.py),
# stored under a prefixed name (a parallel preset is per engine). Each keeps the name a task spec takes for it
# (`quant_config: {presets: [kv-cache-fp8]}`) as `spec_name`; the wizard sends that name, never the stored one.
_PARALLEL_HELP = {
	"single-gpu": "One GPU",
	"high-throughput": "Data-parallel replicas for throughput",
	"large-model-tp": "Tensor parallel for models that do not fit one GPU",
	"large-model-tp-pp": "Tensor + pipeline parallel across nodes",
	"moe-optimized": "Expert parallel for mixture-of-experts models",
	"long-context": "Context parallel for long inputs",
	"balanced": "A small tensor/data-parallel split",
}

_PARAMS: dict[str, tuple[str, str, dict[str, Any]]] = {
	"llamacpp-cpu-throughput": (
		"llamacpp",
		"llama.cpp on a CPU: slots and threads, the two knobs that matter most",
		{"parallel": [1, 2, 4], "threads": [1, 2]},
	),
	"llamacpp-batching": (
		"llamacpp",
		"llama.cpp batch sizes with continuous batching",
		{"batch-size": [512, 2048], "ubatch-size": [128, 512], "cont-batching": [True]},
	),
}


def _shown_parallel(cfg: dict[str, int]) -> dict[str, int]:
	"""tp, pp, dp and every other field that is not 1 (the rest are 1)."""
	return {k: v for k, v in cfg.items() if k in ("tp", "pp", "dp") or v != DEFAULT_PARALLEL.get(k)}


def system_presets() -> list[dict[str, Any]]:
	"""Every system preset as a Preset row's fields, plus `spec_name` (the spec's name for it, or None)."""
	out: list[dict[str, Any]] = []
	for name, cfg in QUANT_PRESETS.items():
		desc = QUANT_PRESET_HELP.get(name, name)
		out.append(
			{
				"name": f"quant-{name}",
				"description": desc[:1].upper() + desc[1:],
				"category": "quantization",
				"runtime": None,
				"parameters": dict(cfg),
				"spec_name": name,
			}
		)
	for runtime, presets in PARALLEL_PRESETS.items():
		if not PARALLEL_FLAGS.get(runtime):
			continue  # llama.cpp: no parallel flags, its one preset changes nothing
		for name, pcfg in presets.items():
			out.append(
				{
					"name": f"parallel-{runtime}-{name}",
					"description": _PARALLEL_HELP.get(name, name),
					"category": "parallel",
					"runtime": runtime,
					"parameters": _shown_parallel(pcfg),
					"spec_name": name,
				}
			)
	for name, (runtime, desc, params) in _PARAMS.items():
		out.append(
			{
				"name": name,
				"description": desc,
				"category": "parameters",
				"runtime": runtime,
				"parameters": params,
				"spec_name": None,
			}
		)
	return out


_SPEC_NAMES = {p["name"]: p["spec_name"] for p in system_presets() if p["spec_name"]}


def spec_name(name: str, is_system: bool) -> str | None:
	"""The name a task spec's quant_config / parallel_config `presets` takes for a stored preset; None for the
	presets a spec cannot name (user presets, flag presets: their values go into the spec instead)."""
	return _SPEC_NAMES.get(name) if is_system else None


def seed_system_presets(store: Store) -> int:
	"""Bring the system presets in line with the current definitions: insert the missing ones (by name), refresh the
	stored ones whose values changed (system presets are read-only, so nothing of a user's is lost) and remove the
	system presets no longer defined. User presets, of any name, are left alone. Returns how many were inserted."""
	added = 0
	wanted = {p["name"]: {k: v for k, v in p.items() if k != "spec_name"} for p in system_presets()}
	with store.session() as s:
		have = {p.name: p for p in s.scalars(select(Preset))}
		for name, fields in wanted.items():
			old = have.get(name)
			if old is None:
				s.add(Preset(is_system=True, **fields))
				added += 1
			elif old.is_system and any(getattr(old, k) != v for k, v in fields.items()):
				for k, v in fields.items():
					setattr(old, k, v)
		for name, old in have.items():
			if old.is_system and name not in wanted:
				s.delete(old)
	return added


def _values(v: Any) -> list[Any]:
	return list(v) if isinstance(v, list) else [v]


def _collapse(values: list[Any]) -> Any:
	return values[0] if len(values) == 1 else values


def merge_parameters(sets: list[dict[str, Any]], strategy: str) -> tuple[dict[str, Any], list[str]]:
	"""Merge parameter maps. union: every flag, values united; intersection: flags in all, common values;
	last_wins: every flag, the last preset's value. Conflicts: flags whose values differed."""
	conflicts: list[str] = []
	keys: list[str] = []
	for params in sets:
		keys.extend(k for k in params if k not in keys)
	merged: dict[str, Any] = {}
	for key in keys:
		present = [p[key] for p in sets if key in p]
		if any(present[0] != other for other in present[1:]):
			conflicts.append(key)
		if strategy == "last_wins":
			merged[key] = present[-1]
		elif strategy == "union":
			if any(isinstance(v, dict) for v in present):  # ranges cannot be united: the last one wins
				merged[key] = present[-1]
				continue
			vals: list[Any] = []
			for v in present:
				vals.extend(x for x in _values(v) if x not in vals)
			merged[key] = _collapse(vals)
		else:  # intersection
			if len(present) != len(sets):
				continue
			if any(isinstance(v, dict) for v in present):
				if all(v == present[0] for v in present):
					merged[key] = present[0]
				continue
			common = [x for x in _values(present[0]) if all(x in _values(v) for v in present[1:])]
			if common:
				merged[key] = _collapse(common)
	return merged, conflicts
