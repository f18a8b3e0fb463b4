"""Cost (issue 22 part 3): $ per million output tokens from cost.gpu_hour_usd, the objective minimize_cost_per_mtok,
and `autotuner best --target-rate R` (fewest GPUs that serve R req/s within the SLOs), on real predicted tunings."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_autotuner.errors import SpecError
from inference_autotuner.services.validate import parse_spec

REPO = Path(__file__).resolve().parents[1]
needs_predict = pytest.mark.skipif(
	importlib.util.find_spec("aiconfigurator") is None, reason="the predict extra is not installed"
)


def spec(**over: Any) -> dict[str, Any]:
	s: dict[str, Any] = {
		"task_name": "cost-qwen",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [64, 256]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {
			"strategy": "grid_search",
			"objective": "minimize_cost_per_mtok",
			"max_iterations": 8,
			"repeat_top_k": 0,
			"warm_start": False,
		},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [64]},
		"slo": {"tpot": {"threshold": 0.05, "hard_fail": True, "fail_ratio": 0.0}},
		"cost": {"gpu_hour_usd": 2.5},
	}
	s.update(over)
	return s


def cli(*args: str) -> subprocess.CompletedProcess[str]:
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO
	)


def test_cost_objective_needs_a_price() -> None:
	bad = spec()
	del bad["cost"]
	with pytest.raises(SpecError, match="needs a price"):
		parse_spec(bad)
	with pytest.raises(SpecError):
		parse_spec(spec(cost={"gpu_hour_usd": 0}))


def test_cost_per_mtok_formula() -> None:
	from inference_autotuner.scoring.objectives import cost_per_mtok

	# 2 GPUs at $2.5/h = $5/h; 1000 tok/s = 3.6 M tok/h -> $1.389 per M tokens
	assert cost_per_mtok(1000.0, 2, 2.5) == pytest.approx(5 / 3.6)
	assert cost_per_mtok(0.0, 2, 2.5) is None and cost_per_mtok(1000.0, 2, None) is None


@needs_predict
def test_cost_objective_picks_another_winner_than_raw_throughput(tmp_path: Path) -> None:
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(spec()))
	res = cli("tune", str(path))
	assert res.returncode == 0, res.stderr
	data = json.loads(cli("show", "cost-qwen", "--format", "json").stdout)
	ok = [e for e in data["experiments"] if e["status"] == "success"]
	assert len(ok) >= 4 and data["objective_unit"] == "$/Mtok"
	for e in ok:
		ws = e["gpu_info"]["plan"]["world_size"]
		expected = 2.5 * ws / 3600 / e["figures"]["output_throughput"] * 1e6
		assert e["objective_value"] == pytest.approx(expected)
		assert e["figures"]["cost_per_mtok"] == pytest.approx(expected)
	best = json.loads(cli("best", "cost-qwen", "--format", "json").stdout)
	cheapest = min(ok, key=lambda e: e["objective_value"])
	raw = max(ok, key=lambda e: e["figures"]["output_throughput"])  # the most tokens/s, whatever the GPUs
	assert best["number"] == cheapest["number"]
	assert best["gpu_info"]["plan"]["world_size"] < raw["gpu_info"]["plan"]["world_size"]
	assert best["objective_value"] < raw["figures"]["cost_per_mtok"]
	# the report shows why: the cost of each configuration beside its throughput
	report = cli("report", "cost-qwen", "--format", "md")
	assert report.returncode == 0, report.stderr
	assert "$/M out tok" in report.stdout and "per million output tokens at $2.5/GPU-hour" in report.stdout
	raw_ws = raw["gpu_info"]["plan"]["world_size"]
	assert (
		f"Why not the highest raw throughput: experiment {raw['number']} makes "
		f"{raw['figures']['output_throughput']:.4g} output tok/s on {raw_ws} GPU(s)"
	) in report.stdout
	assert f"on {best['gpu_info']['plan']['world_size']} GPU(s) (" in report.stdout

	# sizing: the fewest GPUs that serve 30 req/s within the SLOs
	sized = cli("best", "cost-qwen", "--target-rate", "30", "--format", "json")
	assert sized.returncode == 0, sized.stderr
	rows = json.loads(sized.stdout)
	assert rows and rows == sorted(rows, key=lambda r: (r["gpus"], -r["capacity"], r["number"]))
	for r in rows:
		assert r["replicas"] * r["capacity"] >= 30 - 1e-9 and (r["replicas"] - 1) * r["capacity"] < 30
		assert r["gpus"] == r["replicas"] * r["world_size"]
		assert r["cost_per_hour"] == pytest.approx(2.5 * r["gpus"])
	text = cli("best", "cost-qwen", "--target-rate", "30")
	assert f"on {rows[0]['gpus']} GPU(s)" in text.stdout


def test_price_per_gpu_type() -> None:
	"""cost.gpu_hour_usd_by_type: the task's hardware.gpu picks its price (case-insensitive), gpu_hour_usd prices the
	types it does not list; a cost objective without a price for the task's GPU is refused."""
	by_type = {"gpu_hour_usd_by_type": {"h100": 2.5, "H200": 3.8}}
	assert parse_spec(spec(cost=by_type)).cost.gpu_hour_usd == 3.8  # type: ignore[union-attr]
	h100 = parse_spec(spec(cost=by_type, hardware={"gpu": "H100", "gpu_count": 8}))
	assert h100.cost is not None and h100.cost.gpu_hour_usd == 2.5
	other = parse_spec(spec(cost={**by_type, "gpu_hour_usd": 1.9}, hardware={"gpu": "A100", "gpu_count": 8}))
	assert other.cost is not None and other.cost.gpu_hour_usd == 1.9
	with pytest.raises(SpecError, match="no price for hardware.gpu 'A100'"):
		parse_spec(spec(cost=by_type, hardware={"gpu": "A100", "gpu_count": 8}))
	with pytest.raises(SpecError, match="gpu_hour_usd_by_type"):
		parse_spec(spec(cost={}))
	with pytest.raises(SpecError):
		parse_spec(spec(cost={"gpu_hour_usd_by_type": {"H200": -1}}))
	# the report prices a stored spec the same way
	from inference_autotuner.reporting.collect import gpu_hour_price

	assert gpu_hour_price({"cost": by_type, "hardware": {"gpu": "h200"}}) == 3.8
	assert gpu_hour_price({"cost": by_type, "hardware": {"gpu": "H100"}}) == 2.5
	assert gpu_hour_price({"cost": by_type}) is None
	assert gpu_hour_price({"cost": by_type}, 4.0) == 4.0


