"""Load a task spec from YAML or JSON and report every problem with its field path and a fix hint."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import SpecError, SpecProblem
from ..limits import MAX_BODY_BYTES, MAX_GRID, DocumentError, check_tree, load_json, load_yaml
from .models import CHOICE_TYPES, TaskSpec

Checks = Callable[[dict[str, Any]], list[SpecProblem]]  # problems a layer above sees in the raw data


def _read(path: Path) -> Any:
	"""The file's data, or SpecError naming what is wrong with the file itself (missing, a folder, unreadable, too
	large, not UTF-8, malformed, beyond a cap of limits.py)."""
	if not path.exists():
		raise SpecError([SpecProblem("", f"spec file {path} not found", "check the path")], str(path))
	if path.is_dir():
		raise SpecError(
			[SpecProblem("", f"{path} is a folder, not a spec file", "give the YAML or JSON file")], str(path)
		)
	try:
		with path.open("rb") as f:
			raw = f.read(MAX_BODY_BYTES + 1)
	except OSError as exc:
		raise SpecError([SpecProblem("", f"cannot read {path}: {exc.strerror or exc}")], str(path)) from None
	if len(raw) > MAX_BODY_BYTES:
		raise SpecError([SpecProblem("", f"the file is larger than {MAX_BODY_BYTES} bytes")], str(path))
	return parse_document(raw, "json" if path.suffix.lower() == ".json" else "yaml", str(path))


def parse_document(raw: str | bytes, kind: str, source: str | None = None, what: str = "spec") -> Any:
	"""A JSON or YAML document (text or UTF-8 bytes) as data within the caps of limits.py; SpecError otherwise."""
	if isinstance(raw, bytes):
		try:
			raw = raw.decode("utf-8")
		except UnicodeDecodeError as exc:
			raise SpecError(
				[SpecProblem("", f"the {what} is not UTF-8 text (byte {exc.start})", "save it as UTF-8")], source
			) from None
	try:
		return load_json(raw) if kind == "json" else load_yaml(raw)
	except DocumentError as exc:
		raise SpecError([SpecProblem(exc.path, exc.message)], source) from None
	except (json.JSONDecodeError, yaml.YAMLError) as exc:
		mark = getattr(exc, "problem_mark", None)
		where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
		if isinstance(exc, json.JSONDecodeError):
			where = f" at line {exc.lineno}, column {exc.colno}"
		problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or str(exc)
		raise SpecError([SpecProblem("", f"not valid {kind.upper()}{where}: {problem}")], source) from None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
	"""The pydantic model that owns the field at `loc` (for 'did you mean' on unknown fields)."""
	model: type[BaseModel] | None = TaskSpec
	for part in loc[:-1]:
		if model is None or not isinstance(part, str) or part not in model.model_fields:
			return None
		ann = model.model_fields[part].annotation
		candidates = [ann, *getattr(ann, "__args__", ())]
		model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
	return model


def _problems_from(exc: ValidationError, data: dict[str, Any]) -> list[SpecProblem]:
	problems: list[SpecProblem] = []
	seen_param: set[str] = set()
	for err in exc.errors():
		loc = tuple(err["loc"])
		# a bad parameter definition matches none of the union members: report it once, plainly
		if len(loc) >= 2 and loc[0] == "parameters":
			name = str(loc[1])
			if name in seen_param:
				continue
			seen_param.add(name)
			given = (data.get("parameters") or {}).get(name) if isinstance(data.get("parameters"), dict) else None
			if isinstance(given, dict) and given.get("type") in CHOICE_TYPES:
				problems.append(
					SpecProblem(
						f"parameters.{name}",
						f"a {{type: {given['type']}}} parameter needs its values as a list, and nothing else",
						"e.g. threads: {type: choice, values: [1, 2]}",
					)
				)
				continue
			if isinstance(given, dict) and (range_problems := _range_problems(name, given)):
				problems.extend(range_problems)
				continue
			problems.append(
				SpecProblem(
					f"parameters.{name}",
					"must be a list of values, a single value, a choice {type: choice, values: [...]}, or a range "
					"{type: integer|continuous, low, high}",
					"e.g. threads: [1, 2]  or  threads: {type: integer, low: 1, high: 4}",
				)
			)
			continue
		path = ".".join(str(p) for p in loc if not str(p).startswith(("function-after", "union")))
		kind = err["type"]
		hint = None
		msg = err["msg"]
		if kind == "extra_forbidden":
			model = _model_at(loc)
			msg = f"unknown field '{loc[-1]}'"
			if model is not None:
				match = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.5)
				hint = f"did you mean '{match[0]}'?" if match else f"valid fields: {', '.join(model.model_fields)}"
		elif kind == "missing":
			msg = "required field is missing"
		elif kind == "too_short":
			msg = "must not be empty"
			hint = "give at least one value"
		elif kind.endswith("_type") or kind.endswith("_parsing"):
			msg = f"wrong type: {msg} (got {err.get('input')!r})"
		elif msg.startswith("Value error, "):
			msg = msg.removeprefix("Value error, ")
		problems.append(SpecProblem(path, msg, hint))
	return problems


def _range_problems(name: str, given: dict[str, Any]) -> list[SpecProblem]:
	"""What is wrong with a range {type, low, high, step, log} (step 0, low > high, ...), by its own field."""
	from .models import RangeParam

	try:
		RangeParam.model_validate(given)
	except ValidationError as exc:
		out = []
		for e in exc.errors():
			where = ".".join(str(p) for p in e["loc"])
			msg = str(e["msg"]).removeprefix("Value error, ")
			out.append(SpecProblem(f"parameters.{name}" + (f".{where}" if where else ""), msg))
		return out
	return []


def _check_goodput(data: dict[str, Any]) -> list[SpecProblem]:
	problems: list[SpecProblem] = []
	opt = data.get("optimization")
	if isinstance(opt, dict) and opt.get("objective") == "maximize_goodput":
		slo = data.get("slo") or {}
		latency = slo.get("latency") or {} if isinstance(slo, dict) else {}
		if not (isinstance(slo, dict) and (slo.get("ttft") or slo.get("tpot") or latency)):
			problems.append(
				SpecProblem(
					"optimization.objective", "maximize_goodput needs at least one SLO", "add slo.ttft or slo.tpot"
				)
			)
	return problems


def check_spec(data: Any, source: str | None = None, *, checks: Checks) -> TaskSpec:
	"""Validate already-loaded data (a dict) into a TaskSpec, raising SpecError with every problem.

	`checks` adds the problems only the layers above can see (flags against the engine catalogues, quant/parallel
	configs, traffic scenarios); call services/validate.py's parse_spec, which passes them, rather than this."""
	if not isinstance(data, dict):
		raise SpecError([SpecProblem("", "a task spec must be a mapping of fields (task_name, model, ...)")], source)
	try:  # the caps of limits.py whatever the spec came from (a file and a body are checked as they are read)
		check_tree(data)
	except DocumentError as exc:
		raise SpecError([SpecProblem(exc.path, exc.message)], source) from None
	problems: list[SpecProblem] = []
	spec: TaskSpec | None = None
	try:
		spec = TaskSpec.model_validate(data)
	except ValidationError as exc:
		problems.extend(_problems_from(exc, data))
	known = {p.path for p in problems}
	extra = checks(data) + _check_goodput(data)
	problems.extend(p for p in extra if p.path not in known)
	if spec is not None and not problems:
		problems.extend(_check_space(spec))
	if problems or spec is None:
		raise SpecError(problems, source)
	return spec


def _check_space(spec: TaskSpec) -> list[SpecProblem]:
	"""The search space is built and counted (arithmetically) before anything is stored; a grid search may not list
	more than MAX_GRID configurations: Optuna's GridSampler materialises each one."""
	from ..space import build_task_space

	try:
		space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
		size = space.size()
	except (ArithmeticError, ValueError, TypeError) as exc:
		return [SpecProblem("parameters", f"the search space cannot be built: {exc}")]
	if spec.optimization.strategy == "grid_search" and size is not None and size > MAX_GRID:
		shown = f"{size:,}" if size < 10**15 else f"about 10^{len(str(size)) - 1}"
		return [
			SpecProblem(
				"parameters",
				f"a grid search over {shown} configurations is more than the {MAX_GRID:,} a grid may list",
				"use strategy: bayesian or random (they sample a large space without listing it), or narrow the ranges",
			)
		]
	return []


def read_spec_file(path: str | Path) -> Any:
	"""A spec file's data (YAML or JSON, within the caps of limits.py), not yet validated."""
	return _read(Path(path))
