"""Traffic scenarios in genai-bench's notation: how many input and output tokens each request has.

- `D(in,out)`: deterministic, every request has `in` input and `out` output tokens.
- `N(mean_in,std_in)/(mean_out,std_out)`: normal distributions, rounded; input >= 1, output >= 2 tokens.
- `U(min_in,max_in)/(min_out,max_out)`: uniform integers, both ends included.
- `U(max_in,max_out)`: genai-bench's short form: input uniform in [1, max_in], output in [2, max_out].

As in genai-bench, sampled output lengths are at least 2 tokens (so TPOT is defined) unless the scenario's
largest output length is 1. Parsing is case-insensitive and ignores spaces; `str()` gives the canonical text.
"""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

_USAGE = "use D(in,out), N(mi,si)/(mo,so) or U(min,max)/(min,max)"
_PAIR = r"\((\d+),(\d+)\)"
_PATTERNS = {
	"D": re.compile(rf"D{_PAIR}"),
	"N": re.compile(rf"N{_PAIR}/{_PAIR}"),
	"U": re.compile(rf"U{_PAIR}(?:/{_PAIR})?"),
}


class Scenario(ABC):
	"""How request lengths are drawn. `sample(rng)` gives (input_tokens, output_tokens)."""

	kind: str

	@abstractmethod
	def sample(self, rng: random.Random) -> tuple[int, int]:
		"""Draw one request's (input_tokens, output_tokens)."""

	@property
	@abstractmethod
	def mean_input(self) -> float:
		"""Expected input tokens per request (before the lower clamps of sampling)."""

	@property
	@abstractmethod
	def mean_output(self) -> float:
		"""Expected output tokens per request (before the lower clamps of sampling)."""

	@property
	def deterministic(self) -> bool:
		return False


@dataclass(frozen=True)
class Deterministic(Scenario):
	input_tokens: int
	output_tokens: int
	kind = "D"

	def sample(self, rng: random.Random) -> tuple[int, int]:
		return self.input_tokens, self.output_tokens

	@property
	def mean_input(self) -> float:
		return float(self.input_tokens)

	@property
	def mean_output(self) -> float:
		return float(self.output_tokens)

	@property
	def deterministic(self) -> bool:
		return True

	def __str__(self) -> str:
		return f"D({self.input_tokens},{self.output_tokens})"


@dataclass(frozen=True)
class Normal(Scenario):
	mean_in: int
	std_in: int
	mean_out: int
	std_out: int
	kind = "N"

	def sample(self, rng: random.Random) -> tuple[int, int]:
		n_in = max(1, round(rng.gauss(self.mean_in, self.std_in)))
		n_out = max(min(2, self.mean_out), round(rng.gauss(self.mean_out, self.std_out)))
		return n_in, n_out

	@property
	def mean_input(self) -> float:
		return float(self.mean_in)

	@property
	def mean_output(self) -> float:
		return float(self.mean_out)

	def __str__(self) -> str:
		return f"N({self.mean_in},{self.std_in})/({self.mean_out},{self.std_out})"


@dataclass(frozen=True)
class Uniform(Scenario):
	min_in: int
	max_in: int
	min_out: int
	max_out: int
	short: bool = False  # written as U(max_in,max_out)
	kind = "U"

	def sample(self, rng: random.Random) -> tuple[int, int]:
		return rng.randint(self.min_in, self.max_in), rng.randint(self.min_out, self.max_out)

	@property
	def mean_input(self) -> float:
		return (self.min_in + self.max_in) / 2

	@property
	def mean_output(self) -> float:
		return (self.min_out + self.max_out) / 2

	def __str__(self) -> str:
		if self.short:
			return f"U({self.max_in},{self.max_out})"
		return f"U({self.min_in},{self.max_in})/({self.min_out},{self.max_out})"


def parse_scenario(text: str) -> Scenario:
	"""Parse a genai-bench traffic scenario; ValueError with the accepted forms when it is not one."""
	if not isinstance(text, str):
		raise ValueError(f"a traffic scenario must be text, not {type(text).__name__}; {_USAGE}")
	compact = re.sub(r"\s+", "", text).upper()
	kind = compact[:1]
	pattern = _PATTERNS.get(kind)
	match = pattern.fullmatch(compact) if pattern else None
	if match is None:
		raise ValueError(f"unknown traffic scenario {text!r}; {_USAGE}")
	nums = [int(g) for g in match.groups() if g is not None]

	def need(ok: bool, why: str) -> None:
		if not ok:
			raise ValueError(f"traffic scenario {text!r}: {why}")

	if kind == "D":
		need(nums[0] >= 1 and nums[1] >= 1, "input and output tokens must be at least 1")
		return Deterministic(nums[0], nums[1])
	if kind == "N":
		need(nums[0] >= 1 and nums[2] >= 1, "mean input and mean output tokens must be at least 1")
		return Normal(*nums)
	if len(nums) == 2:
		need(nums[0] >= 1 and nums[1] >= 1, "the largest input and output lengths must be at least 1")
		return Uniform(1, nums[0], min(2, nums[1]), nums[1], short=True)
	min_in, max_in, min_out, max_out = nums
	need(min_in >= 1 and min_out >= 1, "the smallest input and output lengths must be at least 1")
	need(min_in <= max_in, f"input range min {min_in} > max {max_in}")
	need(min_out <= max_out, f"output range min {min_out} > max {max_out}")
	return Uniform(min_in, max_in, min_out, max_out)
