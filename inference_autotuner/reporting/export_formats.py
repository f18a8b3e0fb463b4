"""`autotuner export TASK --format csv|json|vllm-sweep|genai-bench` (and GET /api/tasks/{id}/export): a task's
results in formats other tools read.

- csv / json: one row per experiment / everything `autotuner show --format json` gives (one file).
- vllm-sweep: the folder `vllm bench sweep serve` writes and `vllm bench sweep plot` / `plot_pareto` read: one
  `SERVE--<config>-BENCH--<load>/summary.json` per configuration and load level, a list with one record per
  measurement (`run_number` 0, 1, ... for repeats; also as `run=N.json`) carrying `vllm bench serve`'s result keys
  (output_throughput, request_throughput, mean/median/pNN _ttft_ms, _tpot_ms, _itl_ms, _e2el_ms, ...) merged with the
  serve parameters (the engine flags the configuration launched with, `max_num_seqs`, `tensor_parallel_size`, ...)
  and the bench parameters (`max_concurrency` or `request_rate`), as vLLM's sweep merges them; plus
  `serve_params.json` and `bench_params.json` to measure the same configurations again with vLLM's own sweep.
- genai-bench: a folder of genai-bench experiment folders, one per successful experiment, each with
  `experiment_metadata.json` and one `<scenario>_text-to-text_num_concurrency_<c>_time_<t>s.json` per run holding
  `aggregated_metrics` (genai-bench's AggregatedMetrics, seconds); its `excel` and `plot` commands read them.
  `individual_request_metrics` is empty: the store keeps each run's aggregated figures, not its requests.

Field names are those of vLLM 0.x's vllm/benchmarks/sweep and genai-bench's protocol.py / metrics.py as installed in
.tools (tests/test_export_formats.py reads the files back with both tools' own loaders)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import AutotunerError
from ..store import Store

FORMATS = ("csv", "json", "vllm-sweep", "genai-bench")
FOLDER_FORMATS = ("vllm-sweep", "genai-bench")
LATENCIES = (("ttft", "ttft"), ("tpot", "tpot"), ("itl", "itl"), ("e2e", "e2el"))  # ours -> vLLM's metric name
# our Stats key -> vLLM's prefix (mean_ttft_ms, median_ttft_ms, p99_ttft_ms, ...)
STAT_KEYS = (("mean", "mean"), ("p50", "median"), ("p50", "p50"), ("p90", "p90"), ("p95", "p95"), ("p99", "p99"))


class ExportError(AutotunerError):
	exit_code = 2
	http_status = 422


@dataclass
class Export:
	"""What an export writes: text files by relative path (one, named after the task, for csv/json)."""

	files: dict[str, str]
	notes: list[str] = field(default_factory=list)
	folder: bool = False


def to_csv(rows: list[dict[str, Any]]) -> str:
	"""One row per experiment: number, status, origin, every parameter, objective, score, every figure, ..."""
	params = sorted({k for r in rows for k in r["params"]})
	figures = sorted({k for r in rows for k in (r["figures"] or {})})
	buf = io.StringIO()
	w = csv.writer(buf)
	w.writerow(
		[
			"number",
			"status",
			"origin",
			*[f"param:{p}" for p in params],
			"objective_value",
			"score",
			*figures,
			"duration",
			"saved_seconds",
			"predicted",
			"failure_reason",
		]
	)
	for r in rows:
		fig = r["figures"] or {}
		w.writerow(
			[
				r["number"],
				r["status"],
				r.get("origin", ""),
				*[r["params"].get(p, "") for p in params],
				r["objective_value"],
				r["score"],
				*[fig.get(f, "") for f in figures],
				r.get("duration"),
				r.get("saved_seconds"),
				bool(r.get("predicted")),
				r["failure_reason"] or "",
			]
		)
	return buf.getvalue()


def build_export(store: Store, ref: str | int, fmt: str) -> Export:
	"""The export of task `ref` (name or id) in `fmt`."""
	from ..paths import safe_name
	from ..services.summary import task_data

	if fmt not in FORMATS:
		raise ExportError(f"unknown export format '{fmt}'", hint="use " + ", ".join(FORMATS))
	data, _summary, _best = task_data(store, ref)  # what `show --format json` prints
	name = safe_name(data["name"])
	if fmt == "csv":
		return Export({f"{name}.csv": to_csv(data["experiments"])})
	if fmt == "json":
		return Export({f"{name}.json": json.dumps(data, indent=2, default=str) + "\n"})
	spec = dict(data["spec"])
	export = vllm_sweep(data, spec) if fmt == "vllm-sweep" else genai_bench(data, spec)
	if not export.files:
		raise ExportError(f"task '{data['name']}' has no successful run to export as {fmt}")
	return export


def write_folder(export: Export, out: Path) -> None:
	"""Write a folder export under `out` (made; refused when it exists and is not empty)."""
	if out.exists() and (not out.is_dir() or any(out.iterdir())):
		raise ExportError(f"{out} exists and is not an empty folder", hint="give -o a new folder")
	for rel, text in export.files.items():
		path = out / rel
		path.parent.mkdir(parents=True, exist_ok=True)
		path.write_text(text)


def zip_bytes(export: Export, root: str) -> bytes:
	"""A folder export as one zip archive, its files under `root/`."""
	buf = io.BytesIO()
	with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
		for rel, text in sorted(export.files.items()):
			zf.writestr(f"{root}/{rel}", text)
	return buf.getvalue()


def _runs(exp: dict[str, Any]) -> list[dict[str, Any]]:
	return [r for r in exp.get("runs") or [] if isinstance(r, dict) and (r.get("completed") or 0) > 0]


def _num(v: Any) -> float | None:
	return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _model(spec: dict[str, Any]) -> str:
	m = spec.get("model") or {}
	return str(m.get("id_or_path") or m.get("name") or "")


def _serve_params(spec_dict: dict[str, Any], params: dict[str, Any], notes: list[str]) -> dict[str, Any]:
	"""The engine flags a configuration launched with (its launch plan: __quant__/__parallel__ dimensions become the
	engine's own flags), keyed as vLLM's sweep files write them (underscores)."""
	from ..engines import get_engine
	from ..engines.plan import hardware_for, plan_launch
	from ..spec.models import TaskSpec

	try:
		spec = TaskSpec.model_validate(spec_dict)
		plan = plan_launch(get_engine(spec.base_runtime), params, model_ref=spec.model.ref, hardware=hardware_for(spec))
		flags = dict(plan.flags)
	except Exception as exc:  # noqa: BLE001 - a stored spec that no longer validates: the stored parameters
		notes.append(f"the launch plan could not be made again ({type(exc).__name__}); serve params are the raw ones")
		flags = {k: v for k, v in params.items() if not k.startswith("__") and not k.startswith("env:")}
	return {k.lstrip("-").replace("-", "_"): v for k, v in sorted(flags.items())}


def _sanitize(name: str) -> str:
	"""vLLM's sweep sanitize_filename."""
	return name.replace("/", "_").replace("..", "__").strip("'").strip('"')


def _vllm_run(run: dict[str, Any], exp: dict[str, Any], data: dict[str, Any], model: str) -> dict[str, Any]:
	"""One measurement as `vllm bench serve --save-result` writes it (the keys we have the figures for)."""
	out: dict[str, Any] = {
		"date": (data.get("created_at") or "")[:19].replace("-", "").replace(":", "").replace("T", "-"),
		"backend": "inference-autotuner",
		"label": f"{data['name']} experiment {exp['number']}",
		"model_id": model,
		"tokenizer_id": model,
		"num_prompts": run.get("total_requests"),
		"request_rate": run.get("request_rate") if run.get("request_rate") is not None else "inf",
		"burstiness": 1.0,
		"max_concurrency": run.get("concurrency"),
		"duration": run.get("duration"),
		"completed": run.get("completed"),
		"failed": run.get("errored"),
		"total_input_tokens": run.get("input_tokens"),
		"total_output_tokens": run.get("output_tokens"),
		"request_throughput": run.get("request_throughput"),
		"request_goodput": run.get("goodput"),
		"output_throughput": run.get("output_throughput"),
		"total_token_throughput": run.get("total_throughput"),
	}
	for ours, theirs in LATENCIES:
		stats = run.get(ours) or {}
		for key, name in STAT_KEYS:
			value = _num(stats.get(key))
			if value is not None:
				out[f"{name}_{theirs}_ms"] = value * 1000
	out["scenario"] = run.get("scenario")
	out["autotuner_experiment"] = exp["number"]
	out["autotuner_predicted"] = bool(run.get("predicted") or exp.get("predicted"))
	return out


def vllm_sweep(data: dict[str, Any], spec: dict[str, Any]) -> Export:
	"""The folder `vllm bench sweep serve` would have written for these configurations and load levels."""
	notes: list[str] = []
	model = _model(spec)
	groups: dict[str, list[dict[str, Any]]] = {}
	for e in data["experiments"]:
		if e["status"] == "success" and _runs(e):
			groups.setdefault(json.dumps(e["params"], sort_keys=True, default=str), []).append(e)
	serve_params: dict[str, dict[str, Any]] = {}
	bench_params: dict[str, dict[str, Any]] = {}
	files: dict[str, str] = {}
	for exps in groups.values():
		serve_name = f"exp{exps[0]['number']}"
		serve = _serve_params(spec, exps[0]["params"], notes)
		serve_params[serve_name] = serve
		by_bench: dict[str, list[dict[str, Any]]] = {}
		for e in exps:
			for run in _runs(e):
				if run.get("concurrency") is not None:
					bench = {"max_concurrency": run["concurrency"]}
				else:
					bench = {"request_rate": run.get("request_rate")}
				if len(spec.get("benchmark", {}).get("traffic_scenarios") or []) > 1:
					bench["scenario"] = run.get("scenario")
				bench_name = "-".join(f"{k}={v}" for k, v in bench.items())
				bench_params[bench_name] = bench
				record = _vllm_run(run, e, data, model)
				record = {**record, "_benchmark_name": serve_name, **serve, **bench}
				by_bench.setdefault(bench_name, []).append(record)
		for bench_name, records in by_bench.items():
			folder = _sanitize(f"SERVE--{serve_name}-BENCH--{bench_name}")
			for i, record in enumerate(records):
				record["run_number"] = i
				files[f"{folder}/run={i}.json"] = json.dumps(record, indent=4) + "\n"
			files[f"{folder}/summary.json"] = json.dumps(records, indent=4) + "\n"
	if files:
		files["serve_params.json"] = json.dumps(serve_params, indent=4) + "\n"
		files["bench_params.json"] = json.dumps(list(bench_params.values()), indent=4) + "\n"
	if data["engine"] != "vllm":
		notes.append(f"serve_params.json holds {data['engine']} flags: `vllm bench sweep serve` cannot launch them")
	if data.get("predicted"):
		notes.append("the figures are PREDICTED (aiconfigurator), marked autotuner_predicted in every record")
	return Export(files, notes, folder=True)


def _genai_scenario_file(scenario: str) -> str:
	"""genai-bench's file-name form of a scenario: D(100,100) -> D100_100 (bench/drivers/genai_bench.py)."""
	return scenario.replace("/", "_").replace(",", "_").replace("(", "").replace(")", "")


def _stat_field(stats: dict[str, Any] | None) -> dict[str, float | None]:
	s = stats or {}
	return {k: _num(s.get(k)) for k in ("min", "max", "mean", "p50", "p90", "p95", "p99")}


def _genai_aggregated(run: dict[str, Any]) -> dict[str, Any]:
	duration = _num(run.get("duration")) or 0.0
	completed = int(run.get("completed") or 0)
	errored = int(run.get("errored") or 0)
	stats: dict[str, dict[str, float | None]] = {
		"ttft": _stat_field(run.get("ttft")),
		"tpot": _stat_field(run.get("tpot")),
		"e2e_latency": _stat_field(run.get("e2e")),
	}
	tpot = run.get("tpot") or {}
	speed: dict[str, float | None] = {k: 1.0 / v for k, v in ((k, _num(tpot.get(k))) for k in ("mean", "p50")) if v}
	for theirs, ours in (("min", "max"), ("max", "min")):
		v = _num(tpot.get(ours))
		if v:
			speed[theirs] = 1.0 / v
	# genai-bench's output_inference_speed is 1 / TPOT per request; from aggregated TPOT its mean is 1 / mean TPOT
	# (a lower bound of the per-request mean), its min/max/median exact
	stats["output_inference_speed"] = speed
	if completed:
		stats["num_input_tokens"] = {"mean": (run.get("input_tokens") or 0) / completed}
		stats["num_output_tokens"] = {"mean": (run.get("output_tokens") or 0) / completed}
	output_tps = _num(run.get("output_throughput")) or 0.0
	total_tps = _num(run.get("total_throughput")) or 0.0
	return {
		"scenario": run.get("scenario"),
		"num_concurrency": int(run["concurrency"]),
		"batch_size": 1,
		"iteration_type": "num_concurrency",
		"run_duration": duration,
		"mean_output_throughput_tokens_per_s": output_tps,
		"mean_input_throughput_tokens_per_s": max(0.0, total_tps - output_tps),
		"mean_total_tokens_throughput_tokens_per_s": total_tps,
		"requests_per_second": _num(run.get("request_throughput")) or 0.0,
		"error_codes_frequency": {},
		"error_rate": _num(run.get("error_rate")) or 0.0,
		"num_error_requests": errored,
		"num_completed_requests": completed,
		"num_requests": int(run.get("total_requests") or completed + errored),
		"stats": stats,
	}


_ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "llamacpp": "LlamaCPP", "trtllm": "TensorRT-LLM"}