@needs_predict
def test_cost_figures_use_the_price_of_the_tasks_gpu(tmp_path: Path) -> None:
	s = spec(
		task_name="cost-by-type",
		parameters={"max-num-seqs": [64]},
		parallel_config={"tp": [2]},
		cost={"gpu_hour_usd_by_type": {"H100": 2.5, "H200": 3.8}},
		optimization={"strategy": "grid_search", "objective": "minimize_cost_per_mtok", "max_iterations": 1},
	)
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(s))
	res = cli("tune", str(path))
	assert res.returncode == 0, res.stderr
	data = json.loads(cli("show", "cost-by-type", "--format", "json").stdout)
	ok = [e for e in data["experiments"] if e["status"] == "success"]
	assert ok
	for e in ok:
		ws = e["gpu_info"]["plan"]["world_size"]
		assert e["figures"]["cost_per_mtok"] == pytest.approx(3.8 * ws / 3600 / e["figures"]["output_throughput"] * 1e6)
	report = cli("report", "cost-by-type", "--format", "md")
	assert "per million output tokens at $3.8/GPU-hour" in report.stdout


@needs_predict
def test_cost_in_a_pareto_front(tmp_path: Path) -> None:
	"""Cost per million tokens against P90 TTFT: more GPUs answer sooner but cost more per token; the front keeps
	both ends, each point's cost equal to the formula on its own figures."""
	s = spec(
		task_name="cost-pareto",
		optimization={
			"strategy": "grid_search",
			"objectives": ["minimize_cost_per_mtok", "minimize_p90_ttft"],
			"max_iterations": 8,
			"repeat_top_k": 0,
			"warm_start": False,
		},
	)
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(s))
	res = cli("tune", str(path))
	assert res.returncode == 0, res.stderr
	front = json.loads(cli("pareto", "cost-pareto", "--format", "json").stdout)
	assert [o["name"] for o in front["objectives"]] == ["minimize_cost_per_mtok", "minimize_p90_ttft"]
	assert len(front["front"]) >= 2
	data = json.loads(cli("show", "cost-pareto", "--format", "json").stdout)
	by_number = {e["number"]: e for e in data["experiments"]}
	for p in front["front"]:
		e = by_number[p["number"]]
		ws = e["gpu_info"]["plan"]["world_size"]
		assert p["objective_values"][0] == pytest.approx(2.5 * ws / 3600 / e["figures"]["output_throughput"] * 1e6)
	points = sorted({(p["objective_values"][0], p["objective_values"][1]) for p in front["front"]})  # ties: one
	assert all(b[1] < a[1] for a, b in zip(points, points[1:], strict=False)), points  # cheaper answers later
