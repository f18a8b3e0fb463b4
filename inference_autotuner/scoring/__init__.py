"""Scoring: objectives, SLO penalties (the seed's exponential rule), goodput thresholds, per-GPU figures, Pareto front."""

from inference_autotuner.scoring.objectives import (
	FIGURE_KEYS,
	OBJECTIVE_INFO,
	Direction,
	ObjectiveInfo,
	ScoreResult,
	apply_penalty,
	run_label,
	score_experiment,
)
from inference_autotuner.scoring.pareto import dominates, pareto_front
from inference_autotuner.scoring.slo import SLOResult, SLOViolation, evaluate_slo, goodput_slo_from, slo_penalty

__all__ = [
	"FIGURE_KEYS",
	"OBJECTIVE_INFO",
	"Direction",
	"ObjectiveInfo",
	"SLOResult",
	"SLOViolation",
	"ScoreResult",
	"apply_penalty",
	"dominates",
	"evaluate_slo",
	"goodput_slo_from",
	"pareto_front",
	"run_label",
	"score_experiment",
	"slo_penalty",
]