def genai_bench(data: dict[str, Any], spec: dict[str, Any]) -> Export:
	"""One genai-bench experiment folder per successful experiment (a configuration measured once)."""
	notes: list[str] = []
	model = _model(spec)
	hw = spec.get("hardware") or {}
	b = spec.get("benchmark") or {}
	files: dict[str, str] = {}
	skipped = 0
	for e in data["experiments"]:
		if e["status"] != "success":
			continue
		runs = [r for r in _runs(e) if r.get("concurrency")]
		skipped += len(_runs(e)) - len(runs)
		if not runs:
			continue
		prov = e.get("provenance") or {}
		engine = prov.get("engine") or {}
		folder = f"{_sanitize(data['name'])}_exp{e['number']}"
		scenarios = list(dict.fromkeys(str(r["scenario"]) for r in runs))
		params = ", ".join(f"{k}={v}" for k, v in sorted(e["params"].items())) or "engine defaults"
		predicted = " (figures PREDICTED by a performance model, not measured)" if e.get("predicted") else ""
		max_time = max(int(math.ceil(_num(r.get("duration")) or 0.0)) for r in runs)
		meta = {
			"cmd": f"inference-autotuner task {data['name']} experiment {e['number']}: {params}{predicted}",
			"benchmark_version": f"inference-autotuner {__version__} export",
			"api_backend": str(data["engine"]),
			"api_model_name": model,
			"model": model,
			"task": "text-to-text",
			"num_concurrency": sorted({int(r["concurrency"]) for r in runs}),
			"iteration_type": "num_concurrency",
			"traffic_scenario": scenarios,
			"server_engine": _ENGINE_NAMES.get(str(data["engine"]), str(data["engine"])),
			"server_version": engine.get("version"),
			"server_gpu_type": hw.get("gpu"),
			"server_gpu_count": str((e.get("gpu_info") or {}).get("plan", {}).get("world_size") or "") or None,
			"max_time_per_run_s": max(1, max_time),
			"max_requests_per_run": int(b.get("max_requests_per_iteration") or max(r["total_requests"] for r in runs)),
			"experiment_folder_name": folder,
			"metrics_time_unit": "s",
		}
		files[f"{folder}/experiment_metadata.json"] = json.dumps(meta, indent=2) + "\n"
		for r in runs:
			t = int(math.ceil(_num(r.get("duration")) or 0.0))
			name = (
				f"{_genai_scenario_file(str(r['scenario']))}_text-to-text_num_concurrency_{r['concurrency']}_time_{t}s"
			)
			body = {"aggregated_metrics": _genai_aggregated(r), "individual_request_metrics": []}
			files[f"{folder}/{name}.json"] = json.dumps(body, indent=2) + "\n"
	if skipped:
		notes.append(f"{skipped} rate-driven run(s) left out: genai-bench iterates over concurrency only")
	if files:
		notes.append("individual_request_metrics is empty: the store keeps aggregated figures per run, not requests")
	if data.get("predicted"):
		notes.append("the figures are PREDICTED (aiconfigurator): each experiment_metadata.json's cmd says so")
	return Export(files, notes, folder=True)


def folder_name(task_name: str, fmt: str) -> str:
	return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{task_name}-{fmt}")
