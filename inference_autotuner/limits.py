"""Every cap on what a request, a spec file or a spec may ask of the host, in one place (docs/security.md lists them).

A spec arrives from any HTTP client or file and becomes processes, load and database rows on this machine, so each
size a user chooses has a ceiling that no real tuning comes near: one request is refused with a clear 422/413 (exit 2
on the command line) instead of exhausting memory, CPU or disk.

Documents (HTTP bodies, spec files, preset files), checked while they are read, before any model sees them:
- bodies and files larger than MAX_BODY_BYTES (HTTP: from Content-Length, before a byte of the body is read: 413);
- nesting deeper than MAX_DEPTH, or more than MAX_NODES values once YAML aliases are expanded (a 385-byte "billion
  laughs" alias bomb is refused after reading it, never expanded), and recursive YAML aliases;
- NaN, Infinity and numbers that overflow a double (1e400), in JSON and in YAML; integers beyond 64 bits;
- YAML values JSON cannot hold (binary, sets); YAML dates become ISO text.

Specs (spec/models.py uses these as field bounds; spec/load.py checks the search space):
- concurrency, request rates, requests per run, durations, iterations, repeats, parallel experiments, levels;
- a grid search's number of configurations (MAX_GRID): Optuna's GridSampler materialises every combination.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import yaml

# -- documents ---------------------------------------------------------------------------------------------------
MAX_BODY_BYTES = 2_000_000  # an HTTP request body, a spec or preset file
MAX_DEPTH = 32  # nesting of mappings/lists in a document (a real spec nests 4 deep)
MAX_NODES = 100_000  # values in a document, YAML aliases expanded
MAX_INT = 2**63 - 1  # integers in a document: 64-bit, like the database's
MAX_INT_DIGITS = 20

# -- specs -------------------------------------------------------------------------------------------------------
MAX_CONCURRENCY = 4096  # concurrent requests of one load level (benchmark.num_concurrency, load_search.limit)
MAX_REQUEST_RATE = 10_000.0  # requests/s of an open-loop level (benchmark.request_rates, load_search.limit)
MAX_REQUESTS = 1_000_000  # requests of one run (max_requests_per_iteration, warmup, early_stop.min_requests)
MAX_LEVELS = 64  # entries of num_concurrency, request_rates, traffic_scenarios
MAX_TOKENS = 1_000_000  # input or output tokens of one request in a traffic scenario
MAX_SECONDS = 7 * 86_400.0  # any duration a spec gives (per run, per experiment, start-up, unschedulable)
MAX_ITERATIONS = 100_000  # optimization.max_iterations, n_initial_random
MAX_REPEATS = 100  # repeats, repeat_top_k, warm_start_top_k
MAX_PARALLEL = 256  # optimization.max_parallel
MAX_PROBES = 100  # load_search.max_probes
MAX_PARAMETERS = 256  # tuned flags in a spec
MAX_CHOICES = 10_000  # values listed for one flag
MAX_GRID = 100_000  # configurations of a grid search (every one is materialised by Optuna's GridSampler)
MAX_SEED = 2**32 - 1  # optimization.seed (numpy's generators take 32 bits)
MAX_GPUS = 1024  # hardware.gpu_count
MAX_TEXT = 10_000  # free text in a spec (description)


class DocumentError(ValueError):
	"""A document breaks a cap or holds a value JSON cannot; `path` names where (empty: the whole document)."""

	def __init__(self, message: str, path: str = "") -> None:
		super().__init__(message)
		self.message = message
		self.path = path


def _join(path: str, key: Any) -> str:
	if isinstance(key, int) and not isinstance(key, bool):
		return f"{path}[{key}]"
	return f"{path}.{key}" if path else str(key)


def _number_problem(value: Any) -> str | None:
	if isinstance(value, bool):
		return None
	if isinstance(value, float) and not math.isfinite(value):
		return (
			f"{value} is not a number a spec may hold (NaN, Infinity and overflowing numbers such as 1e400 are refused)"
		)
	if isinstance(value, int) and abs(value) > MAX_INT:
		return f"the integer is larger than {MAX_INT} (64 bits)"
	return None


def check_tree(data: Any) -> Any:
	"""The document as plain JSON-able data, or DocumentError: depth, size, non-finite numbers, huge integers, values
	JSON cannot hold (YAML dates become ISO text). Iterative: any depth is judged without recursion."""
	count = 0

	def fix(value: Any, path: str, depth: int) -> Any:
		nonlocal count
		count += 1
		if count > MAX_NODES:
			raise DocumentError(f"the document holds more than {MAX_NODES} values", "")
		if depth > MAX_DEPTH:
			raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", path)
		if value is None or isinstance(value, str | bool):
			return value
		if isinstance(value, int | float):
			why = _number_problem(value)
			if why:
				raise DocumentError(why, path)
			return value
		if isinstance(value, datetime.date):
			return value.isoformat()
		if isinstance(value, dict | list):
			return value
		raise DocumentError(f"a {type(value).__name__} value is not JSON data", path)

	root = fix(data, "", 0)
	stack: list[tuple[Any, str, int]] = [(root, "", 0)]
	while stack:
		node, path, depth = stack.pop()
		if isinstance(node, dict):
			for key in list(node):
				if not (key is None or isinstance(key, str | int | float | bool)):
					raise DocumentError(f"a mapping key must be text, not {type(key).__name__}", path)
				if isinstance(key, float) and _number_problem(key):
					raise DocumentError("a mapping key is not a finite number", path)
				sub = _join(path, key)
				node[key] = fixed = fix(node[key], sub, depth + 1)
				if isinstance(fixed, dict | list):
					stack.append((fixed, sub, depth + 1))
		elif isinstance(node, list):
			for i, item in enumerate(node):
				sub = _join(path, i)
				node[i] = fixed = fix(item, sub, depth + 1)
				if isinstance(fixed, dict | list):
					stack.append((fixed, sub, depth + 1))
	return root


# -- JSON --------------------------------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
	raise DocumentError(f"{name} is not a number a spec may hold (NaN and Infinity are refused)")


def _parse_float(text: str) -> float:
	value = float(text)
	if not math.isfinite(value):
		raise DocumentError(f"{text[:40]} overflows a double (numbers must be finite)")
	return value


def _parse_int(text: str) -> int:
	if len(text.lstrip("-")) > MAX_INT_DIGITS:
		raise DocumentError(f"the integer {text[:24]}... is larger than {MAX_INT} (64 bits)")
	return int(text)


def load_json(text: str | bytes) -> Any:
	"""json.loads that refuses NaN/Infinity/1e400, huge integers, deep nesting and oversized documents.
	json.JSONDecodeError for malformed JSON; DocumentError for a cap."""
	if len(text) > MAX_BODY_BYTES:
		raise DocumentError(f"the document is larger than {MAX_BODY_BYTES} bytes")
	try:
		data = json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)
	except RecursionError:
		raise DocumentError(f"nested deeper than {MAX_DEPTH} levels") from None
	return check_tree(data)


# -- YAML --------------------------------------------------------------------------------------------------------
def _scan_yaml(text: str) -> None:
	"""Walk the YAML events (no objects built) and refuse deep nesting, recursive aliases and documents whose alias
	expansion exceeds MAX_NODES, before the loader builds anything."""
	sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) of the node it names, expanded
	stack: list[list[Any]] = []  # open collections: [anchor, values, deepest child]
	total = 0

	def add(n: int, d: int) -> None:
		nonlocal total
		total += n
		if total > MAX_NODES:
			raise DocumentError(
				f"the document holds more than {MAX_NODES} values once its aliases are expanded (an alias bomb?)"
			)
		if len(stack) + d > MAX_DEPTH:
			raise DocumentError(f"nested deeper than {MAX_DEPTH} levels")
		if stack:
			stack[-1][1] += n
			stack[-1][2] = max(stack[-1][2], d)

	for event in yaml.parse(text, Loader=yaml.SafeLoader):
		if isinstance(event, yaml.ScalarEvent):
			if event.anchor:
				sizes[event.anchor] = (1, 0)
			add(1, 0)
		elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
			if len(stack) >= MAX_DEPTH:
				raise DocumentError(f"nested deeper than {MAX_DEPTH} levels")
			stack.append([event.anchor, 1, 0])
		elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
			anchor, n, d = stack.pop()
			if anchor:
				sizes[anchor] = (n, d + 1)
			add(n, d + 1)
		elif isinstance(event, yaml.AliasEvent):
			if event.anchor not in sizes:
				if any(frame[0] == event.anchor for frame in stack):
					raise DocumentError(f"the alias *{event.anchor} refers to itself (recursive YAML is refused)")
				continue  # undefined: the loader reports it with its line
			add(*sizes[event.anchor])


def load_yaml(text: str) -> Any:
	"""yaml.safe_load that refuses alias bombs, recursive aliases, deep nesting, NaN/.inf/1e400, huge integers and
	values JSON cannot hold. yaml.YAMLError for malformed YAML; DocumentError for a cap."""
	if len(text) > MAX_BODY_BYTES:
		raise DocumentError(f"the document is larger than {MAX_BODY_BYTES} bytes")
	_scan_yaml(text)
	try:
		data = yaml.safe_load(text)
	except RecursionError:
		raise DocumentError(f"nested deeper than {MAX_DEPTH} levels") from None
	except ValueError as exc:  # e.g. an integer of more than 4300 digits
		if isinstance(exc, DocumentError):
			raise
		raise DocumentError(f"a value cannot be read: {str(exc)[:200]}") from None
	return check_tree(data)
