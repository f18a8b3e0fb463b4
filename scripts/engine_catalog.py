#!/usr/bin/env python3
"""Write an engine's flag catalogue from its own parser: `python scripts/engine_catalog.py vllm [--python PY] [--check]`.

Runs inference_autotuner/engines/argparse_probe.py with the installed engine's Python (--python; else
$AUTOTUNER_TOOLS_DIR/<engine>/bin/python; else the one the tuner would launch) and writes
inference_autotuner/data/catalog-<engine>.json: the engine's version, the parser it was read from, and every option
with its type, choices, default and help. --check writes nothing: it compares the installed engine's parser with the
packaged catalogue and exits 1 when they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference_autotuner.engines import get_engine  # noqa: E402
from inference_autotuner.engines.catalog import compare, engine_python, from_dump, load_snapshot, probe  # noqa: E402

ENGINES = ("vllm", "sglang")


def tools_python(engine: str) -> str | None:
	"""$AUTOTUNER_TOOLS_DIR/<engine>/bin/python, where `make .tools/<engine>/.installed` put the engine."""
	tools = os.environ.get("AUTOTUNER_TOOLS_DIR")
	python = Path(tools) / engine / "bin" / "python" if tools else None
	return str(python) if python is not None and python.is_file() else None


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
	ap.add_argument("engine", choices=ENGINES)
	ap.add_argument("--python", help="the engine's Python interpreter (default: found like the tuner finds the engine)")
	ap.add_argument("--check", action="store_true", help="compare with the packaged catalogue; write nothing")
	ap.add_argument("--out", type=Path, help="where to write (default: the package's data folder)")
	args = ap.parse_args()
	python = (
		args.python or tools_python(args.engine) or engine_python(list(getattr(get_engine(args.engine), "argv0", [])))
	)
	if python is None:
		print(f"no Python with {args.engine} found: pass --python or install it (make .tools/{args.engine}/.installed)")
		return 2
	try:
		data = probe(python, "dump", args.engine)
	except RuntimeError as exc:
		print(f"could not read {args.engine}'s parser with {python}:\n{str(exc)[-600:]}")
		print(f"pass --python, or install it: make .tools/{args.engine}/.installed (AUTOTUNER_TOOLS_DIR=.tools)")
		return 2
	new = from_dump(data)
	if args.check:
		old = load_snapshot(args.engine)
		if old is None:
			print(f"no packaged catalogue for {args.engine}")
			return 1
		diff = compare(old, new)
		print(f"packaged: {old.label}; installed: {new.label}")
		for kind, names in diff.items():
			if names:
				print(f"{kind} ({len(names)}): {', '.join(names)}")
		return 1 if any(diff.values()) else 0
	out = (
		args.out or Path(__file__).resolve().parents[1] / "inference_autotuner" / "data" / f"catalog-{args.engine}.json"
	)
	data = {**data, "generated_by": "scripts/engine_catalog.py"}
	out.parent.mkdir(parents=True, exist_ok=True)
	out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
	print(f"{out}: {len(new.options)} options of {new.label} ({new.source})")
	return 0


if __name__ == "__main__":
	raise SystemExit(main())
