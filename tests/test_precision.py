"""benchmark.precision and steady-state warm-up (bench/precision.py): the batch-means arithmetic on recorded request
times, and a real llama.cpp server whose run ends once its throughput is known to the target."""

from __future__ import annotations

import asyncio
import math

import pytest

from inference_autotuner.bench.client import run_load
from inference_autotuner.bench.metrics import GoodputSLO, RequestRecord
from inference_autotuner.bench.precision import (
	MIN_BATCHES,
	PrecisionTracker,
	batch_figure,
	batch_size,
	relative_half_width,
	steady,
	supports,
)
from inference_autotuner.bench.request import RunRequest
from inference_autotuner.bench.traffic import parse_scenario
from inference_autotuner.spec.models import BenchmarkSpec


def _rec(sent: float, ttft: float, e2e: float, out: int = 10, inp: int = 5) -> RequestRecord:
	return RequestRecord(
		scheduled=sent,
		sent=sent,
		first_token=sent + ttft,
		end=sent + e2e,
		chunk_times=[sent + ttft],
		input_tokens=inp,
		output_tokens=out,
	)


def test_half_width_is_the_t_interval_of_the_batch_figures() -> None:
	figs = [10.0, 12.0, 11.0, 9.0, 10.0, 8.0]
	mean = sum(figs) / 6
	sd = math.sqrt(sum((f - mean) ** 2 for f in figs) / 5)
	assert relative_half_width(figs) == pytest.approx(2.571 * sd / math.sqrt(6) / mean)
	assert relative_half_width(figs[: MIN_BATCHES - 1]) is None  # too few batches to say
	assert relative_half_width([0.0] * 6) is None


def test_batch_figures_per_objective() -> None:
	batch = [_rec(0.0, 0.1, 1.0), _rec(0.0, 0.3, 2.0), _rec(1.0, 0.2, 3.0)]  # ends 1, 2, 4
	# throughput: (in + out) tokens over the batch's span since the previous batch ended (here at 0)
	assert batch_figure(batch, 0.0, "maximize_throughput") == pytest.approx(45 / 4)
	assert batch_figure(batch, 0.0, "minimize_cost_per_mtok") == pytest.approx(30 / 4)
	assert batch_figure(batch, 0.0, "minimize_ttft") == pytest.approx(0.2)
	assert batch_figure(batch, 0.0, "minimize_latency") == pytest.approx(2.0)
	assert batch_figure(batch, 0.0, "maximize_goodput", GoodputSLO(ttft=0.25)) == pytest.approx(2 / 4)
	assert not supports("maximize_max_load")  # a pass/fail search: no precision stop


def test_tracker_stops_a_steady_series_and_not_a_noisy_one() -> None:
	steady_t = PrecisionTracker(("minimize_latency",), 0.05, batch=4)
	noisy = PrecisionTracker(("minimize_latency",), 0.05, batch=4)
	reached = []
	for i in range(48):
		reached.append(steady_t.add(_rec(float(i), 0.1, 1.0 + 0.001 * (i % 3))))
		noisy.add(_rec(float(i), 0.1, 1.0 + 3.0 * (i % 5 == 0) * (i % 8 < 4)))
	assert steady_t.reached_at == 4 * MIN_BATCHES  # as soon as enough batches exist
	assert reached.index(True) == 4 * MIN_BATCHES - 1
	assert noisy.reached_at is None and (noisy.half_width() or 0) > 0.05
	# every objective must be precise: a throughput that is steady does not end a run whose TTFT is not
	both = PrecisionTracker(("maximize_throughput", "minimize_ttft"), 0.05, batch=2)
	for i in range(40):
		both.add(_rec(float(i), 0.1 if (i // 2) % 2 else 0.9, 1.0))
	assert both.reached_at is None


def test_warm_up_steady_state_and_batch_sizes() -> None:
	assert steady([_rec(0, 0.1, 1.0)], [_rec(1, 0.1, 1.1)])
	assert not steady([_rec(0, 0.1, 3.0)], [_rec(1, 0.1, 1.0)])  # the first (cold) round was 3x slower
	assert batch_size(16) == 16 and batch_size(1) == 4 and batch_size(None) == 8
	assert BenchmarkSpec().precision == 0.05
	assert BenchmarkSpec(precision=None).precision is None
	with pytest.raises(ValueError):
		BenchmarkSpec(precision=0)


def test_real_run_ends_at_the_target_precision(llama_server: str) -> None:
	"""A real llama.cpp server: a loose target ends the run before its request cap, with the half-width recorded;
	no target runs to the cap. Sizes are small (D(16,8)) so that the run is short on two cores."""
	scenario = parse_scenario("D(16,8)")

	async def go(precision: float | None, cap: int) -> tuple[int, float | None, int | None, int | None]:
		m = await run_load(
			RunRequest(
				llama_server,
				scenario=scenario,
				concurrency=1,
				max_requests=cap,
				max_duration_s=300,
				warmup=1,
				objectives=("maximize_throughput",),
				precision=precision,
			)
		)
		return m.total_requests, m.half_width, m.precise_at, m.warmup_rounds

	# a loose target (±100%): a busy 2-core CI machine makes single requests vary 0.1 s to 1.7 s
	loose = asyncio.run(go(1.0, 120))
	assert loose[2] is not None and loose[0] == loose[2] < 120  # stopped at the target (closed loop of one)
	assert loose[1] is not None and loose[1] <= 1.0
	assert loose[3] is not None and 2 <= loose[3] <= 3  # warm-up: at least two rounds to judge steady state
	capped = asyncio.run(go(None, 30))
	assert capped[0] == 30 and capped[2] is None and capped[1] is not None  # no target: to the cap, width known
