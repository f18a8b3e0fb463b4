"""What the study is told about an experiment: its value(s) and its constraints.

One objective: the lower-is-better score (SLO penalties included). Several: each objective's natural figure, in the
study's directions. Every told trial carries the same two constraints (`trial.set_constraint`; > 0 = violated):
- slo: how far the experiment missed its SLOs (or 1 for an infeasible one, e.g. below the quality guardrail's
  thresholds: failure reason `quality: ...`, docs/quality.md). One objective: only a hard SLO failure (the score already carries
  soft penalties). Several objectives: also soft violations (their sum of violation ratios), so NSGA-II and TPE
  learn where the SLOs hold.
- failure: 1 when the engine did not start, crashed, ran out of memory, timed out, or the configuration was refused
  before launch (a known-invalid combination).
A failed experiment has no figures; it is told the worst value of the study so far (or a neutral one), so that the
constraint, not an invented figure, is what the sampler learns from.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.trial import TrialState

from ..scoring import OBJECTIVE_INFO
from ..spec.models import OptimizationSpec
from ..store import ExperimentStatus

CONSTRAINTS = ("slo", "failure")


def objective_values(opt: OptimizationSpec, figures: dict[str, Any] | None) -> list[float | None]:
	"""One natural figure per objective of `opt` (None where not measured)."""
	out: list[float | None] = []
	for name in opt.objective_list:
		v = (figures or {}).get(OBJECTIVE_INFO[name].figure)
		out.append(float(v) if isinstance(v, int | float) and math.isfinite(v) else None)
	return out


def slo_violation(opt: OptimizationSpec, status: str, scoring: dict[str, Any] | None) -> float:
	"""The `slo` constraint value: > 0 when the experiment missed its SLOs (see the module docstring)."""
	violations = (scoring or {}).get("violations") or []
	if status == ExperimentStatus.INFEASIBLE:
		hard = [float(v.get("ratio", 0.0)) for v in violations if v.get("hard")]
		return 1.0 + (max(hard) if hard else 0.0)
	if opt.multi_objective and status == ExperimentStatus.SUCCESS:
		return float(sum(max(0.0, float(v.get("ratio", 0.0))) for v in violations))
	return 0.0


def _fallback(study: optuna.Study, index: int, direction: str) -> float:
	"""The worst told value of objective `index` so far; 0 (maximise) or a large figure (minimise) before any."""
	told = [
		t.values[index]
		for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
		if t.values is not None and math.isfinite(t.values[index])
	]
	if direction == "maximize":
		return min(told) if told else 0.0
	return max(told) if told else 1e9


def tell(
	study: optuna.Study,
	trial: optuna.trial.Trial,
	opt: OptimizationSpec,
	*,
	status: str,
	score: float | None,
	figures: dict[str, Any] | None,
	scoring: dict[str, Any] | None,
) -> None:
	"""Tell the study what an experiment (or an earlier measurement of the same configuration) found."""
	if status == ExperimentStatus.PRUNED:
		study.tell(trial, state=TrialState.PRUNED)
		return
	if status == "interrupted":
		study.tell(trial, state=TrialState.FAIL)
		return
	failed = status in (ExperimentStatus.FAILED, ExperimentStatus.SKIPPED)
	dirs = [d.name.lower() for d in study.directions]
	values: list[float | None]
	if opt.multi_objective:
		values = objective_values(opt, figures) if status == ExperimentStatus.SUCCESS else [None] * len(dirs)
		if status == ExperimentStatus.SUCCESS and any(v is None for v in values):
			failed = True  # an objective's figure was not measured (e.g. goodput without per-request SLOs)
	else:
		values = [score if status == ExperimentStatus.SUCCESS else None]
	told = [v if v is not None else _fallback(study, i, dirs[i]) for i, v in enumerate(values)]
	constraints = {"slo": slo_violation(opt, status, scoring), "failure": 1.0 if failed else 0.0}
	if status == ExperimentStatus.SUCCESS and values[0] is None:
		constraints["failure"] = 1.0
	for key in CONSTRAINTS:
		trial.set_constraint(key, constraints[key])
	study.tell(trial, told if len(told) > 1 else told[0])
