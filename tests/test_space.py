"""Parameter space: grids, ranges, fixed values, boolean flags, argv mapping."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from inference_autotuner.engines import params_to_args
from inference_autotuner.space import build_space, params_key
from inference_autotuner.spec.models import RangeParam


def test_lists_fixed_and_single_values() -> None:
	space = build_space({"parallel": [1, 2, 4], "threads": [2], "ctx-size": 4096, "flash-attn": "on"})
	assert [d.name for d in space.dimensions] == ["parallel"]
	assert space.fixed == {"threads": 2, "ctx-size": 4096, "flash-attn": "on"}
	assert space.size() == 3
	assert space.combinations() == [{"parallel": 1}, {"parallel": 2}, {"parallel": 4}]


def test_grid_size_is_the_product() -> None:
	space = build_space({"a": [1, 2, 3], "b": ["x", "y"], "c": [True, False]})
	assert space.size() == 12
	assert len({params_key(c) for c in space.combinations()}) == 12


def test_bool_and_int_choices_are_distinct() -> None:
	space = build_space({"a": [True, 1, False, 0]})
	assert space.dimensions[0].choices == (True, 1, False, 0)


def test_ranges_become_optuna_distributions() -> None:
	space = build_space(
		{
			"batch-size": RangeParam(type="integer", low=64, high=1024, log=True),
			"ubatch-size": RangeParam(type="integer", low=128, high=512, step=128),
			"defrag-thold": RangeParam(type="continuous", low=0.0, high=1.0),
			"cache-type-k": ["f16", "q8_0"],
		}
	)
	d = space.distributions
	assert d["batch-size"] == IntDistribution(64, 1024, log=True)
	assert d["ubatch-size"] == IntDistribution(128, 512, step=128)
	assert d["defrag-thold"] == FloatDistribution(0.0, 1.0)
	assert d["cache-type-k"] == CategoricalDistribution(["f16", "q8_0"])
	assert space.size() is None  # a continuous range is not enumerable


def test_stepped_ranges_are_griddable() -> None:
	space = build_space(
		{
			"u": RangeParam(type="integer", low=128, high=512, step=128),
			"f": RangeParam(type="continuous", low=0.5, high=1.0, step=0.25),
		}
	)
	assert space.grid() == {"u": [128, 256, 384, 512], "f": [0.5, 0.75, 1.0]}
	assert space.size() == 12


def test_sampled_params_stay_in_the_space() -> None:
	space = build_space({"t": RangeParam(type="integer", low=1, high=4), "p": [1, 4], "fixed": 7})
	study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
	for _ in range(20):
		trial = study.ask(space.distributions)
		full = space.full(trial.params)
		assert 1 <= full["t"] <= 4 and full["p"] in (1, 4) and full["fixed"] == 7
		study.tell(trial, 0.0)


def test_params_key_treats_equal_numbers_alike() -> None:
	assert params_key({"a": 1.0, "b": "x"}) == params_key({"b": "x", "a": 1})
	assert params_key({"a": 1}) != params_key({"a": 2})


def test_boolean_flags_and_argv() -> None:
	argv = params_to_args(
		{"parallel": 4, "cont-batching": True, "no-warmup": False, "batch-size": 512.0, "flash-attn": "on"}
	)
	assert argv == ["--parallel", "4", "--cont-batching", "--batch-size", "512", "--flash-attn", "on"]
