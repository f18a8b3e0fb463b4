"""Spec validation that knows the engines: every parameter and baseline flag against the engine's catalogue, the
quant/parallel configs against what the engine can map, `env:NAME` values against the env allow-list, and the traffic
scenarios against the load generator's grammar. spec/load.py checks the rest (the models, the caps, the space); this
is the one entry point the CLI (`autotuner validate`, run, explain, ...) and the API (422 responses) share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..bench.traffic import parse_scenario
from ..engines import ENGINES, check_value, closest_flag
from ..engines.plan import config_problems, env_value
from ..errors import SpecError, SpecProblem
from ..limits import MAX_TOKENS
from ..spec.guard import env_problem, owned_flag_problem
from ..spec.load import check_spec, read_spec_file
from ..spec.models import ENGINE_ALIASES, TaskSpec, normalize_parameters

__all__ = ["engine_problems", "load_spec", "parse_spec", "validate_spec_file"]


def parse_spec(data: Any, source: str | None = None) -> TaskSpec:
	"""Validate already-loaded data (a dict) into a TaskSpec, raising SpecError with every problem."""
	return check_spec(data, source, checks=engine_problems)


def load_spec(path: str | Path) -> TaskSpec:
	p = Path(path)
	return parse_spec(read_spec_file(p), str(p))


def validate_spec_file(path: str | Path) -> list[SpecProblem]:
	"""Every problem in the spec file (empty when valid)."""
	try:
		load_spec(path)
	except SpecError as exc:
		return exc.problems
	return []


def engine_problems(data: dict[str, Any]) -> list[SpecProblem]:
	"""What only the engines and the load generator know: flags, quant/parallel configs, traffic scenarios."""
	return _check_engine_params(data) + _check_quant_parallel(data) + _check_traffic(data)


def _check_engine_params(data: dict[str, Any]) -> list[SpecProblem]:
	"""Every parameter and every baseline flag: not a flag the tuner owns, a flag the engine knows, a valid value."""
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
	engine = ENGINE_ALIASES.get(str(data.get("base_runtime", "llamacpp")).strip().lower())
	quant, parallel = data.get("quant_config"), data.get("parallel_config")
	if engine is None:
		return []
	quant = quant if isinstance(quant, dict) else None
	parallel = parallel if isinstance(parallel, dict) else None
	return [SpecProblem(path, msg, hint) for path, msg, hint in config_problems(engine, quant, parallel)]


def _check_traffic(data: dict[str, Any]) -> list[SpecProblem]:
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
	return problems
