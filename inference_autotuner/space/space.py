"""Parameter space built from a spec's `parameters` mapping.

- a list  -> categorical choices (a grid axis); a one-element list is a fixed value
- {type: integer|continuous, low, high, log, step} -> an Optuna int/float distribution
- a scalar -> a fixed value (always passed, never searched)
Names are engine flags without their leading dashes; for boolean flags true = bare flag, false = omitted.
A spec's quant_config / parallel_config join the space as `__quant__NAME` / `__parallel__NAME` dimensions
(`presets: [...]` becomes `__quant__preset` / `__parallel__preset`); engines/plan.py maps them to engine flags.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import (
	BaseDistribution,
	CategoricalDistribution,
	FloatDistribution,
	IntDistribution,
)

from ..spec.models import RangeParam

Value = bool | int | float | str


@dataclass(frozen=True)
class Dimension:
	name: str
	choices: tuple[Value, ...] | None = None
	low: float | None = None
	high: float | None = None
	integer: bool = True
	log: bool = False
	step: float | None = None

	@property
	def is_range(self) -> bool:
		return self.choices is None

	def distribution(self) -> BaseDistribution:
		if self.choices is not None:
			return CategoricalDistribution(list(self.choices))
		assert self.low is not None and self.high is not None
		if self.integer:
			return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
		return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

	def count(self) -> int | None:
		"""How many values the dimension takes, computed (never enumerated); None for a continuous range."""
		if self.choices is not None:
			return len(self.choices)
		assert self.low is not None and self.high is not None
		if self.integer:
			return None if self.log else (int(self.high) - int(self.low)) // int(self.step or 1) + 1
		if self.step is None:
			return None
		return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

	def value_at(self, i: int) -> Value:
		"""The i-th value of an enumerable dimension (as grid_values()[i], without building the list)."""
		if self.choices is not None:
			return self.choices[i]
		assert self.low is not None
		if self.integer:
			return int(self.low) + i * int(self.step or 1)
		assert self.step is not None
		return round(self.low + i * self.step, 10)

	def grid_values(self) -> list[Value] | None:
		"""Enumerable values, or None for a continuous range with no step (not griddable)."""
		if self.choices is not None:
			return list(self.choices)
		assert self.low is not None and self.high is not None
		if self.integer:
			step = int(self.step or 1)
			if self.log:
				return None
			return list(range(int(self.low), int(self.high) + 1, step))
		if self.step is None:
			return None
		n = int(math.floor((self.high - self.low) / self.step + 1e-9))
		return [round(self.low + i * self.step, 10) for i in range(n + 1)]


@dataclass
class Space:
	dimensions: list[Dimension] = field(default_factory=list)
	fixed: dict[str, Value] = field(default_factory=dict)

	@property
	def distributions(self) -> dict[str, BaseDistribution]:
		return {d.name: d.distribution() for d in self.dimensions}

	def grid(self) -> dict[str, list[Value]] | None:
		"""The grid as {name: values}, or None if some dimension is a continuous range."""
		out: dict[str, list[Value]] = {}
		for d in self.dimensions:
			values = d.grid_values()
			if values is None:
				return None
			out[d.name] = values
		return out

	def size(self) -> int | None:
		"""Number of distinct configurations, None when infinite. Computed arithmetically: a 1..10^7 range costs
		nothing to count."""
		counts = [d.count() for d in self.dimensions]
		if any(c is None for c in counts):
			return None
		return math.prod(c for c in counts if c is not None)

	def combination_at(self, index: int) -> dict[str, Value]:
		"""The index-th configuration in grid order (the last dimension varies fastest), without enumerating."""
		out: dict[str, Value] = {}
		for d in reversed(self.dimensions):
			n = d.count()
			if n is None:
				raise ValueError("the space has a continuous range and cannot be enumerated")
			index, i = divmod(index, n)
			out[d.name] = d.value_at(i)
		return {d.name: out[d.name] for d in self.dimensions}

	def iter_combinations(self) -> Iterator[dict[str, Value]]:
		"""Every configuration in grid order, one at a time (memory stays flat however large the grid)."""
		size = self.size()
		if size is None:
			raise ValueError("the space has a continuous range and cannot be enumerated")
		return (self.combination_at(i) for i in range(size))

	def combinations(self) -> list[dict[str, Value]]:
		return list(self.iter_combinations())

	def full(self, searched: dict[str, Any]) -> dict[str, Value]:
		"""Searched values plus the fixed ones, in spec order of names."""
		merged: dict[str, Value] = dict(self.fixed)
		merged.update(searched)
		return merged


def build_space(parameters: dict[str, Any]) -> Space:
	space = Space()
	for name, definition in parameters.items():
		if isinstance(definition, RangeParam):
			rp = definition
			space.dimensions.append(
				Dimension(
					name,
					low=rp.low,
					high=rp.high,
					integer=rp.type == "integer",
					log=rp.log,
					step=rp.step,
				)
			)
		elif isinstance(definition, dict):
			rp = RangeParam.model_validate(definition)
			space.dimensions.extend(build_space({name: rp}).dimensions)
		elif isinstance(definition, list):
			unique: list[Value] = []
			seen: set[tuple[str, Value]] = set()
			for v in definition:
				key = (type(v).__name__, v)
				if key not in seen:
					seen.add(key)
					unique.append(v)
			if len(unique) == 1:
				space.fixed[name] = unique[0]
			else:
				space.dimensions.append(Dimension(name, choices=tuple(unique)))
		else:
			space.fixed[name] = definition
	return space


QUANT_PREFIX = "__quant__"
PARALLEL_PREFIX = "__parallel__"


def config_parameters(prefix: str, config: dict[str, Any] | None) -> dict[str, Any]:
	"""A quant_config / parallel_config as prefixed parameters: {presets: [a, b], tp: [2, 4]} ->
	{PREFIXpreset: [a, b], PREFIXtp: [2, 4]} (a field given beside presets overrides the preset's value)."""
	out: dict[str, Any] = {}
	for key, value in (config or {}).items():
		name = "preset" if key in ("presets", "preset") else key
		out[f"{prefix}{name}"] = list(value) if isinstance(value, list | tuple) else [value]
	return out


def build_task_space(
	parameters: dict[str, Any], quant_config: dict[str, Any] | None, parallel_config: dict[str, Any] | None
) -> Space:
	"""The whole search space of a task: engine flags plus quantization and parallelism intent."""
	return build_space(
		{
			**parameters,
			**config_parameters(QUANT_PREFIX, quant_config),
			**config_parameters(PARALLEL_PREFIX, parallel_config),
		}
	)


def params_key(params: dict[str, Any]) -> str:
	"""A canonical text for a parameter set, to find one already measured (1 and 1.0 are the same value)."""

	def norm(v: Any) -> Any:
		if isinstance(v, float) and v.is_integer():
			return int(v)
		return v

	return json.dumps({k: norm(v) for k, v in sorted(params.items())}, sort_keys=True)
