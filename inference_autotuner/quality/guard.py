"""The quality guardrail of a task run: probe each configuration while its engine is up, compare it with the
reference's probe (made once per task), and make a configuration below a threshold infeasible (reason `quality: ...`).

The figures join the experiment's figures (quality_top1, quality_kl, quality_exact, quality_accuracy,
quality_probe_seconds), so they are stored, shown and usable as objectives like the speed figures.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from pydantic import BaseModel, Field

from ..engines.output_knobs import output_changing, output_flags
from ..errors import AutotunerError, CancelledError
from ..paths import data_dir
from ..scoring.objectives import QUALITY_FIGURE_KEYS
from ..spec.models import TaskSpec
from ..spec.quality import QualitySpec
from .agreement import Comparison, compare
from .data import EvalItem, load_eval, probe_prompts
from .requests import Completion, LogprobsUnavailable, complete, served_model

FIGURES = QUALITY_FIGURE_KEYS
LABELS = {"quality_top1": "top-1 agreement", "quality_kl": "KL", "quality_exact": "exact match"}
LABELS["quality_accuracy"] = "eval accuracy"
QUALITY_OBJECTIVES = ("maximize_quality_top1", "minimize_quality_kl", "maximize_quality_accuracy")

StartReference = Callable[[dict[str, Any]], AbstractContextManager[str]]
"""Launches the engine with a parameter set for the duration of a `with`, yielding its base URL (runner/)."""


class ProbeResult(BaseModel):
	"""What one configuration answered to the probe prompts (and the eval items)."""

	completions: list[Completion] = Field(default_factory=list)
	logprobs: bool = Field(True, description="False: the engine returned no top-k log-probabilities")
	accuracy: float | None = None
	eval_items: int = 0
	seconds: float = 0.0
	note: str | None = None


def quality_spec(spec: TaskSpec) -> QualitySpec | None:
	"""The guardrail's settings when it is on for this task, else None (see QualitySpec.enabled)."""
	q = spec.quality
	if spec.deployment_mode == "predict" or (q is not None and q.enabled is False):
		return None
	if q is not None:
		return q
	quality_objective = any(o in QUALITY_OBJECTIVES for o in spec.optimization.objective_list)
	if quality_objective or output_changing(spec.base_runtime, dict(spec.parameters), spec.quant_config):
		return QualitySpec()
	return None


def judge(q: QualitySpec, figures: dict[str, float | None]) -> list[str]:
	"""Why these figures fail the thresholds (empty: they pass). A figure that could not be measured passes only
	when it is not available for this engine (None); the caller says why."""
	fails = []
	for name, limit in q.thresholds().items():
		value = figures.get(name)
		if value is None:
			continue
		low_is_bad = name != "quality_kl"
		if (value < limit) if low_is_bad else (value > limit):
			op = "<" if low_is_bad else ">"
			fails.append(f"{LABELS[name]} {value:.4g} {op} {limit:g}")
	return fails


