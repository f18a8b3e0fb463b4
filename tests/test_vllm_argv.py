"""Every vLLM command line the tuner builds is read by vLLM's own parser, in the vLLM tools venv.

The argv of every configuration of every vLLM example and test spec (as `explain` shows what the runner launches:
local, docker and Kubernetes forms), the `vllm serve` command shown for each (predicted examples included), and the
argv of every quantization and parallel preset and field value the tuner maps for vLLM. A flag vLLM does not have
or a value it refuses fails the test with vLLM's own message. One subprocess imports vLLM once for all of them.
"""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path
from typing import Any

import pytest

from inference_autotuner.engines import get_engine, plan_launch
from inference_autotuner.engines.catalog import probe
from inference_autotuner.engines.parallel import PARALLEL_FIELDS, PARALLEL_PRESETS
from inference_autotuner.engines.quant import QUANT_PRESETS, QUANT_VALUES
from inference_autotuner.explain import explain
from inference_autotuner.services.validate import load_spec

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.engine


def parser_args(argv: list[str]) -> list[str]:
	"""The arguments vLLM's parser reads: after `vllm serve` or `PY -m vllm.entrypoints...`."""
	if "-m" in argv[:3]:
		return argv[argv.index("-m") + 2 :]
	if argv[:2] == ["vllm", "serve"]:
		return argv[2:]  # the model is vLLM's positional model_tag
	raise AssertionError(f"not a vLLM command: {argv[:3]}")


def vllm_specs() -> list[Path]:
	found = []
	for path in sorted(
		[*REPO.glob("examples/*.yaml"), *REPO.glob("tests/data/*.json"), *REPO.glob("tests/data/*.yaml")]
	):
		try:
			spec = load_spec(path)
		except Exception:  # noqa: BLE001 - tests/data holds invalid specs on purpose
			continue
		if spec.base_runtime == "vllm":
			found.append(path)
	return found


def example_commands() -> dict[str, list[str]]:
	"""label -> parser arguments, for every configuration of every vLLM spec (launched argv and shown command)."""
	engine = get_engine("vllm")
	out: dict[str, list[str]] = {}
	for path in vllm_specs():
		spec = load_spec(path)
		data = explain(spec, 1000)
		for row in data["experiments"]:
			label = f"{path.name} #{row['number']} {row['params']}"
			if row["argv"] is not None:
				out[f"{label} argv"] = parser_args(row["argv"])
			if row["status"] == "ok":
				plan = plan_launch(engine, row["params"])
				if plan.status == "ok":
					shown = engine.display_command(data["model"], plan.flags)
					out[f"{label} shown"] = parser_args(shlex.split(shown))
	return out


def preset_commands() -> dict[str, list[str]]:
	engine = get_engine("vllm")
	quant: list[dict[str, Any]] = [{"__quant__preset": p} for p in QUANT_PRESETS]
	quant += [{f"__quant__{f}": v} for f, values in QUANT_VALUES.items() for v in values]
	par: list[dict[str, Any]] = [{"__parallel__preset": p} for p in PARALLEL_PRESETS["vllm"]]
	par += [{f"__parallel__{f}": n} for f in PARALLEL_FIELDS for n in (2, 4)]
	out = {}
	for q, p in itertools.product(quant, par):
		plan = plan_launch(engine, {**q, **p})
		if plan.status == "ok":
			out[f"preset {q} {p}"] = parser_args(engine.launch_argv("/models/m", plan.flags, host="127.0.0.1", port=1))
	return out


def test_every_vllm_argv_the_tuner_builds_parses() -> None:
	engine = get_engine("vllm")
	python = engine.python()  # type: ignore[attr-defined]
	if python is None:
		pytest.skip("vLLM is not installed: make .tools/vllm/.installed (and AUTOTUNER_TOOLS_DIR=.tools)")
	commands = {**example_commands(), **preset_commands()}
	assert len(vllm_specs()) >= 4 and len(commands) > 100
	wrong = {"control: unknown flag": ["--max-num-sequences", "8"], "control: bad value": ["--max-num-seqs", "eight"]}
	labels = list(commands) + list(wrong)
	results = probe(python, "parse", "vllm", [*commands.values(), *wrong.values()])
	answers = dict(zip(labels, results, strict=True))
	refused = {k: v["error"] for k, v in answers.items() if not v["ok"] and k not in wrong}
	assert not refused, "\n".join(f"{k}: {v}" for k, v in refused.items())
	assert all(not answers[k]["ok"] for k in wrong), "the parser refuses what it should (the check is real)"
	assert "--max-num-sequences" in answers["control: unknown flag"]["error"]
