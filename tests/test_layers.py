"""Import layering, read from the source with ast (docs/architecture.md draws it): no import runs back up the layers,
and no two modules import each other. Imports inside functions count as much as those at the top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "inference_autotuner"

# Top to bottom. A module may import its own layer's and lower layers' modules, never a higher layer's.
LAYERS: list[tuple[str, ...]] = [
	("cli", "api"),
	("services", "reporting"),
	("worker", "runner", "explain"),
	("deploy", "engines", "bench", "scoring", "search", "models", "provenance", "formatting", "quality"),
	("spec", "store", "errors", "space", "paths", "names", "limits", "gpus", "users", "telemetry", "procs", "__init__"),
]
LEVEL = {part: len(LAYERS) - i for i, parts in enumerate(LAYERS) for part in parts}

# Known violations, each with why: none left (issue 17 removed the last). Should one ever have to be tolerated for a
# while, it goes here as (importer, imported): why; the tests fail when it goes away too, so the lists only shrink.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}
KNOWN_MUTUAL: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
	out = {}
	for path in PACKAGE.rglob("*.py"):
		parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
		if parts[-1] == "__init__":
			parts = parts[:-1]
		out[".".join(parts)] = path
	return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
	"""The package's modules that `name` imports (`from pkg import mod` counts as importing pkg.mod)."""
	package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
	found: set[str] = set()
	for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
		if isinstance(node, ast.ImportFrom):
			if node.level:
				base = package.split(".")[: len(package.split(".")) - node.level + 1]
				target = ".".join(base + ([node.module] if node.module else []))
			else:
				target = node.module or ""
			if not target.startswith("inference_autotuner"):
				continue
			subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
			found.update(subs or [target])
			if subs and len(subs) < len(node.names):
				found.add(target)
		elif isinstance(node, ast.Import):
			found.update(a.name for a in node.names if a.name.startswith("inference_autotuner"))
	found.discard(name)
	return {m for m in found if m in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str:
	parts = module.split(".")
	return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_has_a_layer() -> None:
	parts = {_part(m) for m in MODULES}
	missing = sorted(parts - set(LEVEL))
	assert not missing, f"give these a layer in LAYERS (and in docs/architecture.md): {missing}"


def test_no_import_runs_up_the_layers() -> None:
	upward = {
		(a, b) for a, targets in GRAPH.items() for b in targets if LEVEL.get(_part(b), 0) > LEVEL.get(_part(a), 0)
	}
	new = sorted(upward - set(KNOWN_UPWARD))
	assert not new, "imports that run up the layers:\n" + "\n".join(f"  {a} -> {b}" for a, b in new)
	gone = sorted(set(KNOWN_UPWARD) - upward)
	assert not gone, f"fixed: take these out of KNOWN_UPWARD: {gone}"


def test_no_two_modules_import_each_other() -> None:
	pairs = {(min(a, b), max(a, b)) for a, targets in GRAPH.items() for b in targets if a in GRAPH.get(b, ())}
	new = sorted(pairs - set(KNOWN_MUTUAL))
	assert not new, "modules that import each other:\n" + "\n".join(f"  {a} <-> {b}" for a, b in new)
	gone = sorted(set(KNOWN_MUTUAL) - pairs)
	assert not gone, f"fixed: take these out of KNOWN_MUTUAL: {gone}"


def test_the_check_sees_imports() -> None:
	"""The parser finds what is there: the CLI imports the services, the worker imports the runner."""
	assert "inference_autotuner.services.summary" in GRAPH["inference_autotuner.cli.tasks"]
	assert "inference_autotuner.runner.events" in GRAPH["inference_autotuner.worker.execute"]
	assert "inference_autotuner.runner.task" in GRAPH["inference_autotuner.worker.execute"]
