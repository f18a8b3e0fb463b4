"""The benchmark's real workloads (docs/workloads.md): a dataset of prompts, multi-turn sessions, shared prefixes, a
trace replayed at its recorded times. At most one of dataset / shared_prefix / trace per task; sessions go with a
dataset (its conversations) or alone (synthetic turns shaped by the first traffic scenario).

File paths are checked here for their form only (a relative path or a plain absolute one, no `..`, no NUL); where a
file may be read from (the workload folders) is decided when it is read (bench/datafiles.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PATH = 1024
MAX_SAMPLE = 100_000


class _Strict(BaseModel):
	model_config = ConfigDict(extra="forbid")


def check_path(v: str) -> str:
	"""A workload file path: relative (to a workload folder) or absolute; never `..`, NUL or a URL."""
	if not v or len(v) > MAX_PATH:
		raise ValueError(f"a workload path needs 1 to {MAX_PATH} characters")
	if "\x00" in v or "\n" in v:
		raise ValueError("a workload path may not hold NUL or line breaks")
	if "://" in v:
		raise ValueError("a URL is not a path: use benchmark.dataset_url to fetch a file")
	parts = v.replace("\\", "/").split("/")
	if ".." in parts:
		raise ValueError("a workload path may not go up a folder ('..'); name a file inside a workload folder")
	return v


def check_sha(v: str | None) -> str | None:
	if v is not None and (len(v) != 64 or any(c not in "0123456789abcdef" for c in v.lower())):
		raise ValueError("sha256 must be 64 hex digits")
	return v.lower() if v else v


class DatasetSpec(_Strict):
	path: str | None = Field(
		None,
		description="The file, relative to a workload folder (docs/workloads.md) or absolute inside one; null with "
		"benchmark.dataset_url (the fetched file)",
	)
	format: Literal["sharegpt", "jsonl"] = Field(
		"sharegpt",
		description="sharegpt: a JSON list of {conversations: [{from: system|human|gpt, value}]}; jsonl: one "
		"{prompt, output_tokens?} a line",
	)
	sample: int | None = Field(
		None, ge=1, le=MAX_SAMPLE, description="Use this many entries, drawn with `seed`; null: every entry in order"
	)
	seed: int = Field(0, description="Seed of the sample (the same seed and file give the same requests)")
	output_tokens: int | None = Field(
		None, ge=1, le=32768, description="Output length of every request; null: the file's (a reply's tokens)"
	)
	max_output_tokens: int = Field(
		512, ge=1, le=32768, description="Longest output asked for (replies counted longer are cut to this)"
	)
	sha256: str | None = Field(
		None, description="Expected sha256 of the file (hex); a file that differs is refused before any run"
	)
	salt: bool = Field(
		True,
		description="Start each run's prompts with a short text of its own, so no run finds an earlier run's prompts "
		"in the engine's prefix cache (sharing within the run is kept); false: the file's text exactly",
	)

	@field_validator("path")
	@classmethod
	def _path(cls, v: str | None) -> str | None:
		return None if v is None else check_path(v)

	@field_validator("sha256")
	@classmethod
	def _sha(cls, v: str | None) -> str | None:
		return check_sha(v)


class SessionsSpec(_Strict):
	turns: int = Field(3, ge=1, le=64, description="Turns per session (a dataset's conversations: at most this many)")
	think_time_s: float = Field(
		0.0, ge=0, le=600, description="Seconds a session waits after a reply before its next turn (not measured)"
	)


class SharedPrefixSpec(_Strict):
	groups: int = Field(
		4, ge=1, le=10_000, description="Distinct shared prefixes (system prompts); requests cycle them"
	)
	prefix_tokens: int = Field(256, ge=1, le=131_072, description="Tokens of each group's shared prefix")
	suffix_tokens: int = Field(64, ge=1, le=131_072, description="Tokens of each request's own part after the prefix")
	output_tokens: int = Field(64, ge=1, le=32_768, description="Output tokens per request")


class TraceSpec(_Strict):
	path: str = Field(description="The trace file, relative to a workload folder or absolute inside one")
	format: Literal["azure", "mooncake", "jsonl"] = Field(
		"azure",
		description="azure: CSV TIMESTAMP,ContextTokens,GeneratedTokens; mooncake: JSONL {timestamp ms, input_length, "
		"output_length, hash_ids}; jsonl: {timestamp s, input_tokens, output_tokens}",
	)
	speedup: float = Field(
		1.0, gt=0, le=1000, description="Replay this many times faster than recorded (2: gaps halved)"
	)
	window_s: float | None = Field(
		None, gt=0, le=86_400, description="Replay only the first this-many seconds of the trace (recorded time)"
	)
	block_tokens: int = Field(
		512, ge=1, le=65_536, description="mooncake: tokens per hash_ids block (requests sharing ids share prefixes)"
	)
	sha256: str | None = Field(None, description="Expected sha256 of the file (hex); a file that differs is refused")

	@field_validator("path")
	@classmethod
	def _path(cls, v: str) -> str:
		return check_path(v)

	@field_validator("sha256")
	@classmethod
	def _sha(cls, v: str | None) -> str | None:
		return check_sha(v)
