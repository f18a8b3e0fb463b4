"""Load a task spec from YAML or JSON and report every problem with its field path and a fix hint."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import SpecError, SpecProblem
from ..limits import MAX_BODY_BYTES, MAX_GRID, MAX_TOKENS, DocumentError, check_tree, load_json, load_yaml
from .models import CHOICE_TYPES, TaskSpec, normalize_parameters


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


def _check_engine_params(data: dict[str, Any]) -> list[SpecProblem]:
	"""Every parameter and every baseline flag: not a flag the tuner owns, a flag the engine knows, a valid value."""
	from ..engines import ENGINES
	from .models import ENGINE_ALIASES

	engine = ENGINE_ALIASES.get(str(data.get("base_runtime", "llamacpp")).strip().lower())
	parameters = normalize_parameters(data.get("parameters"))
	catalogue = ENGINES[engine]().catalogue() if engine in ENGINES else None
	problems: list[SpecProblem] = []
	if isinstance(parameters, dict):
		given = data.get("parameters")
		raw: dict[str, Any] = given if isinstance(given, dict) else {}
		problems += _flag_problems(engine, catalogue, parameters, "parameters", raw)
	opt = data.get("optimization")
	baseline = opt.get("baseline") if isinstance(opt, dict) else None
	if isinstance(baseline, dict):  # your current flags: checked exactly like parameters
		problems += _flag_problems(engine, catalogue, baseline, "optimization.baseline", baseline, ranges=False)
	return problems


ENV_PARAM_PREFIX = "env:"


def _env_param_problems(name: str, definition: Any, path: str) -> list[SpecProblem]:
	"""`env:NAME` parameters: a variable the env allow-list passes, with text or number values."""
	from ..engines.plan import env_value
	from .guard import env_problem

	values = definition if isinstance(definition, list) else [definition]
	if isinstance(definition, dict):  # a numeric range
		values = [definition.get("low", 0)]
	problems = []
	for value in values:
		if isinstance(value, dict | list) or value is None:
			problems.append(SpecProblem(path, f"an environment variable takes text or numbers, got {value!r}"))
			break
		why = env_problem(name.removeprefix(ENV_PARAM_PREFIX), env_value(value))
		if why:
			problems.append(SpecProblem(path, why, "environment parameters pass the same allow-list as `env`"))
			break
	return problems


def _flag_problems(
	engine: str | None,
	catalogue: dict[str, Any] | None,
	flags: dict[str, Any],
	where: str,
	raw: dict[str, Any],
	*,
	ranges: bool = True,
) -> list[SpecProblem]:
	from ..engines import check_value, closest_flag
	from .guard import owned_flag_problem

	problems: list[SpecProblem] = []
	for name, definition in flags.items():
		path = f"{where}.{name}"
		if not isinstance(name, str):
			problems.append(SpecProblem(path, "flag names are text"))
			continue
		if name.startswith("-"):
			problems.append(SpecProblem(path, "write flag names without leading dashes", f"use '{name.lstrip('-')}'"))
			continue
		if name.startswith(ENV_PARAM_PREFIX):  # an environment variable searched like a flag (env:NAME)
			problems += _env_param_problems(name, definition, path)
			continue
		owned = owned_flag_problem(name)
		if owned:
			problems.append(SpecProblem(path, owned, "remove it: the tuner passes its own value to every experiment"))
			continue
		if name.startswith(("__quant__", "__parallel__")) or catalogue is None:
			continue  # engines without a catalogue here are checked when they are launched
		info = catalogue.get(name)
		if info is None:
			near = closest_flag(name, catalogue)
			hint = f"did you mean '{near}'?" if near else "run `autotuner engines` to list the engine's flags"
			problems.append(SpecProblem(path, f"unknown {engine} flag '{name}'", hint))
			continue
		if isinstance(definition, dict):
			kind = definition.get("type", "integer")
			if not ranges:
				problems.append(SpecProblem(path, "a baseline flag takes one value, not a range"))
			elif info.type not in ("int", "float"):
				problems.append(SpecProblem(path, f"a range needs a numeric flag; '{name}' is {info.type}"))
			elif info.type == "int" and kind not in ("integer", "int"):
				problems.append(SpecProblem(path, f"'{name}' takes integers", "use type: integer"))
			continue
		if not ranges and isinstance(definition, list):
			problems.append(SpecProblem(path, "a baseline flag takes one value, not a list"))
			continue
		values = definition if isinstance(definition, list) else [definition]
		original = raw.get(name)
		if isinstance(original, dict):  # the seed's {type: choice, values: [...]}: point into its list
			path += ".values" if "values" in original else ".choices"
		for i, value in enumerate(values):
			why = check_value(info, value)
			if why:
				problems.append(SpecProblem(f"{path}[{i}]" if isinstance(definition, list) else path, why))
	return problems


def _check_quant_parallel(data: dict[str, Any]) -> list[SpecProblem]:
	from ..engines.plan import config_problems
	from .models import ENGINE_ALIASES

	engine = ENGINE_ALIASES.get(str(data.get("base_runtime", "llamacpp")).strip().lower())
	quant, parallel = data.get("quant_config"), data.get("parallel_config")
	if engine is None:
		return []
	quant = quant if isinstance(quant, dict) else None
	parallel = parallel if isinstance(parallel, dict) else None
	return [SpecProblem(path, msg, hint) for path, msg, hint in config_problems(engine, quant, parallel)]


def _check_consistency(data: dict[str, Any]) -> list[SpecProblem]:
	from ..bench.traffic import parse_scenario

	problems: list[SpecProblem] = []
	bench = data.get("benchmark")
	scenarios = bench.get("traffic_scenarios") if isinstance(bench, dict) else None
	for i, text in enumerate(scenarios if isinstance(scenarios, list) else []):
		if not isinstance(text, str):
			continue
		try:
			parse_scenario(text)
		except ValueError as exc:
			problems.append(SpecProblem(f"benchmark.traffic_scenarios[{i}]", str(exc)))
			continue
		if any(len(n) > 7 or int(n) > MAX_TOKENS for n in re.findall(r"\d+", text)):
			problems.append(
				SpecProblem(
					f"benchmark.traffic_scenarios[{i}]",
					f"traffic scenario {text[:60]!r}: token counts must be at most {MAX_TOKENS:,}",
				)
			)
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


def parse_spec(data: Any, source: str | None = None) -> TaskSpec:
	"""Validate already-loaded data (a dict) into a TaskSpec, raising SpecError with every problem."""
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
	extra = _check_engine_params(data) + _check_quant_parallel(data) + _check_consistency(data)
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


def load_spec(path: str | Path) -> TaskSpec:
	p = Path(path)
	return parse_spec(_read(p), str(p))


def validate_spec_file(path: str | Path) -> list[SpecProblem]:
	"""Every problem in the spec file (empty when valid)."""
	try:
		load_spec(path)
	except SpecError as exc:
		return exc.problems
	return []
