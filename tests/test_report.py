"""`autotuner report` and GET /api/tasks/{id}/report on real predicted tunings (aiconfigurator, the `predict` extra):
one self-contained file with its plots, opened in a real browser."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_autotuner.services.validate import parse_spec

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("AUTOTUNER_CHROMIUM", "/usr/bin/chromium"))

pytestmark = pytest.mark.skipif(
	importlib.util.find_spec("aiconfigurator") is None,
	reason="aiconfigurator is not installed (pip install -e '.[predict]')",
)


def predicted_spec(**over: Any) -> dict[str, Any]:
	spec: dict[str, Any] = {
		"task_name": "report-qwen",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [16, 64, 256]},
		"quant_config": {"kvcache_dtype": ["auto", "fp8"]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {"strategy": "grid_search", "max_iterations": 24, "repeat_top_k": 0, "warm_start": False},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [64]},
		"slo": {"tpot": {"threshold": 0.03, "hard_fail": True, "fail_ratio": 0.0}},
		"cost": {"gpu_hour_usd": 2.5},
	}
	spec.update(over)
	return spec


def run_task(spec: dict[str, Any]) -> int:
	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.store import Store

	store = Store()
	task_id = get_or_create_task(store, parse_spec(spec))
	TaskRunner(store, task_id).run()
	return task_id


def cli(*args: str) -> subprocess.CompletedProcess[str]:
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO
	)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
	"""One single-objective and one two-objective predicted task in one data dir (made once: ~20 s on 2 cores)."""
	d = tmp_path_factory.mktemp("report") / "data"
	mp = pytest.MonkeyPatch()
	mp.setenv("AUTOTUNER_DATA_DIR", str(d))
	try:
		single = run_task(predicted_spec())
		multi = run_task(
			predicted_spec(
				task_name="report-qwen-mo",
				optimization={
					"strategy": "nsga2",
					"objectives": ["maximize_throughput", "minimize_p90_ttft"],
					"max_iterations": 16,
					"seed": 1,
					"repeat_top_k": 0,
					"warm_start": False,
				},
			)
		)
	finally:
		mp.undo()
	return {"dir": d, "single": single, "multi": multi}


@pytest.fixture
def in_tasks(tasks: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
	monkeypatch.setenv("AUTOTUNER_DATA_DIR", str(tasks["dir"]))
	return tasks


def test_html_report_is_one_self_contained_file(in_tasks: dict[str, Any], tmp_path: Path) -> None:
	out = tmp_path / "r.html"
	res = cli("report", "report-qwen", "-o", str(out))
	assert res.returncode == 0, res.stderr
	text = out.read_text()
	# nothing fetched from anywhere: no script, stylesheet link, external image or font
	assert "<script" not in text
	assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
	assert "<link" not in text
	for section in ("question", "answer", "objective", "configurations", "importance", "failures", "launch"):
		assert f"id={section}" in text
	assert text.count("<svg") >= 3  # objective over experiments, per configuration, importance
	assert "Qwen/Qwen3-32B" in text and "8 x H200" in text
	assert "tpot mean &lt;= 30 ms (hard" in text  # the SLO, escaped
	assert "figures come from a performance model" in text
	assert "vllm serve Qwen/Qwen3-32B" in text  # the engine command of the recommendation
	assert "docker run" in text and "kind: Deployment" in text
	assert "per million output tokens at $2.5/GPU-hour" in text
	# failures are grouped: configurations over the TPOT SLO, whatever their measured figure
	assert "infeasible" in text and "violated a hard SLO" in text


def test_report_recommendation_is_the_summarys(in_tasks: dict[str, Any]) -> None:
	from inference_autotuner.reporting import collect
	from inference_autotuner.services.summary import task_summary
	from inference_autotuner.store import Store

	store = Store()
	data = collect(store, in_tasks["single"])
	summary = task_summary(store, in_tasks["single"])
	assert summary.recommended is not None and data.recommended is not None
	assert data.recommended["number"] == summary.recommended.number
	assert data.importance and set(data.importance) <= {"max-num-seqs", "__quant__kvcache_dtype", "__parallel__tp"}
	assert abs(sum(data.importance.values()) - 1.0) < 1e-6
	ok = [c for c in data.configs if c.n_ok]
	assert ok and ok[0].cost_per_mtok is not None
	# cost per million output tokens = price x GPUs / 3600 / output tokens per second x 1e6
	c = ok[0]
	expected = 2.5 * c.world_size / 3600 / c.figures["output_throughput"] * 1e6  # type: ignore[operator]
	assert c.cost_per_mtok == pytest.approx(expected)


def test_multi_objective_report_has_a_pareto_plot_and_markdown(in_tasks: dict[str, Any]) -> None:
	res = cli("report", "report-qwen-mo")
	assert res.returncode == 0, res.stderr
	assert "id=pareto" in res.stdout and "Pareto front" in res.stdout
	md = cli("report", "report-qwen-mo", "--format", "md")
	assert md.returncode == 0, md.stderr
	assert md.stdout.startswith("# Tuning report: report-qwen-mo")
	assert "## Pareto front" in md.stdout and "| # | parameters |" in md.stdout
	assert "<svg" not in md.stdout
	# parameter importance for the second objective too (the primary one's section comes first)
	assert "<h3>For minimize_p90_ttft</h3>" in res.stdout and "### For minimize_p90_ttft" in md.stdout
	bad = cli("report", "report-qwen-mo", "--format", "pdf")
	assert bad.returncode != 0 and "use html or md" in bad.stderr
	missing = cli("report", "no-such-task")
	assert missing.returncode != 0 and "no task named" in missing.stderr


def test_api_offers_the_report_as_a_download(in_tasks: dict[str, Any]) -> None:
	from fastapi.testclient import TestClient

	from inference_autotuner.api import Settings, create_app

	app = create_app(Settings(run_worker=False))
	with TestClient(app, base_url="http://localhost") as client:
		r = client.get(f"/api/tasks/{in_tasks['single']}/report", params={"format": "html"})
		assert r.status_code == 200, r.text
		assert r.headers["content-type"].startswith("text/html")
		assert 'attachment; filename="report-qwen-report.html"' == r.headers["content-disposition"]
		assert "default-src 'none'" in r.headers["content-security-policy"]
		assert "<svg" in r.text
		md = client.get(f"/api/tasks/{in_tasks['single']}/report", params={"format": "md"})
		assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
		assert client.get("/api/tasks/99999/report").status_code == 404
		assert client.get(f"/api/tasks/{in_tasks['single']}/report", params={"format": "pdf"}).status_code == 422


def test_browser_opens_the_report_offline_and_sees_its_plots(in_tasks: dict[str, Any], tmp_path: Path) -> None:
	if not CHROMIUM.exists():
		pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
	pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
	from playwright.sync_api import sync_playwright

	out = tmp_path / "report.html"
	assert cli("report", "report-qwen-mo", "-o", str(out)).returncode == 0
	args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
	requests: list[str] = []
	with sync_playwright() as pw:
		browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
		try:
			ctx = browser.new_context(offline=True)
			page = ctx.new_page()
			page.on("request", lambda req: requests.append(req.url))
			page.goto(out.as_uri())
			plots = page.locator("div.plot svg")
			assert plots.count() >= 4  # objective, Pareto, per configuration, importance
			for i in range(plots.count()):
				box = plots.nth(i).bounding_box()
				assert box is not None and box["width"] > 200 and box["height"] > 80
			# the plots carry their data: points of the objective plot, axis labels as text
			assert page.locator("#objective ~ div.plot svg text", has_text="experiment").count() >= 1
			assert page.get_by_text("Pareto front").first.is_visible()
		finally:
			browser.close()
	assert all(u.startswith("file://") for u in requests), requests


def test_report_of_a_task_without_experiments(tmp_path: Path) -> None:
	from inference_autotuner.runner.task import get_or_create_task
	from inference_autotuner.store import Store

	store = Store()
	get_or_create_task(store, parse_spec(predicted_spec(task_name="empty-task")))
	path = tmp_path / "spec.yaml"
	path.write_text(yaml.safe_dump(predicted_spec(task_name="empty-task")))
	res = cli("report", "empty-task")
	assert res.returncode == 0, res.stderr
	assert "No successful experiment" in res.stdout
	assert "no data to plot" in res.stdout
