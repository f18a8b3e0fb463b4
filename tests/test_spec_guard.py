"""No spec can turn the tuner against its host (issue 15, part 1): env allow-list, isolated Python launchers, flags the
tuner owns, the baseline checked like parameters. Real parts: the real spec loader and CLI, the real engine launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import autotuner_cmd

from inference_autotuner.engines import get_engine
from inference_autotuner.errors import SpecError
from inference_autotuner.services.validate import parse_spec

BASE = {"task_name": "guard", "model": {"id_or_path": "smollm2"}, "parameters": {"parallel": [1, 2]}}


def problems(**changes: object) -> list[tuple[str, str]]:
	try:
		parse_spec({**BASE, **changes})
	except SpecError as exc:
		return [(p.path, p.message) for p in exc.problems]
	return []


@pytest.mark.parametrize(
	"name",
	[
		"PYTHONWARNINGS",
		"PYTHONPATH",
		"LD_PRELOAD",
		"LD_LIBRARY_PATH",
		"BROWSER",
		"PATH",
		"HOME",
		"CUDA_VISIBLE_DEVICES",
	],
)
def test_env_that_changes_how_programs_load_is_refused(name: str) -> None:
	found = problems(env={name: "x"})
	assert found and found[0][0] == "env" and name in found[0][1]


def test_env_allow_list_passes_engine_variables_and_refuses_secrets() -> None:
	ok = {"OMP_NUM_THREADS": "2", "VLLM_CPU_KVCACHE_SPACE": "4", "NCCL_DEBUG": "INFO", "HF_HUB_OFFLINE": "1"}
	assert problems(env=ok) == []
	assert "secret" in problems(env={"HF_TOKEN": "hf_x"})[0][1]
	assert problems(env={"bad name": "1"}) and problems(env={"OMP_NUM_THREADS": "a\x00b"})


@pytest.mark.parametrize("flag", ["host", "port", "model", "api-key", "slot-save-path", "log-file"])
def test_flags_the_tuner_owns_are_never_parameters_or_baseline(flag: str) -> None:
	assert any(path == f"parameters.{flag}" for path, _ in problems(parameters={"parallel": [1, 2], flag: ["x"]}))
	found = problems(optimization={"baseline": {flag: "x"}})
	assert any(path == f"optimization.baseline.{flag}" for path, _ in found), found


def test_baseline_is_validated_like_parameters() -> None:
	"""`--model /etc/passwd --host 0.0.0.0` once slipped through as a baseline; so did unknown flags and bad values."""
	found = dict(problems(optimization={"baseline": {"model": "/etc/passwd", "host": "0.0.0.0"}}))
	assert set(found) == {"optimization.baseline.model", "optimization.baseline.host"}
	found = dict(problems(optimization={"baseline": {"paralel": 2, "threads": "many", "ctx-size": [1, 2]}}))
	assert "did you mean" not in found.get("optimization.baseline.paralel", "")  # the hint carries it
	assert set(found) == {
		"optimization.baseline.paralel",
		"optimization.baseline.threads",
		"optimization.baseline.ctx-size",
	}
	assert problems(optimization={"baseline": {"parallel": 2, "threads": 1}}) == []


def test_cli_validate_refuses_the_attack_spec_with_exit_2(tmp_path: Path) -> None:
	spec = tmp_path / "evil.yaml"
	attack = {**BASE, "env": {"PYTHONWARNINGS": "ignore::antigravity.x", "BROWSER": "sh -c id"}}
	spec.write_text(yaml.safe_dump(attack))
	p = subprocess.run([*autotuner_cmd(), "validate", str(spec)], capture_output=True, text=True, timeout=60)
	assert p.returncode == 2 and "PYTHONWARNINGS" in p.stderr and "Traceback" not in p.stderr


def test_python_engine_launcher_runs_isolated(tmp_path: Path) -> None:
	"""The attack that once ran a shell as root: PYTHONWARNINGS imports `antigravity`, which opens $BROWSER. The
	llama.cpp launcher runs `python -I`, so neither variable reaches it (a plain `python` does run the command)."""
	argv = get_engine("llamacpp").launch_argv("m.gguf", {}, host="127.0.0.1", port=1)
	assert argv[1] == "-I", argv
	marker = tmp_path / "pwned"
	env = {**os.environ, "PYTHONWARNINGS": "ignore::antigravity.x", "BROWSER": f"touch {marker} %s"}
	env.pop("DISPLAY", None)
	subprocess.run([argv[0], "-c", "pass"], env=env, capture_output=True, timeout=60)
	assert marker.exists(), "the attack did not work against a plain python: this test proves nothing"
	marker.unlink()
	subprocess.run([*argv[:4], "--help"], env=env, capture_output=True, timeout=120)
	assert not marker.exists(), "the engine launcher let PYTHONWARNINGS/BROWSER run a command"
	assert argv[0] == sys.executable


def test_a_spec_sqlite_study_stays_inside_the_data_directory(data_dir: Path) -> None:
	"""optimization.storage once created a SQLite file (and its folders) wherever a spec said, relative to the cwd."""
	from inference_autotuner.store.db import study_storage_url

	for bad in ("sqlite:////etc/autotuner-study.db", "sqlite:///../../outside.db", "sqlite:///:memory:"):
		found = problems(optimization={"storage": bad})
		assert found and found[0][0] == "optimization.storage", bad
	assert problems(optimization={"storage": "sqlite:///studies/optuna.db"}) == []
	url = study_storage_url({"optimization": {"storage": "sqlite:///studies/optuna.db"}})
	assert url == f"sqlite:///{data_dir.resolve() / 'studies' / 'optuna.db'}"
	assert study_storage_url({"optimization": {}}) is None
