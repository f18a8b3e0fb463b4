"""`autotuner export --format vllm-sweep|genai-bench` (issue 22 part 6) on a real predicted multi-GPU tuning: the
folders parse back into the peers' shapes, read by vLLM's and genai-bench's own loaders (their venvs in .tools,
$AUTOTUNER_TOOLS_DIR) where installed; and GET /api/tasks/{id}/export answers the same as a zip."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from inference_autotuner.services.validate import parse_spec

REPO = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("AUTOTUNER_TOOLS_DIR") or REPO / ".tools")

pytestmark = pytest.mark.skipif(
	importlib.util.find_spec("aiconfigurator") is None, reason="the predict extra is not installed"
)

SPEC: dict[str, Any] = {
	"task_name": "export-qwen",
	"model": {"id_or_path": "Qwen/Qwen3-32B"},
	"base_runtime": "vllm",
	"deployment_mode": "predict",
	"hardware": {"gpu": "H200", "gpu_count": 8},
	"parameters": {"max-num-seqs": [32, 128]},
	"parallel_config": {"tp": [1, 2, 4]},
	"optimization": {"strategy": "grid_search", "max_iterations": 6, "repeat_top_k": 0, "warm_start": False},
	"benchmark": {"traffic_scenarios": ["D(2048,512)"], "num_concurrency": [16, 64]},
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
	return subprocess.run(
		[sys.executable, "-m", "inference_autotuner.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO
	)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
	"""A predicted tuning over tp 1/2/4 at two concurrency levels (a few seconds), its show --format json."""
	from inference_autotuner.runner.task import TaskRunner, get_or_create_task
	from inference_autotuner.store import Store

	d = tmp_path_factory.mktemp("export") / "data"
	mp = pytest.MonkeyPatch()
	mp.setenv("AUTOTUNER_DATA_DIR", str(d))
	try:
		store = Store()
		TaskRunner(store, get_or_create_task(store, parse_spec(SPEC))).run()
		shown = json.loads(cli("show", "export-qwen", "--format", "json").stdout)
	finally:
		mp.undo()
	return {"dir": d, "show": shown}


@pytest.fixture
def in_task(task: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
	monkeypatch.setenv("AUTOTUNER_DATA_DIR", str(task["dir"]))
	return task


def ok_runs(show: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
	return [(e, r) for e in show["experiments"] if e["status"] == "success" for r in e["runs"]]


VLLM_READER = """
import json, sys
from pathlib import Path
from vllm.benchmarks.sweep.param_sweep import ParameterSweep
from vllm.benchmarks.sweep.plot import _json_load_bytes
from vllm.benchmarks.sweep.plot_pareto import _prepare_records
out = Path(sys.argv[1])
sweep = ParameterSweep.read_json(out / "serve_params.json")
bench = ParameterSweep.read_json(out / "bench_params.json")
data = [r for p in sorted(out.rglob("**/summary.json")) for r in _json_load_bytes(p)]
prepared, skipped = _prepare_records(data, user_count_var="max_concurrency", gpu_count_var=None)
print(json.dumps({
    "serve": {item.name: item.apply_to_cmd(["vllm", "serve", "M"]) for item in sweep},
    "bench": [item.name for item in bench],
    "records": [{k: r[k] for k in ("autotuner_experiment", "gpu_count", "output_throughput", "tokens_per_gpu",
                "user_count_estimate", "run_number")} for r in prepared],
    "skipped": skipped,
}))
"""


def test_vllm_sweep_folder_is_read_by_vllms_own_sweep_code(in_task: dict[str, Any], tmp_path: Path) -> None:
	out = tmp_path / "sweep"
	res = cli("export", "export-qwen", "--format", "vllm-sweep", "-o", str(out))
	assert res.returncode == 0, res.stderr
	assert "PREDICTED" in res.stderr  # said, and marked in every record
	show = in_task["show"]
	runs = ok_runs(show)
	summaries = sorted(out.rglob("summary.json"))
	assert len(summaries) == len(runs)  # one folder per configuration and load level (no repeats here)
	by_exp = {e["number"]: e for e in show["experiments"]}
	records = [r for p in summaries for r in json.loads(p.read_text())]
	for rec in records:
		e = by_exp[rec["autotuner_experiment"]]
		run = next(r for r in e["runs"] if r["concurrency"] == rec["max_concurrency"])
		assert rec["output_throughput"] == pytest.approx(run["output_throughput"])
		assert rec["mean_ttft_ms"] == pytest.approx(run["ttft"]["mean"] * 1000)
		assert rec["p99_tpot_ms"] == pytest.approx(run["tpot"]["p99"] * 1000)
		assert rec.get("tensor_parallel_size", 1) == e["gpu_info"]["plan"]["parallel"]["tp"]  # the launched flag
		assert rec.get("max_num_seqs") == e["params"].get("max-num-seqs")  # absent for the baseline (defaults)
		assert rec["autotuner_predicted"] is True and rec["run_number"] == 0
	# vLLM's folder naming: SERVE--<serve name>-BENCH--<bench name>, one run=N.json per measurement
	for p in summaries:
		assert re.fullmatch(r"SERVE--exp\d+-BENCH--max_concurrency=\d+", p.parent.name), p.parent.name
		assert (p.parent / "run=0.json").is_file()

	python = TOOLS / "vllm" / "bin" / "python"
	if not python.is_file():
		pytest.skip(f"{python} missing: vLLM's own loader not checked (make .tools/vllm/.installed)")
	read = subprocess.run([str(python), "-c", VLLM_READER, str(out)], capture_output=True, text=True, timeout=300)
	assert read.returncode == 0, read.stderr[-3000:]
	got = json.loads(read.stdout)
	assert got["skipped"] == 0 and len(got["records"]) == len(runs)
	assert sorted(got["bench"]) == ["max_concurrency=16", "max_concurrency=64"]
	for rec in got["records"]:
		e = by_exp[rec["autotuner_experiment"]]
		# plot_pareto counts the GPUs from the serve flags: our world size
		assert rec["gpu_count"] == e["gpu_info"]["plan"]["world_size"]
		assert rec["tokens_per_gpu"] == pytest.approx(rec["output_throughput"] / rec["gpu_count"])
	# serve_params.json measures the same configurations again with `vllm bench sweep serve`
	for name, argv in got["serve"].items():
		e = by_exp[int(name.removeprefix("exp"))]
		tp = e["gpu_info"]["plan"]["parallel"]["tp"]
		if tp > 1:
			assert argv[argv.index("--tensor-parallel-size") + 1] == str(tp)
		if "max-num-seqs" in e["params"]:
			assert argv[argv.index("--max-num-seqs") + 1] == str(e["params"]["max-num-seqs"])


GENAI_READER = """
import json, sys
from genai_bench.analysis.experiment_loader import load_multiple_experiments
from genai_bench.analysis.plot_report import plot_experiment_data
folder, figs = sys.argv[1], sys.argv[2]
found = load_multiple_experiments(folder)
plot_experiment_data(found, "experiment_folder_name", figs)
print(json.dumps({
    "experiments": [
        {"folder": m.experiment_folder_name, "gpus": m.server_gpu_count, "scenarios": m.traffic_scenario,
         "runs": {f"{s}|{c}": {"tps": d["aggregated_metrics"].mean_output_throughput_tokens_per_s,
                                "ttft": d["aggregated_metrics"].stats.ttft.mean,
                                "rps": d["aggregated_metrics"].requests_per_second}
                  for s, by_c in r.items() for c, d in by_c.items()}}
        for m, r in found],
}))
"""


def test_genai_bench_folder_is_read_by_genai_benchs_loader_and_plots(in_task: dict[str, Any], tmp_path: Path) -> None:
	out = tmp_path / "genai"
	res = cli("export", "export-qwen", "--format", "genai-bench", "-o", str(out))
	assert res.returncode == 0, res.stderr
	show = in_task["show"]
	ok = [e for e in show["experiments"] if e["status"] == "success"]
	folders = sorted(p for p in out.iterdir() if p.is_dir())
	assert len(folders) == len(ok)
	meta = json.loads((folders[0] / "experiment_metadata.json").read_text())
	assert meta["num_concurrency"] == [16, 64] and meta["traffic_scenario"] == ["D(2048,512)"]
	assert "PREDICTED" in meta["cmd"] and meta["server_engine"] == "vLLM"
	files = sorted(p.name for p in folders[0].glob("D2048_512_text-to-text_num_concurrency_*_time_*s.json"))
	assert len(files) == 2, files

	python = TOOLS / "genai-bench" / "bin" / "python"
	if not python.is_file():
		pytest.skip(f"{python} missing: genai-bench's own loader not checked")
	figs = tmp_path / "figs"
	figs.mkdir()
	read = subprocess.run(
		[str(python), "-c", GENAI_READER, str(out), str(figs)], capture_output=True, text=True, timeout=300
	)
	assert read.returncode == 0, read.stderr[-3000:]
	got = json.loads(read.stdout)["experiments"]
	assert len(got) == len(ok)
	# genai-bench's plot report drawn from the export (its excel report needs per-request records: not exported)
	assert [p.suffix for p in figs.glob("*.png")] and all(p.stat().st_size > 1000 for p in figs.glob("*.png"))
	by_folder = {g["folder"]: g for g in got}
	for e in ok:
		g = by_folder[f"export-qwen_exp{e['number']}"]
		assert g["gpus"] == str(e["gpu_info"]["plan"]["world_size"])
		for r in e["runs"]:
			fig = g["runs"][f"{r['scenario']}|{r['concurrency']}"]
			assert fig["tps"] == pytest.approx(r["output_throughput"])
			assert fig["ttft"] == pytest.approx(r["ttft"]["mean"])  # seconds, genai-bench's unit
			assert fig["rps"] == pytest.approx(r["request_throughput"])


def test_export_bad_input_and_the_api_zip(in_task: dict[str, Any], tmp_path: Path) -> None:
	no_out = cli("export", "export-qwen", "--format", "vllm-sweep")
	assert no_out.returncode == 2 and "give -o FOLDER" in no_out.stderr
	bad = cli("export", "export-qwen", "--format", "parquet")
	assert bad.returncode == 2 and "unknown format 'parquet'" in bad.stderr
	(tmp_path / "full").mkdir()
	(tmp_path / "full" / "x").write_text("keep me")
	taken = cli("export", "export-qwen", "--format", "genai-bench", "-o", str(tmp_path / "full"))
	assert taken.returncode == 2 and "not an empty folder" in taken.stderr
	assert (tmp_path / "full" / "x").read_text() == "keep me"
	csv_text = cli("export", "export-qwen", "--format", "csv").stdout
	assert csv_text.startswith("number,status,origin,param:")

	from fastapi.testclient import TestClient

	from inference_autotuner.api import Settings, create_app

	task_id = in_task["show"]["id"]
	with TestClient(create_app(Settings(run_worker=False)), base_url="http://localhost") as client:
		r = client.get(f"/api/tasks/{task_id}/export", params={"format": "vllm-sweep"})
		assert r.status_code == 200, r.text
		assert r.headers["content-type"] == "application/zip"
		assert r.headers["content-disposition"] == 'attachment; filename="export-qwen-vllm-sweep.zip"'
		names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
		assert "export-qwen-vllm-sweep/serve_params.json" in names
		assert sum(n.endswith("/summary.json") for n in names) == len(ok_runs(in_task["show"]))
		c = client.get(f"/api/tasks/{task_id}/export", params={"format": "csv"})
		assert c.status_code == 200 and c.text.splitlines() == csv_text.splitlines()  # the CLI's, the same
		j = client.get(f"/api/tasks/{task_id}/export", params={"format": "json"})
		assert j.status_code == 200 and len(j.json()["experiments"]) == len(in_task["show"]["experiments"])
		assert client.get(f"/api/tasks/{task_id}/export", params={"format": "pdf"}).status_code == 422
		assert client.get("/api/tasks/99999/export").status_code == 404
