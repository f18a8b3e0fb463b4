"""The engine protocol: how a parameter set becomes an engine's launch argv, and which flags an engine knows."""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FlagType = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True)
class FlagInfo:
	"""One engine flag, named without its leading dashes."""

	name: str
	type: FlagType
	help: str = ""
	choices: tuple[str, ...] | None = None
	default: Any = None
	tuned: bool = False  # commonly tuned: shown by `autotuner engines` and offered first in the web app
	aliases: tuple[str, ...] = field(default_factory=tuple)


class Engine(Protocol):
	"""What the runner needs of an engine."""

	name: str
	version: str

	def catalogue(self) -> dict[str, FlagInfo]:
		"""Every flag this engine version accepts (without dashes)."""
		...

	def launch_argv(self, model: str, params: dict[str, Any], *, host: str, port: int) -> list[str]:
		"""The argv that starts a server for `model` with `params` on host:port (never a shell string)."""
		...

	def display_command(self, model: str, params: dict[str, Any], *, port: int = 8080) -> str:
		"""The command a user runs to serve this config with the engine's own binary."""
		...

	def world_size(self, params: dict[str, Any]) -> int:
		"""GPUs (or devices) one server with these params uses; per-GPU figures divide by it."""
		...

	health_path: str


def params_to_args(params: dict[str, Any]) -> list[str]:
	"""`{flag: value}` -> ['--flag', 'value', ...]; True -> bare flag, False/None -> omitted."""
	args: list[str] = []
	for name, value in params.items():
		flag = f"--{name}"
		if value is True:
			args.append(flag)
		elif value is False or value is None:
			continue
		else:
			if isinstance(value, float) and value.is_integer():
				value = int(value)
			args.extend([flag, str(value)])
	return args


def join_command(argv: list[str]) -> str:
	return shlex.join(argv)


def closest_flag(name: str, catalogue: dict[str, FlagInfo]) -> str | None:
	match = difflib.get_close_matches(name, list(catalogue), n=1, cutoff=0.5)
	return match[0] if match else None


def check_value(info: FlagInfo, value: Any) -> str | None:
	"""Why `value` is not valid for `info`, or None when it is."""
	if info.type == "bool":
		if not isinstance(value, bool):
			return f"flag '{info.name}' is a boolean flag: use true (pass --{info.name}) or false (omit it)"
		return None
	if isinstance(value, bool):
		return f"flag '{info.name}' takes a {info.type} value, not a boolean"
	if info.type == "int" and not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
		return f"flag '{info.name}' takes an integer, got {value!r}"
	if info.type == "float" and not isinstance(value, int | float):
		return f"flag '{info.name}' takes a number, got {value!r}"
	if info.choices is not None and str(value) not in info.choices:
		return f"flag '{info.name}' takes one of {', '.join(info.choices)}, got {value!r}"
	return None
