"""Real workloads (docs/workloads.md): what benchmark.dataset / sessions / shared_prefix / trace make of a run.

`load_workload(benchmark)` reads the file once (inside a workload folder: datafiles.py), records its sha256 and
samples it with its seed, so repeated runs on the same file send the same requests. `WorkloadScenario` carries the
workload through the runner in the place of a traffic scenario (its text, e.g. `dataset(chat.json)`, labels every
run); the built-in client plans its requests from it (`plan_requests`, `plan_sessions`). Lengths of text from a file
are counted with the engine's tokenizer when the run is built (sender.py), never estimated.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BenchmarkError
from ..spec.models import BenchmarkSpec
from .datafiles import check_sha, fetch, file_sha256, read_bytes, resolve
from .traffic import Scenario, parse_scenario


@dataclass
class Turn:
	"""One request of a workload: text from a file, or a synthetic prompt of `input_tokens`."""

	text: str | None = None
	input_tokens: int = 0
	output_tokens: int = 0  # 0: the tokens of `reply`, counted when the run is built
	reply: str | None = None  # the file's answer (ShareGPT's gpt turn): only its length is used


@dataclass
class Conversation:
	"""A conversation (its turns go out one after another in sessions mode), or a trace entry (one turn, `at`)."""

	turns: list[Turn]
	system: str | None = None
	at: float | None = None  # trace: seconds after the trace's first request
	blocks: tuple[int, ...] = ()  # mooncake: hash ids of its prefix blocks


@dataclass
class Workload:
	kind: str  # dataset, sessions, shared_prefix, trace
	label: str
	sha256: str | None = None
	conversations: list[Conversation] = field(default_factory=list)
	max_output_tokens: int = 512
	turns: int = 1  # sessions: turns per session
	think_time_s: float = 0.0
	groups: int = 0  # shared_prefix
	prefix_tokens: int = 0
	block_tokens: int = 512  # trace (mooncake)
	speedup: float = 1.0
	salt: bool = False  # dataset: each run's prompts start with a text of the run's own (cache hygiene)


class WorkloadScenario(Scenario):
	"""A workload in the runner's place of a traffic scenario. `sample` gives the warm-up requests' sizes (synthetic
	prompts of the workload's mean lengths, or of the traffic scenario that shapes synthetic turns)."""

	def __init__(self, workload: Workload, shape: Scenario) -> None:
		self.workload = workload
		self.shape = shape

	def sample(self, rng: random.Random) -> tuple[int, int]:
		return self.shape.sample(rng)

	@property
	def mean_input(self) -> float:
		return self.shape.mean_input

	@property
	def mean_output(self) -> float:
		return self.shape.mean_output

	def __str__(self) -> str:
		return self.workload.label


def scenarios_for(b: BenchmarkSpec) -> list[Scenario]:
	"""What the runner iterates: the traffic scenarios, or the one workload (loaded once here)."""
	if b.workload_kind is None:
		return [parse_scenario(t) for t in b.traffic_scenarios]
	wl = load_workload(b)
	return [WorkloadScenario(wl, _shape(b, wl))]


def _shape(b: BenchmarkSpec, wl: Workload) -> Scenario:
	"""Sizes of warm-up requests and of synthetic turns: the first traffic scenario, or the workload's lengths."""
	if b.shared_prefix is not None:
		sp = b.shared_prefix
		return parse_scenario(f"D({sp.prefix_tokens + sp.suffix_tokens},{sp.output_tokens})")
	turns = [t for c in wl.conversations for t in c.turns if t.input_tokens and t.output_tokens]
	if turns:
		mean_in = max(1, round(sum(t.input_tokens for t in turns) / len(turns)))
		mean_out = max(1, round(sum(t.output_tokens for t in turns) / len(turns)))
		return parse_scenario(f"D({mean_in},{mean_out})")
	return parse_scenario(b.traffic_scenarios[0])


def load_workload(b: BenchmarkSpec) -> Workload:
	"""The workload the benchmark section names, read and sampled (BenchmarkError for a bad or missing file)."""
	if b.trace is not None:
		return _trace(b)
	if b.shared_prefix is not None:
		sp = b.shared_prefix
		return Workload(
			"shared_prefix",
			f"shared_prefix({sp.groups}x{sp.prefix_tokens}+{sp.suffix_tokens},{sp.output_tokens})",
			groups=sp.groups,
			prefix_tokens=sp.prefix_tokens,
		)
	if b.dataset is not None:
		wl = _dataset(b)
	else:  # synthetic sessions: turns shaped by the first traffic scenario
		wl = Workload("sessions", b.traffic_scenarios[0])
	if b.sessions is not None:
		wl.kind = "sessions"
		wl.turns = b.sessions.turns
		wl.think_time_s = b.sessions.think_time_s
		wl.label = f"sessions({wl.label},turns={wl.turns})"
	return wl


def _read(path_text: str | None, url: str | None, sha: str | None, what: str) -> tuple[Path, bytes, str]:
	path = fetch(url, sha) if url is not None else resolve(path_text or "", what)
	data = read_bytes(path)
	return path, data, check_sha(data, sha, path.name)


def _dataset(b: BenchmarkSpec) -> Workload:
	ds = b.dataset
	assert ds is not None
	path, data, sha = _read(ds.path, b.dataset_url, ds.sha256, "dataset")
	text = _utf8(data, path)
	convs = _sharegpt(text, path) if ds.format == "sharegpt" else _jsonl(text, path)
	if ds.output_tokens is not None:
		for c in convs:
			for t in c.turns:
				t.output_tokens = ds.output_tokens
	missing = [i for i, c in enumerate(convs) if any(t.output_tokens <= 0 and not t.reply for t in c.turns)]
	if missing:
		raise BenchmarkError(
			f"dataset {path.name}: entry {missing[0] + 1} gives no output length (no reply, no output_tokens)",
			hint="set benchmark.dataset.output_tokens, or give output_tokens in the file",
		)
	if ds.sample is not None and ds.sample < len(convs):
		picked = sorted(random.Random(f"dataset-{ds.seed}").sample(range(len(convs)), ds.sample))
		convs = [convs[i] for i in picked]
	return Workload(
		"dataset", f"dataset({path.name})", sha, convs, max_output_tokens=ds.max_output_tokens, salt=ds.salt
	)


def _utf8(data: bytes, path: Path) -> str:
	try:
		return data.decode("utf-8-sig")
	except UnicodeDecodeError as exc:
		raise BenchmarkError(f"workload file {path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _sharegpt(text: str, path: Path) -> list[Conversation]:
	"""ShareGPT JSON: [{conversations: [{from, value}]}]; human turns (each with the gpt reply after it)."""
	try:
		entries = json.loads(text)
	except json.JSONDecodeError as exc:
		raise BenchmarkError(f"dataset {path.name}: not JSON ({exc.msg}, line {exc.lineno})") from exc
	if not isinstance(entries, list):
		raise BenchmarkError(f"dataset {path.name}: a ShareGPT file is a JSON list of conversations")
	out: list[Conversation] = []
	for entry in entries:
		msgs = entry.get("conversations") if isinstance(entry, dict) else None
		if not isinstance(msgs, list):
			continue
		conv = Conversation(turns=[])
		for m in msgs:
			if not isinstance(m, dict) or not isinstance(m.get("value"), str):
				continue
			who = m.get("from")
			if who == "system" and not conv.turns:
				conv.system = m["value"]
			elif who in ("human", "user") and m["value"].strip():
				conv.turns.append(Turn(text=m["value"]))
			elif who in ("gpt", "assistant", "chatgpt") and conv.turns and conv.turns[-1].reply is None:
				conv.turns[-1].reply = m["value"]
		conv.turns = [t for t in conv.turns if t.reply]
		if conv.turns:
			out.append(conv)
	if not out:
		raise BenchmarkError(f"dataset {path.name}: no conversation with a human turn and a reply (ShareGPT format)")
	return out


def _jsonl(text: str, path: Path) -> list[Conversation]:
	"""JSONL: one {prompt, output_tokens?} a line."""
	out: list[Conversation] = []
	for n, line in enumerate(text.splitlines(), 1):
		if not line.strip():
			continue
		try:
			obj = json.loads(line)
		except json.JSONDecodeError as exc:
			raise BenchmarkError(f"dataset {path.name} line {n}: not JSON ({exc.msg})") from exc
		prompt = obj.get("prompt") if isinstance(obj, dict) else None
		if not isinstance(prompt, str) or not prompt.strip():
			raise BenchmarkError(f"dataset {path.name} line {n}: needs a non-empty text field 'prompt'")
		out_tokens = obj.get("output_tokens", 0)
		if not isinstance(out_tokens, int) or out_tokens < 0:
			raise BenchmarkError(f"dataset {path.name} line {n}: output_tokens must be a whole number >= 1")
		out.append(Conversation(turns=[Turn(text=prompt, output_tokens=out_tokens)]))
	if not out:
		raise BenchmarkError(f"dataset {path.name}: no lines")
	return out


def _trace(b: BenchmarkSpec) -> Workload:
	tr = b.trace
	assert tr is not None
	path, data, sha = _read(tr.path, None, tr.sha256, "trace")
	text = _utf8(data, path)
	rows = {"azure": _azure, "mooncake": _mooncake, "jsonl": _trace_jsonl}[tr.format](text, path)
	if not rows:
		raise BenchmarkError(f"trace {path.name}: no requests")
	rows.sort(key=lambda c: c.at or 0.0)
	t0 = rows[0].at or 0.0
	for c in rows:
		c.at = (c.at or 0.0) - t0
	if tr.window_s is not None:
		rows = [c for c in rows if (c.at or 0.0) < tr.window_s]
	return Workload("trace", f"trace({path.name})", sha, rows, block_tokens=tr.block_tokens, speedup=tr.speedup)


def _row(path: Path, n: int, at: Any, inp: Any, out: Any, blocks: Any = ()) -> Conversation:
	try:
		at_f, inp_i, out_i = float(at), int(inp), int(out)
		ids = tuple(int(h) for h in blocks)
	except (TypeError, ValueError) as exc:
		raise BenchmarkError(f"trace {path.name} row {n}: {exc}") from exc
	if inp_i < 1 or out_i < 1 or at_f < 0:
		raise BenchmarkError(f"trace {path.name} row {n}: lengths must be >= 1 and the time >= 0")
	return Conversation(turns=[Turn(input_tokens=inp_i, output_tokens=out_i)], at=at_f, blocks=ids)


def _azure(text: str, path: Path) -> list[Conversation]:
	"""Azure LLM inference trace CSV: TIMESTAMP (date and time), ContextTokens, GeneratedTokens."""
	reader = csv.DictReader(io.StringIO(text))
	need = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
	if not need <= set(reader.fieldnames or ()):
		raise BenchmarkError(f"trace {path.name}: an Azure trace has the columns {', '.join(sorted(need))}")
	out = []
	for n, r in enumerate(reader, 2):
		stamp = r["TIMESTAMP"].strip()
		try:
			when = dt.datetime.fromisoformat(stamp[:26]) if "-" in stamp else None
			at = when.timestamp() if when is not None else float(stamp)
		except ValueError as exc:
			raise BenchmarkError(f"trace {path.name} row {n}: TIMESTAMP {stamp!r}: {exc}") from exc
		out.append(_row(path, n, at, r["ContextTokens"], r["GeneratedTokens"]))
	return out


def _json_lines(text: str, path: Path) -> list[tuple[int, dict[str, Any]]]:
	out = []
	for n, line in enumerate(text.splitlines(), 1):
		if line.strip():
			try:
				obj = json.loads(line)
			except json.JSONDecodeError as exc:
				raise BenchmarkError(f"trace {path.name} line {n}: not JSON ({exc.msg})") from exc
			if not isinstance(obj, dict):
				raise BenchmarkError(f"trace {path.name} line {n}: not a JSON object")
			out.append((n, obj))
	return out


def _mooncake(text: str, path: Path) -> list[Conversation]:
	"""Mooncake trace JSONL: timestamp (ms), input_length, output_length, hash_ids (prefix blocks)."""
	return [
		_row(
			path,
			n,
			(o.get("timestamp") or 0) / 1000.0,
			o.get("input_length"),
			o.get("output_length"),
			o.get("hash_ids") or (),
		)  # fmt: skip
		for n, o in _json_lines(text, path)
	]


def _trace_jsonl(text: str, path: Path) -> list[Conversation]:
	"""Our JSONL trace: timestamp (s), input_tokens, output_tokens."""
	return [
		_row(path, n, o.get("timestamp"), o.get("input_tokens"), o.get("output_tokens"))
		for n, o in _json_lines(text, path)
	]


def check_workload(b: BenchmarkSpec, driver: object) -> None:
	"""BenchmarkError when the load driver cannot send this workload (drivers declare `workloads`)."""
	kind = b.workload_kind
	if kind is None:
		return
	supported: tuple[str, ...] = getattr(driver, "workloads", ())
	if kind not in supported:
		name = getattr(driver, "name", "?")
		raise BenchmarkError(
			f"load driver {name!r} cannot send a {kind} workload"
			+ (f" (it sends: {', '.join(supported)})" if supported else ""),
			hint="set benchmark.driver: builtin, which sends every workload (docs/workloads.md)",
		)


def describe_workload(wl: Workload) -> str:
	"""One line for the task log: what the workload is and its file's hash."""
	n = len(wl.conversations)
	what = {"dataset": f"{n} entries", "trace": f"{n} requests", "sessions": f"{n} conversations" if n else "synthetic"}
	text = f"workload {wl.label}: {what.get(wl.kind, 'synthetic')}"
	return text + (f", sha256 {wl.sha256}" if wl.sha256 else "")


def workload_file_sha256(b: BenchmarkSpec) -> str | None:
	"""The sha256 of the workload's file (dataset or trace), or None (no file, or it cannot be read here)."""
	try:
		if b.trace is not None:
			return file_sha256(resolve(b.trace.path, "trace"))
		if b.dataset is not None:
			return file_sha256(fetch(b.dataset_url) if b.dataset_url else resolve(b.dataset.path or "", "dataset"))
	except (BenchmarkError, OSError):
		return None
	return None
