"""Names people give things (tasks, presets, users): printable text only.

A name shows up in tables, logs, file names and the web app. Control characters (NUL, newline, escape sequences),
bidirectional overrides (which make `evil‮txt.exe` read as something else) and blank names are refused with one
message that says which character, and where.
"""

from __future__ import annotations

import unicodedata

# Unicode bidirectional formatting characters: embeddings, overrides, isolates, marks.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Cc: C0/C1 controls incl. NUL and DEL; Cs: lone surrogates; Zl/Zp: line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def name_problem(value: str, what: str = "name") -> str | None:
	"""Why `value` cannot be a name, or None when it can."""
	if not value.strip():
		return f"the {what} is blank: give it at least one visible character"
	if value != value.strip():
		return f"the {what} starts or ends with whitespace: remove it"
	for i, ch in enumerate(value):
		if ch in BIDI_CONTROLS:
			return f"the {what} has a bidirectional control character U+{ord(ch):04X} at position {i + 1}: remove it"
		if unicodedata.category(ch) in REFUSED_CATEGORIES:
			kind = "a NUL character" if ch == "\0" else "a control character"
			return f"the {what} has {kind} U+{ord(ch):04X} at position {i + 1}: use printable characters only"
	return None


def check_name(value: str, what: str = "name") -> str:
	"""`value` when it is a fine name; else ValueError with the reason (a pydantic validator can call this)."""
	problem = name_problem(value, what)
	if problem:
		raise ValueError(problem)
	return value
