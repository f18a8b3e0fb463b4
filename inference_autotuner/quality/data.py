"""The probe prompts and eval items: the shipped sets (inference_autotuner/data, made by
scripts/make_quality_probes.py) or the user's eval file (`quality.eval.path`)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from ..errors import AutotunerError

DATA = Path(__file__).resolve().parents[1] / "data"
PROBES_FILE = DATA / "quality_probes.json"
EVAL_FILE = DATA / "quality_eval.jsonl"
MAX_EVAL_BYTES = 10 * 1024 * 1024


class EvalItem(BaseModel):
	"""One eval line: the prompt, the expected answer and, optionally, a regex that finds the answer."""

	prompt: str = Field(min_length=1, max_length=20_000)
	expected: str = Field(max_length=1000)
	regex: str | None = Field(None, max_length=500, description="The first match (group 1 if any) is the answer")

	@field_validator("regex")
	@classmethod
	def _regex(cls, v: str | None) -> str | None:
		if v is not None:
			try:
				re.compile(v)
			except re.error as exc:
				raise ValueError(f"not a regular expression: {exc}") from None
		return v

	def answer(self, completion: str) -> str:
		"""What the completion answered: the regex's first match (its group 1 if it has one), else its first line."""
		if self.regex is not None:
			m = re.search(self.regex, completion)
			if m is None:
				return ""
			return (m.group(1) if m.groups() else m.group(0)).strip()
		lines = completion.strip().splitlines()
		return lines[0].strip() if lines else ""

	def correct(self, completion: str) -> bool:
		return self.answer(completion) == self.expected.strip()


@lru_cache(maxsize=1)
def probe_prompts() -> tuple[str, ...]:
	"""The shipped probe prompts, in order."""
	return tuple(json.loads(PROBES_FILE.read_text())["prompts"])


def load_eval(path: str, limit: int | None = None) -> list[EvalItem]:
	"""The eval items of `path` ('builtin': the shipped set); AutotunerError naming the line of a bad one."""
	file = EVAL_FILE if path == "builtin" else Path(path).expanduser()
	if not file.is_file():
		raise AutotunerError(f"quality.eval.path: no file {path}", hint="give a JSON-lines file, or 'builtin'")
	if file.stat().st_size > MAX_EVAL_BYTES:
		raise AutotunerError(f"quality.eval.path: {path} is larger than {MAX_EVAL_BYTES // 2**20} MiB")
	items: list[EvalItem] = []
	for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
		if not line.strip():
			continue
		try:
			items.append(EvalItem.model_validate(json.loads(line)))
		except (json.JSONDecodeError, ValidationError) as exc:
			first = str(exc).splitlines()[0] if isinstance(exc, json.JSONDecodeError) else _first_error(exc)
			raise AutotunerError(f"quality.eval.path: {path} line {number}: {first}") from None
		if limit is not None and len(items) >= limit:
			break
	if not items:
		raise AutotunerError(f"quality.eval.path: {path} has no items")
	return items


def _first_error(exc: ValidationError) -> str:
	err = exc.errors()[0]
	where = ".".join(str(p) for p in err["loc"]) or "line"
	return f"{where}: {err['msg']}"
