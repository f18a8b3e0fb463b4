"""The quality guardrail's figures where people read results: `autotuner show`, `best` (also the end of `tune`),
`export` (csv, json), the API and the HTML/Markdown report. The task holds the rows a tuning stores (the real
tunings are tests/test_quality_llamacpp.py and tests/test_quality_vllm.py): the baseline is the reference, a faster
q4_0 K cache failed the guardrail, a q8_0 K cache passed and is recommended."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from inference_autotuner.api import Settings, create_app
from inference_autotuner.cli import app
from inference_autotuner.reporting import build_report
from inference_autotuner.store import Experiment, Store, Task

REASON = "quality: top-1 agreement 0.8846 < 0.95; KL 0.02413 > 0.01"
# (number, K cache, origin, status, output tokens/s, top-1, KL, exact)
ROWS = [
	(1, "f16", "baseline", "success", 10.0, 1.0, 0.0, 1.0),
	(2, "q4_0", "search", "infeasible", 12.5, 0.8846, 0.02413, 0.25),
	(3, "q8_0", "search", "success", 11.0, 0.9905, 0.00257, 0.875),
]


def seed(store: Store) -> int:
	spec: dict[str, Any] = {
		"task_name": "quality-shown",
		"model": {"id_or_path": "smollm2"},
		"base_runtime": "llama.cpp",
		"parameters": {"cache-type-k": ["q8_0", "q4_0"], "flash-attn": "on"},
		"optimization": {"strategy": "grid_search", "max_iterations": 2, "repeat_top_k": 0, "warm_start": False},
		"quality": {"min_top1_agreement": 0.95, "max_kl": 0.01},
	}
	with store.session() as s:
		task = Task(
			name="quality-shown",
			spec=spec,
			engine="llamacpp",
			deployment_mode="local",
			status="completed",
			study_name="study-quality-shown",
		)
		s.add(task)
		s.flush()
		for number, cache, origin, status, tps, top1, kl, exact in ROWS:
			params = {"cache-type-k": cache, "flash-attn": "on"}
			figures = {"output_throughput": tps, "per_gpu_throughput": tps, "mean_ttft": 0.2, "mean_tpot": 0.1}
			figures |= {"quality_top1": top1, "quality_kl": kl, "quality_exact": exact, "quality_accuracy": None}
			figures["quality_probe_seconds"] = 2.0 + number / 10
			s.add(
				Experiment(
					task_id=task.id,
					number=number,
					params=params,
					params_key=json.dumps(params, sort_keys=True),
					status=status,
					origin=origin,
					objective_value=tps,
					objective_values=[tps],
					score=-tps if status == "success" else None,
					failure_reason=REASON if status == "infeasible" else None,
					figures=figures,
					launch_command=f"llama-server --cache-type-k {cache} --flash-attn on",
					duration=30.0,
				)
			)
		return task.id


def cli(*args: str) -> str:
	result = CliRunner().invoke(app, list(args), env={"COLUMNS": "240"})
	assert result.exit_code == 0, result.stdout
	return result.stdout


def test_show_and_best_give_the_figures_and_why_the_faster_configuration_is_not_recommended() -> None:
	seed(Store())
	show = cli("show", "quality-shown")
	assert "top-1" in show and "KL" in show
	assert "0.885" in show and "0.0241" in show and "0.991" in show and "1.000" in show  # every row, infeasible too
	assert f"#2 infeasible: {REASON}" in show
	rejected = f"experiment 2 scores higher (12.5 vs 11) but is not recommended: {REASON}"
	for text in (show, cli("best", "quality-shown")):  # `tune` ends with the same lines (cli/tasks._print_best)
		assert "best configuration (experiment 3)" in text, text
		assert "quality vs reference: top-1 0.991, KL 0.0026 nats, exact 0.875 (probe 2.3 s)" in text
		assert rejected in " ".join(text.split()), text
	best = json.loads(cli("best", "quality-shown", "--format", "json"))
	assert best["number"] == 3 and best["figures"]["quality_kl"] == 0.00257


def test_export_csv_and_json_carry_the_figures() -> None:
	seed(Store())
	rows = {r["number"]: r for r in csv.DictReader(io.StringIO(cli("export", "quality-shown", "--format", "csv")))}
	assert float(rows["2"]["quality_top1"]) == 0.8846 and float(rows["2"]["quality_kl"]) == 0.02413
	assert float(rows["3"]["quality_probe_seconds"]) == 2.3 and rows["2"]["status"] == "infeasible"
	exported = json.loads(cli("export", "quality-shown", "--format", "json"))
	found = exported["experiments"] if isinstance(exported, dict) else exported
	by_number = {e["number"]: e for e in found}
	assert by_number[2]["figures"]["quality_exact"] == 0.25 and by_number[1]["figures"]["quality_top1"] == 1.0


def test_the_api_gives_the_figures_and_the_recommendation() -> None:
	task_id = seed(Store())
	with TestClient(create_app(Settings(run_worker=False)), base_url="http://localhost") as client:
		experiments = client.get(f"/api/experiments/task/{task_id}").json()
		summary = client.get(f"/api/tasks/{task_id}/summary").json()
		one = client.get(f"/api/experiments/{experiments[1]['id']}").json()
	assert [e["figures"]["quality_top1"] for e in experiments] == [1.0, 0.8846, 0.9905]
	assert one["failure_reason"] == REASON and one["figures"]["quality_kl"] == 0.02413
	assert summary["recommended"]["number"] == 3
	# the faster configuration the guardrail rejected, in the summary the web card and the CLI both read
	assert summary["quality_rejections"] == [
		f"experiment 2 scores higher (12.5 vs 11) but is not recommended: {REASON}"
	]


def test_the_report_has_a_quality_column_and_says_why_not_the_faster_configuration() -> None:
	task_id = seed(Store())
	for fmt in ("html", "md"):
		text = build_report(Store(), task_id, fmt)
		assert "quality: top-1" in text and "quality: KL (nats)" in text, fmt
		assert "| 2 | search | q4_0 | 0 | 1 | 12.5 |" in markdown_rows(text) or fmt == "html"
		assert "<td>q4_0</td><td>0</td><td>1</td><td>12.5</td>" in text or fmt == "md"
		assert "0.885" in text and "0.0241" in text and "0.991" in text, fmt  # the infeasible one's too
		assert "Quality vs reference: top-1 0.991, KL 0.0026 nats" in text, fmt
		assert "experiment 2 scores higher (12.5 vs 11) but is not recommended: quality: top-1 agreement" in text, fmt


def markdown_rows(text: str) -> str:
	return "\n".join(line for line in text.splitlines() if line.startswith("| "))
