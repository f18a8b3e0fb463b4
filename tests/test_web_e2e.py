"""End to end in a real browser: Debian's Chromium (Playwright, no browser download) against a real `autotuner serve`.

Creates a task through the wizard, watches it run 2 experiments live on the real llama.cpp engine, checks the
best-config card and a chart, opens an experiment's detail page, and cancels another task. Screenshots are saved in
the test's tmp dir (pytest prints where).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]

CHROMIUM = Path(os.environ.get("AUTOTUNER_CHROMIUM", "/usr/bin/chromium"))
DIST = REPO / "web" / "dist" / "index.html"
ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
]


@pytest.fixture
def server(data_dir: Path, tmp_path: Path) -> Iterator[str]:
	if not CHROMIUM.exists():
		pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
	pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
	if not DIST.exists():
		pytest.skip("web app not built: make web/dist (cd web && npm ci && npm run build)")
	from inference_autotuner.deploy.ports import free_port

	port = free_port()
	log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
	proc = subprocess.Popen(
		[sys.executable, "-m", "inference_autotuner.cli", "serve", "--port", str(port)],
		stdout=log,
		stderr=subprocess.STDOUT,
		env={**os.environ, "AUTOTUNER_DATA_DIR": str(data_dir)},
	)
	base = f"http://127.0.0.1:{port}"
	try:
		for _ in range(150):
			try:
				if httpx.get(f"{base}/api/system/health", timeout=1).status_code == 200:
					break
			except httpx.HTTPError:
				pass
			if proc.poll() is not None:
				pytest.fail(f"autotuner serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
			time.sleep(0.2)
		yield base
	finally:
		proc.terminate()
		try:
			proc.wait(timeout=20)
		except subprocess.TimeoutExpired:
			proc.kill()
		log.close()


@pytest.mark.engine
@pytest.mark.slow
def test_wizard_to_best_config_in_browser(server: str, model_path: Path, tmp_path: Path) -> None:
	from playwright.sync_api import expect, sync_playwright

	shots = tmp_path / "screenshots"
	shots.mkdir()
	with sync_playwright() as pw:
		browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
		page = browser.new_page(viewport={"width": 1400, "height": 1000})
		page.set_default_timeout(20_000)
		try:
			# The dashboard and the SPA fallback (a deep link answers the app).
			page.goto(f"{server}/")
			expect(page.get_by_text("Recent tasks")).to_be_visible()
			page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

			# The wizard: a 422 shown at its field first, then a valid task.
			page.goto(f"{server}/tasks/new")
			page.locator("input[name=task_name]").fill("web-e2e")
			page.locator("input[name=model]").fill(str(model_path))
			page.locator("input[name=concurrency]").fill("0")
			page.get_by_role("button", name="Create and start").click()
			expect(page.get_by_test_id("field-error").first).to_contain_text("concurrency")
			page.locator("input[name=scenarios]").fill("D(16,8)")
			page.locator("input[name=concurrency]").fill("1")
			expect(page.get_by_test_id("field-error")).to_have_count(0)  # edited: its problem is gone at once
			page.locator("input[name=max_requests]").fill("4")
			page.locator("input[name=warmup]").fill("1")
			page.locator("input[name=max_iterations]").fill("2")
			page.get_by_test_id("param-name-0").fill("parallel")
			page.get_by_test_id("param-values-0").fill("1, 2")
			expect(page.get_by_test_id("combinations")).to_contain_text("2 combinations")
			# The defaults add the baseline and the repeats; without them it stays a 2-experiment task.
			expect(page.locator("input[name=baseline]")).to_be_checked()
			# 2 search + baseline x3 (its noise floor) + 2 repeat rounds x (top 2 + baseline), as the API counts
			expect(page.get_by_test_id("planned")).to_contain_text("11 experiments will run")
			page.locator("input[name=baseline_flags]").fill("parallel=2")  # the baseline can be your current flags
			page.locator("input[name=baseline]").uncheck()
			expect(page.locator("input[name=baseline_flags]")).to_be_disabled()
			page.locator("input[name=repeats]").fill("0")
			expect(page.get_by_test_id("planned")).to_contain_text("2 experiments will run")
			page.screenshot(path=str(shots / "wizard.png"), full_page=True)
			page.get_by_role("button", name="Create and start").click()
			page.wait_for_url(re.compile(r"/tasks/\d+$"))

			# Live: the table fills, the task completes, the best config and the charts appear.
			expect(page.get_by_text("● live")).to_be_visible()
			expect(page.get_by_test_id("progress")).to_contain_text("2 of 2", timeout=180_000)
			expect(page.get_by_test_id("status").first).to_have_text("completed", timeout=60_000)
			expect(page.get_by_test_id("experiment-table").locator("tbody tr")).to_have_count(2)
			expect(page.get_by_test_id("experiment-table").get_by_test_id("origin")).to_have_text(["search", "search"])
			expect(page.get_by_test_id("best-config")).to_be_visible()
			expect(page.get_by_test_id("launch-command")).to_contain_text("--parallel")
			expect(page.get_by_test_id("chart-objective").locator("svg").first).to_be_visible()
			expect(page.get_by_test_id("chart-pareto").locator("svg").first).to_be_visible()
			expect(page.get_by_test_id("chart-tpot").locator("svg").first).to_be_visible()  # TPOT on its own axis
			# What mattered: two trials are too few for importance (the API's note), the slice shows both values
			expect(page.get_by_text("too few to judge parameter importance")).to_be_visible()
			expect(page.get_by_test_id("chart-slice")).to_have_attribute("data-param", "parallel")
			expect(page.get_by_test_id("chart-slice")).to_have_attribute("data-points", "2")
			expect(page.get_by_test_id("task-log")).to_contain_text("experiment")
			page.screenshot(path=str(shots / "task_detail.png"), full_page=True)

			# Experiment detail: argv, runs per concurrency level.
			page.get_by_test_id("experiment-table").get_by_role("link").first.click()
			expect(page.get_by_test_id("experiment-title")).to_contain_text("Experiment 1")
			expect(page.get_by_test_id("argv")).to_contain_text("--parallel")
			expect(page.get_by_test_id("runs-table").locator("tbody tr")).to_have_count(1)
			page.screenshot(path=str(shots / "experiment_detail.png"), full_page=True)

			# Cancel another task from the task list.
			spec = {
				"task_name": "web-e2e-cancel",
				"model": {"id_or_path": str(model_path)},
				"base_runtime": "llamacpp",
				"parameters": {"parallel": [1, 2, 4]},
				"optimization": {
					"baseline": False,
					"repeat_top_k": 0,
					"warm_start": False,
					"strategy": "grid_search",
					"max_iterations": 3,
				},
				"benchmark": {
					"traffic_scenarios": ["D(16,64)"],
					"num_concurrency": [1],
					"max_requests_per_iteration": 50,
				},
			}
			r = httpx.post(f"{server}/api/tasks/?start=true", json=spec, timeout=10)
			assert r.status_code == 201, r.text
			page.goto(f"{server}/tasks")
			row = page.get_by_test_id("task-table").locator("tr", has_text="web-e2e-cancel")
			row.get_by_role("button", name="Cancel").click()
			expect(row.get_by_test_id("status")).to_have_text("cancelled", timeout=60_000)
			done = page.get_by_test_id("task-table").locator(
				"tr", has=page.get_by_role("link", name="web-e2e", exact=True)
			)
			expect(done).to_contain_text("2 of 2")
			expect(done.get_by_test_id("task-best")).to_contain_text("/GPU")  # throughput objective, with its unit
			page.screenshot(path=str(shots / "tasks.png"), full_page=True)

			# Compare the two tasks side by side.
			page.get_by_label("compare web-e2e", exact=True).check()
			page.get_by_label("compare web-e2e-cancel", exact=True).check()
			page.get_by_role("button", name="Compare (2)").click()
			compare = page.get_by_test_id("compare-table")
			expect(compare.get_by_role("link", name="web-e2e", exact=True)).to_be_visible()
			expect(compare.get_by_role("link", name="web-e2e-cancel")).to_be_visible()
			expect(compare.locator("tr", has_text="Recommended objective")).to_contain_text("/GPU")
			page.screenshot(path=str(shots / "compare.png"), full_page=True)

			# The dashboard's timeline: a lane per task, the finished experiments as bars.
			page.goto(f"{server}/")
			timeline = page.get_by_test_id("timeline")
			expect(timeline.get_by_role("link", name="web-e2e", exact=True)).to_be_visible()
			expect(timeline.locator("[data-testid=timeline-bar][data-status=success]")).to_have_count(2)
			page.screenshot(path=str(shots / "dashboard_timeline.png"), full_page=True)
		finally:
			browser.close()
	print(f"screenshots in {shots}")


def test_wizard_presets_are_accepted_and_flags_previewed(server: str, tmp_path: Path) -> None:
	"""Issue 14: ticking a quantization and a parallel preset used to send the stored preset names and get a 422.
	The wizard sends the names a spec takes; its preview lists each configuration's argv as the API maps it."""
	from playwright.sync_api import expect, sync_playwright

	with sync_playwright() as pw:
		browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
		page = browser.new_page(viewport={"width": 1400, "height": 1400})
		page.set_default_timeout(20_000)
		task_id = None
		try:
			page.goto(f"{server}/tasks/new")
			page.locator("input[name=task_name]").fill("web-presets")
			page.locator("select[name=engine]").select_option("vllm")
			page.locator("input[name=model]").fill("Qwen/Qwen2.5-0.5B")  # a name only: nothing is downloaded
			page.get_by_test_id("param-name-0").fill("max-num-seqs")
			page.get_by_test_id("param-values-0").fill("8, 16")
			for card, preset in (("Quantization", "kv-cache-fp8"), ("Parallelism", "high-throughput")):
				section = page.locator("section", has=page.get_by_role("heading", name=card, exact=True))
				section.get_by_label("preset", exact=True).check()
				section.get_by_label(f"{card} preset {preset}").check()

			# The live preview: what the API maps each configuration to (debounced after the last edit).
			preview = page.get_by_test_id("flags-preview")
			expect(page.get_by_test_id("flags-preview-summary")).to_contain_text("2 of 2 configurations")
			row = preview.get_by_test_id("preview-argv").filter(has_text="--max-num-seqs 16")
			expect(row).to_contain_text("--kv-cache-dtype fp8")
			expect(row).to_contain_text("--data-parallel-size 4")
			page.screenshot(path=str(tmp_path / "wizard_presets.png"), full_page=True)

			with page.expect_response(lambda r: "/api/tasks/" in r.url and r.request.method == "POST") as created:
				page.get_by_role("button", name="Create and start").click()
			response = created.value
			assert response.status == 201, response.text()
			task = response.json()
			task_id = task["id"]
			assert task["status"] in ("queued", "running"), task
			page.wait_for_url(re.compile(rf"/tasks/{task_id}$"))
			stored = httpx.get(f"{server}/api/tasks/{task_id}", timeout=10).json()
			assert stored["spec"]["quant_config"] == {"presets": ["kv-cache-fp8"]}
			assert stored["spec"]["parallel_config"] == {"presets": ["high-throughput"]}
		finally:
			if task_id is not None:  # it cannot run here (no vLLM): stop it
				httpx.post(f"{server}/api/tasks/{task_id}/cancel", timeout=30)
			browser.close()


