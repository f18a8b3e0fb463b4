"""Traffic scenarios: genai-bench notation, canonical text, sampling ranges, clear errors."""

from __future__ import annotations

import random

import pytest

from inference_autotuner.bench.traffic import Deterministic, Normal, Uniform, parse_scenario


@pytest.mark.parametrize(
	("text", "canonical", "cls"),
	[
		("D(100,100)", "D(100,100)", Deterministic),
		(" d( 32 , 16 ) ", "D(32,16)", Deterministic),
		("N(480,240)/(300,150)", "N(480,240)/(300,150)", Normal),
		("n(10,0) / (20,0)", "N(10,0)/(20,0)", Normal),
		("U(50,100)/(200,300)", "U(50,100)/(200,300)", Uniform),
		("U(1000,100)", "U(1000,100)", Uniform),
	],
)
def test_parse_and_canonical_text(text: str, canonical: str, cls: type) -> None:
	scenario = parse_scenario(text)
	assert isinstance(scenario, cls)
	assert str(scenario) == canonical
	assert str(parse_scenario(str(scenario))) == canonical


def test_deterministic_samples_the_same_lengths() -> None:
	scenario = parse_scenario("D(32,16)")
	rng = random.Random(0)
	assert {scenario.sample(rng) for _ in range(50)} == {(32, 16)}
	assert scenario.deterministic
	assert (scenario.mean_input, scenario.mean_output) == (32.0, 16.0)


def test_uniform_covers_both_ends_and_nothing_else() -> None:
	scenario = parse_scenario("U(5,8)/(2,3)")
	rng = random.Random(1)
	samples = [scenario.sample(rng) for _ in range(400)]
	assert {i for i, _ in samples} == {5, 6, 7, 8}
	assert {o for _, o in samples} == {2, 3}
	assert (scenario.mean_input, scenario.mean_output) == (6.5, 2.5)


def test_uniform_short_form_follows_genai_bench() -> None:
	# U(max_in,max_out): input in [1, max_in], output in [2, max_out]
	scenario = parse_scenario("U(6,4)")
	assert isinstance(scenario, Uniform)
	assert (scenario.min_in, scenario.max_in, scenario.min_out, scenario.max_out) == (1, 6, 2, 4)
	rng = random.Random(2)
	samples = [scenario.sample(rng) for _ in range(400)]
	assert {i for i, _ in samples} == {1, 2, 3, 4, 5, 6}
	assert {o for _, o in samples} == {2, 3, 4}


def test_normal_is_centred_and_clamped() -> None:
	scenario = parse_scenario("N(200,20)/(100,10)")
	rng = random.Random(3)
	samples = [scenario.sample(rng) for _ in range(2000)]
	mean_in = sum(i for i, _ in samples) / len(samples)
	mean_out = sum(o for _, o in samples) / len(samples)
	assert 195 < mean_in < 205
	assert 97 < mean_out < 103
	assert all(isinstance(i, int) and isinstance(o, int) for i, o in samples)
	# a wide spread never gives fewer than 1 input or 2 output tokens
	wide = parse_scenario("N(3,50)/(3,50)")
	for _ in range(500):
		n_in, n_out = wide.sample(rng)
		assert n_in >= 1
		assert n_out >= 2


def test_sampling_is_reproducible_with_a_seed() -> None:
	scenario = parse_scenario("N(100,30)/(50,10)")
	a = [scenario.sample(random.Random(7)) for _ in range(5)]
	b = [scenario.sample(random.Random(7)) for _ in range(5)]
	assert a == b


@pytest.mark.parametrize(
	"text",
	["", "X(1,2)", "D(1)", "D(1,2,3)", "D(a,b)", "N(1,2)", "N(1,2)/(3)", "U(1,2)/(3,4)/(5,6)", "D(-1,2)", "D(1.5,2)"],
)
def test_unknown_forms_name_the_accepted_ones(text: str) -> None:
	with pytest.raises(ValueError) as info:
		parse_scenario(text)
	message = str(info.value)
	assert f"unknown traffic scenario {text!r}" in message
	assert "D(in,out)" in message and "N(mi,si)/(mo,so)" in message and "U(min,max)/(min,max)" in message


@pytest.mark.parametrize(
	("text", "why"),
	[
		("U(10,5)/(1,2)", "input range min 10 > max 5"),
		("U(1,5)/(9,2)", "output range min 9 > max 2"),
		("D(0,10)", "at least 1"),
		("D(10,0)", "at least 1"),
		("N(0,1)/(10,1)", "at least 1"),
		("U(0,5)/(1,2)", "at least 1"),
		("U(0,5)", "at least 1"),
	],
)
def test_invalid_values_say_why(text: str, why: str) -> None:
	with pytest.raises(ValueError, match=r"traffic scenario .*: ") as info:
		parse_scenario(text)
	assert why in str(info.value)


def test_non_text_is_rejected() -> None:
	with pytest.raises(ValueError, match="must be text"):
		parse_scenario(123)  # type: ignore[arg-type]
