"""Parameter space: lists (grid), numeric ranges, fixed values and boolean flags, as Optuna distributions."""

from .space import (
	PARALLEL_PREFIX,
	QUANT_PREFIX,
	Dimension,
	Space,
	build_space,
	build_task_space,
	config_parameters,
	params_key,
)

__all__ = [
	"PARALLEL_PREFIX",
	"QUANT_PREFIX",
	"Dimension",
	"Space",
	"build_space",
	"build_task_space",
	"config_parameters",
	"params_key",
]