def test_task_page_what_mattered_and_report_download(server: str, tmp_path: Path) -> None:
	"""Issue 22 on a predicted two-objective tuning (aiconfigurator: seconds, no engine): the What mattered card's
	parallel coordinates (a line per measured experiment), its objective picker (the second objective's importance
	asked for), and the Report button: the file it downloads opens offline and shows its plots."""
	if importlib.util.find_spec("aiconfigurator") is None:
		pytest.skip("the predict extra is not installed")
	from playwright.sync_api import expect, sync_playwright

	spec = {
		"task_name": "web-report",
		"model": {"id_or_path": "Qwen/Qwen3-32B"},
		"base_runtime": "vllm",
		"deployment_mode": "predict",
		"hardware": {"gpu": "H200", "gpu_count": 8},
		"parameters": {"max-num-seqs": [16, 64, 256]},
		"parallel_config": {"tp": [1, 2, 4, 8]},
		"optimization": {
			"strategy": "grid_search",
			"objectives": ["maximize_throughput", "minimize_p90_ttft"],
			"max_iterations": 12,
			"repeat_top_k": 0,
			"warm_start": False,
		},
		"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [64]},
	}
	r = httpx.post(f"{server}/api/tasks/?start=true", json=spec, timeout=30)
	assert r.status_code == 201, r.text
	task_id = r.json()["id"]
	for _ in range(300):
		task = httpx.get(f"{server}/api/tasks/{task_id}", timeout=10).json()
		if task["status"] in ("completed", "failed", "cancelled"):
			break
		time.sleep(0.5)
	assert task["status"] == "completed", task
	measured = [
		e for e in httpx.get(f"{server}/api/experiments/task/{task_id}", timeout=10).json() if e["status"] == "success"
	]
	with sync_playwright() as pw:
		browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
		try:
			page = browser.new_page(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
			page.set_default_timeout(20_000)
			page.goto(f"{server}/tasks/{task_id}")
			parallel = page.get_by_test_id("chart-parallel")
			expect(parallel).to_have_attribute("data-lines", str(len(measured)))
			expect(parallel.locator(".recharts-line-curve")).to_have_count(len(measured))
			assert (parallel.get_attribute("data-axes") or "").endswith("Throughput per GPU (tok/s/GPU)")
			with page.expect_request(lambda q: "objective=minimize_p90_ttft" in q.url):
				page.get_by_label("Objective", exact=True).select_option("1")
			expect(page.get_by_test_id("chart-parallel")).to_have_attribute(
				"data-axes", re.compile(r"p90 TTFT \(ms\)$")
			)
			page.screenshot(path=str(tmp_path / "what_mattered.png"), full_page=True)
			with page.expect_download() as dl:
				page.get_by_test_id("report-link").click()
			saved = tmp_path / "downloaded-report.html"
			dl.value.save_as(saved)
			assert dl.value.suggested_filename == "web-report-report.html"
			# Export: the vLLM sweep folder as a zip, read back as vLLM's sweep code reads it (every summary.json)
			page.get_by_test_id("export-menu").locator("summary").click()
			with page.expect_download() as zdl:
				page.get_by_test_id("export-vllm-sweep").click()
			assert zdl.value.suggested_filename == "web-report-vllm-sweep.zip"
			zpath = tmp_path / "sweep.zip"
			zdl.value.save_as(zpath)
			with zipfile.ZipFile(zpath) as zf:
				summaries = [n for n in zf.namelist() if n.endswith("/summary.json")]
				assert len(summaries) == len(measured)  # one load level: a folder per configuration
				assert all(json.loads(zf.read(n))[0]["output_throughput"] > 0 for n in summaries)
			offline = browser.new_context(offline=True).new_page()
			offline.goto(saved.as_uri())
			plots = offline.locator("div.plot svg")
			assert plots.count() >= 4  # objective, Pareto, per configuration, importance
			box = plots.first.bounding_box()
			assert box is not None and box["width"] > 200 and box["height"] > 80
			expect(offline.get_by_role("heading", name="For minimize_p90_ttft")).to_be_visible()
		finally:
			browser.close()


def _client(monkeypatch: pytest.MonkeyPatch, dist: Path):  # type: ignore[no-untyped-def]
	from fastapi.testclient import TestClient

	from inference_autotuner.api import Settings, create_app

	monkeypatch.setenv("AUTOTUNER_WEB_DIST", str(dist))
	return TestClient(create_app(Settings(run_worker=False)), base_url="http://localhost")


def test_serves_built_app_with_spa_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
	dist = tmp_path / "dist"
	(dist / "assets").mkdir(parents=True)
	(dist / "index.html").write_text("<html>app</html>")
	(dist / "assets" / "app.js").write_text("console.log(1)")
	(tmp_path / "secret.txt").write_text("secret")
	with _client(monkeypatch, dist) as c:
		assert c.get("/").text == "<html>app</html>"
		assert c.get("/tasks/3/experiments/4").text == "<html>app</html>"  # deep link: the app routes it
		r = c.get("/assets/app.js")
		assert r.text == "console.log(1)" and "immutable" in r.headers["cache-control"]
		assert c.get("/assets/missing.js").status_code == 404
		assert "secret" not in c.get("/..%2Fsecret.txt").text
		r = c.get("/api/nope")
		assert r.status_code == 404 and r.json()["detail"] == "no API route /api/nope"
		r = c.get("/api/tasks", follow_redirects=False)  # the trailing-slash redirect still works
		assert r.status_code == 307 and r.headers["location"].endswith("/api/tasks/")
		assert c.get("/api/tasks/").json() == []
		assert "/{path}" not in str(c.get("/openapi.json").json()["paths"])


def test_missing_build_answers_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
	with _client(monkeypatch, tmp_path / "nothing") as c:
		r = c.get("/")
		assert r.status_code == 503 and "make web/dist" in r.text
		assert c.get("/api/system/health").status_code == 200
