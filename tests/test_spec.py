"""Spec loading: seed-shaped files load unchanged; every problem is reported with its field path and a hint."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import autotuner_cmd

from inference_autotuner.errors import SpecError
from inference_autotuner.services.validate import load_spec, parse_spec
from inference_autotuner.spec.models import RangeParam

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


def minimal(**over):  # type: ignore[no-untyped-def]
	spec = {
		"task_name": "t",
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"threads": [1, 2]},
	}
	spec.update(over)
	return spec


def problems(data) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
	with pytest.raises(SpecError) as info:
		parse_spec(data)
	return [(p.path, p.message, p.hint) for p in info.value.problems]


def test_seed_task_json_loads_unchanged() -> None:
	spec = load_spec(DATA / "seed_docker_task_with_slo.json")
	assert spec.base_runtime == "sglang"
	assert spec.deployment_mode == "docker"
	assert spec.optimization.strategy == "grid_search"
	assert spec.slo is not None and spec.slo.latency is not None
	assert spec.slo.latency.p90 is not None and spec.slo.latency.p90.hard_fail is True
	assert spec.slo.latency.p90.fail_ratio == 0.2
	assert spec.slo.ttft is not None and spec.slo.ttft.threshold == 1.0
	assert spec.benchmark.num_concurrency == [1, 4, 8]
	assert spec.benchmark.max_time_per_iteration == 10  # seconds, not minutes
	assert spec.parameters["mem-fraction-static"] == [0.7, 0.8, 0.85]


def test_seed_name_alias_and_config_sections_load() -> None:
	spec = load_spec(DATA / "seed_parallel_quant.json")
	assert spec.model.ref == "llama-3-2-1b-instruct"
	assert spec.parallel_config == {"tp": [2, 4], "dp": [1, 2]}
	assert spec.quant_config == {"presets": ["default", "kv-cache-fp8"]}
	assert spec.optimization.n_initial_random == 1


def test_quickstart_example_is_valid() -> None:
	spec = load_spec(REPO / "examples" / "quickstart.yaml")
	assert spec.base_runtime == "llamacpp"
	assert spec.optimization.max_iterations <= 8


def test_yaml_and_json_give_the_same_spec(tmp_path: Path) -> None:
	import yaml

	data = minimal()
	(tmp_path / "a.json").write_text(json.dumps(data))
	(tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
	assert load_spec(tmp_path / "a.json") == load_spec(tmp_path / "a.yaml")


def test_unknown_field_names_the_closest() -> None:
	found = problems(minimal(optimisation={"strategy": "grid_search"}))
	assert ("optimisation", "unknown field 'optimisation'", "did you mean 'optimization'?") in found
	found = problems(minimal(benchmark={"num_concurency": [1]}))
	assert any(p == "benchmark.num_concurency" and h == "did you mean 'num_concurrency'?" for p, _m, h in found)


def test_wrong_type_and_empty_list() -> None:
	found = problems(minimal(benchmark={"num_concurrency": [], "max_requests_per_iteration": "many"}))
	paths = {p: m for p, m, _h in found}
	assert paths["benchmark.num_concurrency"] == "must not be empty"
	assert paths["benchmark.max_requests_per_iteration"].startswith("wrong type")


def test_unknown_objective_lists_valid_ones() -> None:
	found = problems(minimal(optimization={"objective": "maximize_speed"}))
	((path, msg, _),) = found
	assert path == "optimization.objective"
	assert "maximize_throughput" in msg and "minimize_latency" in msg


def test_unknown_engine_flag_suggests_closest() -> None:
	found = problems(minimal(parameters={"thread": [1, 2], "paralel": [1, 4]}))
	assert ("parameters.thread", "unknown llamacpp flag 'thread'", "did you mean 'threads'?") in found
	assert ("parameters.paralel", "unknown llamacpp flag 'paralel'", "did you mean 'parallel'?") in found


def test_flag_values_are_checked_against_the_catalogue() -> None:
	found = problems(minimal(parameters={"cache-type-k": ["f16", "q9"], "parallel": ["four"], "cont-batching": [1]}))
	paths = {p for p, _m, _h in found}
	assert paths == {"parameters.cache-type-k[1]", "parameters.parallel[0]", "parameters.cont-batching[0]"}


def test_every_problem_is_reported_at_once() -> None:
	found = problems(minimal(optimization={"objective": "x", "strategy": "y"}, extra_field=1))
	assert len(found) == 3


def test_bad_scenario_and_range() -> None:
	found = problems(
		minimal(
			benchmark={"traffic_scenarios": ["Q(1,2)"]},
			parameters={"threads": {"type": "integer", "low": 4, "high": 1}},
		)
	)
	paths = {p for p, _m, _h in found}
	assert "benchmark.traffic_scenarios[0]" in paths
	assert "parameters.threads" in paths


def test_range_parameter_parses() -> None:
	spec = parse_spec(minimal(parameters={"batch-size": {"type": "integer", "low": 128, "high": 1024, "log": True}}))
	assert isinstance(spec.parameters["batch-size"], RangeParam)


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
	f = tmp_path / "bad.yaml"
	f.write_text("task_name: x\nmodel: [unclosed\n")
	with pytest.raises(SpecError) as info:
		load_spec(f)
	assert "line" in str(info.value)


def test_goodput_objective_needs_an_slo() -> None:
	found = problems(minimal(optimization={"objective": "maximize_goodput"}))
	assert found[0][0] == "optimization.objective"


def test_search_fields_of_issue_8() -> None:
	"""Several objectives need a multi-objective-capable strategy; NSGA-II needs two; a pruner is single-objective and
	cannot be combined with a load search."""
	ok = parse_spec(
		minimal(optimization={"strategy": "nsga2", "objectives": ["maximize_throughput", "minimize_p90_ttft"]})
	)
	assert ok.optimization.multi_objective and ok.optimization.objective == "maximize_throughput"
	assert problems(minimal(optimization={"strategy": "nsga2"}))[0][0] == "optimization"
	found = problems(minimal(optimization={"objectives": ["maximize_throughput", "fastest"]}))
	assert found[0][0].startswith("optimization.objectives")
	found = problems(
		minimal(optimization={"objectives": ["maximize_throughput", "minimize_ttft"], "pruner": "hyperband"})
	)
	assert "single-objective" in found[0][1]
	found = problems(minimal(optimization={"pruner": "median"}, benchmark={"load_search": {"start": 1}}))
	assert "load_search" in found[0][1]
	assert parse_spec(minimal(optimization={"baseline": {"parallel": 4}})).optimization.baseline == {"parallel": 4}


# -- the origin project's task-file shapes (issue 14) -------------------------------------------------------------
ORIGIN_FILES = sorted(DATA.glob("origin_*.json"))


def test_origin_structured_parameters_load() -> None:
	spec = load_spec(DATA / "origin_bayesian_structured_params.json")
	assert spec.parameters["tp-size"] == [1, 2]  # {type: choice, values: [...]} is the list of its values
	assert spec.parameters["schedule-policy"] == ["lpm", "fcfs"]  # {type: categorical, choices: [...]} too
	cont = spec.parameters["mem-fraction-static"]
	assert isinstance(cont, RangeParam) and cont.type == "continuous" and (cont.low, cont.high) == (0.7, 0.9)
	integer = spec.parameters["chunked-prefill-size"]
	assert isinstance(integer, RangeParam) and integer.type == "integer" and integer.log is True
	assert spec.optimization.study_name == "origin-bayesian-sglang-study"
	assert spec.optimization.storage == "sqlite:///optuna_studies.db"


def test_origin_empty_value_list_is_not_tuned() -> None:
	spec = load_spec(DATA / "origin_grid_choice_llamacpp.json")
	assert "cache-type-k" not in spec.parameters  # the seed skipped a flag with no values
	assert spec.parameters["parallel"] == [1, 2, 4] and spec.parameters["threads"] == [2]
	assert spec.parameters["flash-attn"] == ["on", "off"]


def test_origin_choice_values_are_checked_against_the_engine() -> None:
	bad = minimal(parameters={"threads": {"type": "choice", "values": [1, "two"]}})
	assert problems(bad) == [("parameters.threads.values[1]", "flag 'threads' takes an integer, got 'two'", None)]
	found = problems(minimal(parameters={"threads": {"type": "choice"}}))
	assert [p[0] for p in found] == ["parameters.threads"]
	assert "needs its values as a list" in found[0][1]


def test_dataset_url_loads_and_a_bad_one_names_the_field() -> None:
	spec = parse_spec(minimal(benchmark={"dataset_url": "https://example.com/prompts.jsonl"}))
	assert spec.benchmark.dataset is not None and spec.benchmark.workload_kind == "dataset"
	found = problems(minimal(benchmark={"dataset_url": "ftp://example.com/prompts.jsonl"}))
	assert len(found) == 1
	path, message, _hint = found[0]
	assert path == "benchmark.dataset_url"
	assert "file://, http:// or https://" in message


def test_study_storage_must_be_a_database_url() -> None:
	found = problems(minimal(optimization={"storage": "redis://localhost:6379"}))
	assert [p[0] for p in found] == ["optimization.storage"]
	assert "not a database URL" in found[0][1]
	spec = parse_spec(minimal(optimization={"storage": "postgresql://u:p@db.example/optuna", "study_name": "s"}))
	assert spec.optimization.storage == "postgresql://u:p@db.example/optuna"


@pytest.mark.parametrize("path", ORIGIN_FILES, ids=lambda p: p.name)
def test_cli_validate_and_explain_accept_origin_files(path: Path, model_path: Path) -> None:
	assert len(ORIGIN_FILES) >= 3
	for command in ("validate", "explain"):
		p = subprocess.run(
			[*autotuner_cmd(), command, str(path)], capture_output=True, text=True, timeout=300, cwd=REPO
		)
		assert p.returncode == 0, f"{command}: {p.stdout}\n{p.stderr}"
		assert "Traceback" not in p.stdout + p.stderr
	assert not list(REPO.glob("*.db")), "validate/explain open no study storage"
