"""Numbers and parameters as text, for the CLI and the report alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
	from .scoring.noise import Gain, ValueStats


def fmt(value: Any, scale: float = 1.0) -> str:
	if value is None:
		return "-"
	if isinstance(value, float):
		v = value * scale
		return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}"
	return str(value)


def fmt_stats(stats: ValueStats | None, unit: str = "") -> str:
	"""'128 ± 4.97 tokens/s/GPU (n=3, 95% CI 123 to 133)', or '140 tokens/s/GPU (n=1, no interval)'."""
	if stats is None:
		return "-"
	u = f" {unit}" if unit else ""
	if stats.ci_low is None or stats.ci_high is None or stats.half_width is None:
		return f"{fmt(stats.mean)}{u} (n={stats.n}, no interval)"
	return (
		f"{fmt(stats.mean)} ± {fmt(stats.half_width)}{u} "
		f"(n={stats.n}, 95% CI {fmt(stats.ci_low)} to {fmt(stats.ci_high)})"
	)


def fmt_gain(gain: Gain) -> str:
	"""'+28.0% (95% CI +23.5% to +32.5%)'; + means better in the objective's direction."""
	text = f"{gain.value:+.1%}"
	if gain.ci_low is not None and gain.ci_high is not None:
		text += f" (95% CI {gain.ci_low:+.1%} to {gain.ci_high:+.1%})"
	return text


def fmt_params(params: dict[str, Any]) -> str:
	return " ".join(f"{k}={v}" for k, v in params.items())
