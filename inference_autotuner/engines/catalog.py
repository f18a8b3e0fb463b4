"""Flag catalogues generated from the engines' own parsers, and the engine's Python to read them with.

`scripts/engine_catalog.py ENGINE` runs `argparse_probe.py dump ENGINE` with the installed engine's interpreter and
writes `inference_autotuner/data/catalog-ENGINE.json` (engine version, the parser it came from, every option with its
type, choices, default and help). This module turns a snapshot into FlagInfo entries (validation, `autotuner engines`,
the wizard's flag list, "did you mean") and compares it with the installed engine: `drift()` (version, cheap) and
`compare()` (flag by flag, after a fresh dump).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from .base import FlagInfo, FlagType

PROBE = Path(__file__).with_name("argparse_probe.py")
MARKER = "ARGPARSE-PROBE-RESULT "


@dataclass(frozen=True)
class Snapshot:
	"""One generated catalogue: the engine's parser as read from one installed version."""

	engine: str
	distribution: str | None
	version: str | None
	source: str
	options: tuple[dict[str, Any], ...]

	@property
	def label(self) -> str:
		return f"{self.distribution or self.engine} {self.version or '?'}"


def snapshot_file(engine: str) -> Path:
	return Path(str(resources.files("inference_autotuner") / "data" / f"catalog-{engine}.json"))


@functools.cache
def load_snapshot(engine: str) -> Snapshot | None:
	"""The packaged snapshot of `engine`'s parser, or None when its catalogue is still hand-made."""
	path = snapshot_file(engine)
	if not path.is_file():
		return None
	data = json.loads(path.read_text(encoding="utf-8"))
	return from_dump(data)


def from_dump(data: Mapping[str, Any]) -> Snapshot:
	return Snapshot(
		engine=str(data["engine"]),
		distribution=data.get("distribution"),
		version=data.get("version"),
		source=str(data.get("source", "")),
		options=tuple(data["options"]),
	)


def _short_help(text: str, limit: int = 200) -> str:
	"""The first sentence of an engine's help text (the rest stays in the JSON snapshot)."""
	text = " ".join(text.split())
	for end in (". ", ".\n"):
		cut = text.find(end)
		if 0 < cut < limit:
			return text[: cut + 1]
	return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def flags_from(snapshot: Snapshot, tuned: Iterable[str] = (), skip: Iterable[str] = ()) -> tuple[FlagInfo, ...]:
	"""FlagInfo entries for every option of the snapshot (a BooleanOptionalAction gives `flag` and `no-flag`).

	`tuned` marks the flags the tuner offers first (its own judgement, not the engine's); `skip` leaves out flags the
	tuner sets itself (host, port, model)."""
	tuned, skip = set(tuned), set(skip)
	out: list[FlagInfo] = []
	for opt in snapshot.options:
		longs = [o[2:] for o in opt["option_strings"] if o.startswith("--")]
		shorts = [o[1:] for o in opt["option_strings"] if not o.startswith("--")]
		if not longs:
			continue
		kind = cast(FlagType, opt["type"] if opt["type"] in ("int", "float", "str", "bool") else "str")
		choices = tuple(opt["choices"]) if opt.get("choices") else None
		help_text = _short_help(opt.get("help") or "")
		if opt.get("boolean_optional"):
			positive = [n for n in longs if not n.startswith("no-")]
			negative = [n for n in longs if n.startswith("no-")]
			if positive and positive[0] not in skip:
				name = positive[0]
				out.append(FlagInfo(name, "bool", help_text, None, opt.get("default"), name in tuned, tuple(shorts)))
			for name in negative[:1]:
				off = f"Turn off --{positive[0] if positive else name[3:]}"
				out.append(FlagInfo(name, "bool", off, None, None, name in tuned))
			continue
		name = longs[0]
		if name in skip:
			continue
		aliases = tuple(longs[1:] + shorts)
		out.append(FlagInfo(name, kind, help_text, choices, opt.get("default"), name in tuned, aliases))
	return tuple(out)


# -- the installed engine ---------------------------------------------------------------------------------------
def engine_python(argv0: list[str]) -> str | None:
	"""The Python interpreter behind an engine command: `PY -m module`, or the shebang of a console script."""
	if "-m" in argv0[1:3]:  # PY -m module, PY -I -m module
		return argv0[0] if shutil.which(argv0[0]) else None
	exe = shutil.which(argv0[0]) if argv0 else None
	if exe is None:
		return None
	try:
		with open(exe, "rb") as f:
			first = f.readline(300).decode(errors="replace").strip()
	except OSError:
		return None
	if first.startswith("#!") and "python" in first:
		parts = first[2:].split()
		return parts[-1] if parts and parts[0].endswith("env") else (parts[0] if parts else None)
	return None


def probe(python: str, command: str, engine: str, payload: Any = None, timeout: float = 300) -> Any:
	"""Run argparse_probe.py in the engine's interpreter; its JSON answer (RuntimeError with its output otherwise)."""
	env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
	proc = subprocess.run(
		[python, str(PROBE), command, engine],
		input=json.dumps(payload) if payload is not None else "",
		capture_output=True,
		text=True,
		timeout=timeout,
		env=env,
	)
	for line in proc.stdout.splitlines():
		if line.startswith(MARKER):
			return json.loads(line[len(MARKER) :])
	raise RuntimeError(f"{python} {PROBE.name} {command} {engine} failed ({proc.returncode}): {proc.stderr[-1500:]}")


def drift(engine: str, python: str | None) -> str | None:
	"""A warning when the installed engine's version differs from the packaged snapshot (None: same, or unknown)."""
	snap = load_snapshot(engine)
	if snap is None or python is None:
		return None
	try:
		found = probe(python, "version", engine, timeout=30)
	except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError):
		return None
	installed = found.get("version")
	if not installed or installed == snap.version:
		return None
	return (
		f"{engine}: the installed {found.get('distribution')} {installed} differs from the flag catalogue "
		f"({snap.label}); flags may have been added or removed: regenerate it with "
		f"`python scripts/engine_catalog.py {engine}` (or check with --check)"
	)


def compare(old: Snapshot, new: Snapshot) -> dict[str, list[str]]:
	"""Options added, removed, or changed (type, choices, default) between two snapshots, by their first name."""

	def key(opt: Mapping[str, Any]) -> str:
		return str(opt["option_strings"][0])

	a = {key(o): o for o in old.options}
	b = {key(o): o for o in new.options}
	changed = []
	for name in sorted(a.keys() & b.keys()):
		diffs = [f for f in ("type", "choices", "default") if a[name].get(f) != b[name].get(f)]
		if diffs:
			changed.append(f"{name} ({', '.join(diffs)})")
	return {"added": sorted(b.keys() - a.keys()), "removed": sorted(a.keys() - b.keys()), "changed": changed}