class QualityGuard:
	"""One task run's guardrail: the reference probe (cached in the data dir) and each experiment's check."""

	def __init__(
		self,
		spec: TaskSpec,
		q: QualitySpec,
		*,
		task_id: int,
		engine: str,
		reference_params: dict[str, Any],
		reference_flags: dict[str, Any],
		model: str,
		log: Callable[[str], None] = lambda _m: None,
		defaults: dict[str, Any] | None = None,
	) -> None:
		self.spec, self.q, self.engine, self.log = spec, q, engine, log
		self.defaults = {k: v for k, v in (defaults or {}).items() if v is not None}  # the engine's flag defaults
		self.reference_params, self.reference_key = reference_params, self.key_of(reference_flags)
		self.prompts = list(probe_prompts()[: q.prompts])
		self.eval: list[EvalItem] = load_eval(q.eval.path, q.eval.limit) if q.eval is not None else []
		self.reference: ProbeResult | None = None
		# key_of(flags) -> (figures, unknown, the flags of the configuration probed)
		self._judged: dict[str, tuple[dict[str, float | None], bool, dict[str, Any]]] = {}
		self._pending: dict[int, tuple[dict[str, float | None], bool, list[str]]] = {}  # collected, not applied
		self._lock = threading.Lock()
		digest = json.dumps(
			[self.reference_key, self.prompts, q.max_tokens, q.top_k, model, q.eval and q.eval.model_dump()]
		)
		self.cache = data_dir() / "quality" / f"task-{task_id}-{hashlib.sha256(digest.encode()).hexdigest()[:16]}.json"
		if self.cache.is_file():
			try:
				self.reference = ProbeResult.model_validate_json(self.cache.read_text())
			except ValueError:
				self.reference = None

	def key_of(self, flags: dict[str, Any]) -> str:
		"""What decides a configuration's probe: its flags, less (with quality.share_probes) those that do not change
		a greedy answer (engines/output_knobs.py OUTPUT_NEUTRAL) and those at the engine's own default (the
		catalogue's): configurations with one key share a probe."""
		shared = output_flags(self.engine, flags) if self.q.share_probes else dict(flags)
		if self.q.share_probes:  # a flag given at the engine's own default is the same as the flag left out
			shared = {k: v for k, v in shared.items() if k not in self.defaults or str(v) != str(self.defaults[k])}
		return json.dumps(shared, sort_keys=True, default=str)

	# -- probing ------------------------------------------------------------------------------------------------
	def probe(self, base_url: str, cancel: threading.Event | None = None) -> ProbeResult:
		"""The probe prompts greedily with top-k log-probabilities, then the eval items (text only); a cancel stops
		it between two requests (CancelledError)."""
		t0 = time.monotonic()

		def go_on() -> None:
			if cancel is not None and cancel.is_set():
				raise CancelledError("cancelled during the quality probe")

		model = self.spec.benchmark.model_name or (None if self.engine == "llamacpp" else served_model(base_url))
		out = ProbeResult()
		try:
			for prompt in self.prompts:
				go_on()
				out.completions.append(
					complete(
						self.engine, base_url, prompt, max_tokens=self.q.max_tokens, top_k=self.q.top_k, model=model
					)
				)
		except LogprobsUnavailable as exc:
			out.logprobs, out.completions, out.note = False, [], str(exc)
		if self.eval:
			right = 0
			for item in self.eval:
				go_on()
				done = complete(
					self.engine,
					base_url,
					item.prompt,
					max_tokens=self.q.eval.max_tokens if self.q.eval else 16,
					top_k=0,
				)
				right += item.correct(done.text)
			out.accuracy, out.eval_items = right / len(self.eval), len(self.eval)
		out.seconds = time.monotonic() - t0
		return out

	def _keep_reference(self, result: ProbeResult) -> None:
		with self._lock:
			self.reference = result
		self.cache.parent.mkdir(parents=True, exist_ok=True)
		self.cache.write_text(result.model_dump_json())

	def prepare(self, start: StartReference, *, baseline_first: bool) -> None:
		"""Have the reference probe before the search: from the cache, from the baseline experiment about to run
		(baseline_first, when the reference is the baseline), or from one extra engine start now."""
		if self.reference is not None or (baseline_first and not self.q.reference):
			return
		self.log("quality: probing the reference configuration (one extra engine start)")
		with start(self.reference_params) as base_url:
			self._keep_reference(self.probe(base_url))

	def figures(self, result: ProbeResult, cmp: Comparison | None) -> dict[str, float | None]:
		return {
			"quality_top1": cmp.top1 if cmp else None,
			"quality_kl": cmp.kl if cmp else None,
			"quality_exact": cmp.exact if cmp else None,
			"quality_accuracy": result.accuracy,
			"quality_probe_seconds": result.seconds,
		}

	def _measure(
		self, base_url: str, key: str, cancel: threading.Event | None
	) -> tuple[dict[str, float | None], bool, list[str]]:
		"""(figures, whether top-1/KL could not be judged, notes) of one probe of the running configuration."""
		notes: list[str] = []
		cmp: Comparison | None = None
		try:
			result = self.probe(base_url, cancel)
		except CancelledError:
			raise
		except AutotunerError as exc:
			return dict.fromkeys(FIGURES), True, [f"quality probe failed: {exc}"]
		with self._lock:
			ref = self.reference
		if ref is None and key == self.reference_key:
			self._keep_reference(result)
			ref = result
		if ref is None:
			notes.append("quality: no reference probe (the reference configuration did not run)")
		elif not (ref.logprobs and result.logprobs):
			notes.append(result.note or ref.note or "quality: no log-probabilities")
		else:
			cmp = compare(ref.completions, result.completions)
		return self.figures(result, cmp), cmp is None and result.logprobs, notes

	def collect(self, out: Any, base_url: str, flags: dict[str, Any], cancel: threading.Event | None = None) -> None:
		"""Probe the running configuration (`flags`: what it was launched with) while its engine is up, unless a
		configuration with the same key_of was probed (greedy probes are deterministic); the figures wait in `self`
		until `apply` folds them into the score (the engine is stopped before the runs are scored)."""
		key = self.key_of(flags)
		with self._lock:
			earlier = self._judged.get(key)
		if earlier is not None:
			figures, unknown = {**earlier[0], "quality_probe_seconds": 0.0}, earlier[1]
			notes = [_shared_note(earlier[2], flags)]
		else:
			figures, unknown, notes = self._measure(base_url, key, cancel)
			if not unknown:  # a failed probe is tried again next time
				with self._lock:
					self._judged[key] = (figures, unknown, dict(flags))
		with self._lock:
			self._pending[id(out)] = (figures, unknown, notes)

	def apply(self, out: Any) -> None:
		"""Fold the collected figures and the verdict into `out.score` (runner/outcome.Outcome): below a threshold
		-> infeasible, reason `quality: ...`. Nothing collected or nothing scored: nothing to do."""
		with self._lock:
			pending = self._pending.pop(id(out), None)
		if pending is None or out.score is None:
			return
		figures, unknown, notes = pending
		fails = judge(self.q, figures)
		if unknown and any(k != "quality_accuracy" for k in self.q.thresholds()):
			fails.append(notes[-1] if notes else "quality not measured")
		score = out.score
		update: dict[str, Any] = {"figures": {**score.figures, **figures}, "notes": [*score.notes, *notes]}
		if fails:
			reason = "quality: " + "; ".join(fails)
			if score.feasible:
				update.update(feasible=False, score=None, reason=reason)
			else:
				update["notes"].append(reason)
		out.score = score.model_copy(update=update)
		self.log(_line(figures, fails))


def _shared_note(probed: dict[str, Any], flags: dict[str, Any]) -> str:
	differ = sorted(k for k in {*probed, *flags} if probed.get(k) != flags.get(k))
	if not differ:
		return "quality: the figures of this configuration's first probe (not probed again)"
	shown = ", ".join(f"{k} {probed.get(k, '-')} -> {flags.get(k, '-')}" for k in differ)
	return f"quality: the probe of a configuration that differs only in flags that do not change outputs ({shown})"


def _line(figures: dict[str, float | None], fails: list[str]) -> str:
	shown = [f"{LABELS[k]} {v:.4g}" for k, v in figures.items() if k in LABELS and v is not None]
	probe = figures.get("quality_probe_seconds")
	cost = f" (probe {probe:.1f} s)" if probe is not None else ""
	verdict = f": FAILS ({'; '.join(fails)})" if fails else ""
	return f"quality: {', '.join(shown) or 'no figures'}{cost}{verdict}"
