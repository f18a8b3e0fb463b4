"""`autotuner explain` on the example specs: argv for quantized and parallel variants; refusals with reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def explain(name: str) -> dict:  # type: ignore[type-arg]
	p = subprocess.run(
		[
			sys.executable,
			"-m",
			"inference_autotuner.cli",
			"explain",
			f"examples/{name}.yaml",
			"--format",
			"json",
			"-n",
			"100",
		],
		capture_output=True,
		text=True,
		cwd=REPO,
		timeout=120,
	)
	assert p.returncode == 0, p.stderr
	return json.loads(p.stdout)


def by_params(data: dict, **want: object) -> dict:  # type: ignore[type-arg]
	for row in data["experiments"]:
		if row["origin"] == "search" and all(row["params"].get(k) == v for k, v in want.items()):
			return row
	raise AssertionError(f"no experiment with {want}")


def test_vllm_example(monkeypatch: pytest.MonkeyPatch) -> None:
	monkeypatch.delenv("AUTOTUNER_TOOLS_DIR", raising=False)  # `vllm serve`, not the CPU build's API server module
	data = explain("vllm-llama8b")
	search = [r for r in data["experiments"] if r["origin"] == "search"]
	assert data["space_size"] == 12 and len(search) == 12 and data["experiments"][0]["origin"] == "baseline"
	row = by_params(data, **{"__quant__preset": "dynamic-fp8", "__parallel__tp": 2, "max-num-seqs": 256})
	argv = row["argv"]
	assert argv[:2] == ["vllm", "serve"]
	assert argv[argv.index("--quantization") + 1] == "fp8"
	assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8"
	assert argv[argv.index("--tensor-parallel-size") + 1] == "2"
	assert row["world_size"] == 2 and row["memory"]["fits"] is True
	plain = by_params(data, **{"__quant__preset": "default", "__parallel__tp": 1, "max-num-seqs": 128})
	assert "--quantization" not in plain["argv"] and "--tensor-parallel-size" not in plain["argv"]


def test_sglang_example() -> None:
	data = explain("sglang-qwen32b")
	assert data["space_size"] == 48
	row = by_params(data, **{"__quant__kvcache_dtype": "fp8", "__parallel__tp": 4, "__parallel__dp": 2})
	argv = row["argv"]
	assert argv[1:4] == ["-I", "-m", "sglang.launch_server"]
	assert argv[argv.index("--tp-size") + 1] == "4" and argv[argv.index("--dp-size") + 1] == "2"
	assert argv[argv.index("--kv-cache-dtype") + 1].startswith("fp8")
	assert row["world_size"] == 8


def test_trtllm_example_refuses_dp_and_online_fp8() -> None:
	data = explain("trtllm-llama8b")
	dp2 = [r for r in data["experiments"] if r["params"].get("__parallel__dp") == 2]
	assert dp2 and all(r["status"] == "skipped" and r["argv"] is None for r in dp2)
	assert all("dp" in r["reason"] for r in dp2 if r["params"]["__quant__preset"] != "dynamic-fp8")
	fp8 = by_params(data, **{"__quant__preset": "dynamic-fp8", "__parallel__dp": 1})
	assert fp8["status"] == "skipped" and fp8["argv"] is None
	ok = by_params(data, **{"__quant__preset": "default", "__parallel__tp": 2, "__parallel__dp": 1})
	assert ok["status"] == "ok" and ok["argv"][0] == "trtllm-serve"
	assert ok["argv"][ok["argv"].index("--tp_size") + 1] == "2"


def test_quickstart_explains_without_starting_anything() -> None:
	data = explain("quickstart")
	assert data["engine"] == "llamacpp" and data["space_size"] == 48
	assert all(r["status"] == "ok" and r["world_size"] == 1 for r in data["experiments"])
	assert "--parallel" in data["experiments"][1]["argv"]
	# the fixed flags are in every argv (explain once left them out while the runner passed them)
	for row in data["experiments"]:
		assert row["argv"][row["argv"].index("--ctx-size") + 1] == "4096"
