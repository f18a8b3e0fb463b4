"""Everything a report shows, read from the store: the question, the recommendation (services.summary, the one place it
is decided), figures per configuration, parameter importance from the task's Optuna study, failures by reason, cost,
provenance and the commands that serve the recommended configuration. No formatting here (render.py does it)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..quality.show import KEYS as QUALITY_KEYS
from ..scoring.objectives import OBJECTIVE_INFO, cost_per_mtok
from ..services.summary import TaskSummary, task_data
from ..store import Store
from .importance import param_importance

# Figures shown per configuration: key, title, scale to display units, unit.
CONFIG_FIGURES = (
	("mean_ttft", "TTFT", 1000.0, "ms"),
	("mean_tpot", "TPOT", 1000.0, "ms"),
	("output_throughput", "output throughput", 1.0, "tok/s"),
	("goodput", "goodput", 1.0, "req/s"),
)


@dataclass
class ConfigRow:
	"""One configuration (parameter set) with the means of its successful experiments' figures."""

	key: str
	params: dict[str, Any]
	numbers: list[int]  # every experiment of it
	n_ok: int  # successful ones (the means come from them)
	origin: str
	world_size: int
	objective: float | None
	score: float | None
	figures: dict[str, float | None]
	cost_per_mtok: float | None
	quality: dict[str, float] = field(default_factory=dict)  # quality figures, where measured


@dataclass
class ReportData:
	task: dict[str, Any]  # services.summary.TaskDetail as JSON data: the task with every experiment
	spec: dict[str, Any]
	summary: TaskSummary
	recommended: dict[str, Any] | None  # the recommended experiment (services.summary.recommended_of)
	baseline: dict[str, Any] | None  # the baseline's first successful experiment
	question: list[tuple[str, str]]  # (what, answer) lines: model, engine, hardware, workload, SLOs, objective
	configs: list[ConfigRow]  # ranked by mean score (best first); configurations without a score last
	importance: dict[str, float] | None
	importance_note: str | None
	# multi-objective tasks: (objective, shares, note) for each objective after the primary one
	importance_more: list[tuple[str, dict[str, float] | None, str | None]]
	failures: list[tuple[str, str, list[int]]]  # (status, reason, experiment numbers), most frequent first
	launch: dict[str, Any]  # command, docker, manifests, notes
	gpu_hour_usd: float | None
	provenance: dict[str, Any] | None  # the recommended (else first) experiment's provenance
	provenance_differs: list[str]  # fields whose value differs between the task's experiments
	generated_at: str
	tuner_version: str = __version__
	notes: list[str] = field(default_factory=list)


def world_size_of(exp: dict[str, Any]) -> int:
	"""GPUs an experiment's configuration uses: its launch plan's world size, else its GPU allocation's, else 1."""
	info = exp.get("gpu_info") or {}
	for candidate in ((info.get("plan") or {}).get("world_size"), info.get("world_size")):
		if isinstance(candidate, int) and candidate >= 1:
			return candidate
	return 1


def params_key_of(params: dict[str, Any]) -> str:
	return json.dumps(params, sort_keys=True, default=str)


def _mean(values: list[float | None]) -> float | None:
	vals = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
	return sum(vals) / len(vals) if vals else None


def gpu_hour_price(spec: dict[str, Any], override: float | None = None) -> float | None:
	"""The price of one GPU-hour in US dollars: the override, else the spec's (cost.gpu_hour_usd_by_type's entry for
	its hardware.gpu, else cost.gpu_hour_usd; None when unset)."""
	if override is not None:
		return override
	cost = spec.get("cost") or {}
	if not isinstance(cost, dict) or not cost:
		return None
	from ..spec.models import CostSpec

	try:
		prices = CostSpec.model_validate(cost)
	except ValueError:
		return None
	return prices.price_for((spec.get("hardware") or {}).get("gpu"))


def _configs(experiments: list[dict[str, Any]], price: float | None) -> list[ConfigRow]:
	groups: dict[str, list[dict[str, Any]]] = {}
	for e in experiments:
		groups.setdefault(params_key_of(e["params"]), []).append(e)
	rows = []
	for key, exps in groups.items():
		ok = [e for e in exps if e["status"] == "success"]
		# the speed of a configuration the quality guardrail rejected was measured: shown beside its quality
		measured = ok or [e for e in exps if (e.get("failure_reason") or "").startswith("quality:")]
		figures = {
			k: _mean([(e.get("figures") or {}).get(k) for e in measured])
			for k in ("mean_ttft", "mean_tpot", "output_throughput", "goodput", "per_gpu_throughput", "error_rate")
		}
		ws = world_size_of(exps[0])
		quality: dict[str, float] = {}  # the guardrail's figures, also of a configuration it made infeasible
		for name in QUALITY_KEYS:
			q = _mean([(e.get("figures") or {}).get(name) for e in exps])
			if q is not None:
				quality[name] = q
		rows.append(
			ConfigRow(
				key=key,
				params=exps[0]["params"],
				numbers=[e["number"] for e in exps],
				n_ok=len(ok),
				origin=exps[0].get("origin") or "search",
				world_size=ws,
				objective=_mean([e["objective_value"] for e in measured]),
				score=_mean([e["score"] for e in ok]),
				figures=figures,
				cost_per_mtok=cost_per_mtok(figures["output_throughput"], ws, price),
				quality=quality,
			)
		)
	rows.sort(key=lambda r: (r.score is None, r.score if r.score is not None else 0.0, r.numbers[0]))
	return rows


def _failures(experiments: list[dict[str, Any]]) -> list[tuple[str, str, list[int]]]:
	"""Unsuccessful experiments grouped by status and reason; reasons that differ only in their numbers (a measured
	figure, a port) are one group, shown by its first example."""
	by: dict[tuple[str, str], list[int]] = {}
	example: dict[tuple[str, str], str] = {}
	for e in experiments:
		if e["status"] in ("success", "running"):
			continue
		reason = (e.get("failure_reason") or "no reason recorded").strip().splitlines()[0]
		if len(reason) > 160:
			reason = reason[:157] + "..."
		key = (e["status"], re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?%?", "#", reason))
		by.setdefault(key, []).append(e["number"])
		example.setdefault(key, reason)
	return sorted(((k[0], example[k], ns) for k, ns in by.items()), key=lambda x: (-len(x[2]), x[2][0]))


def _slo_lines(slo: dict[str, Any] | None) -> list[str]:
	if not slo:
		return []
	lines = []
	for metric in ("latency", "ttft", "tpot"):
		block = slo.get(metric)
		if not isinstance(block, dict):
			continue
		targets = {k: v for k, v in block.items() if isinstance(v, dict) and "threshold" in v}
		if "threshold" in block:
			targets = {"mean": block}
		for stat, t in targets.items():
			kind = f"hard, fails past +{float(t.get('fail_ratio', 0)):.0%}" if t.get("hard_fail") else "soft"
			lines.append(f"{metric} {stat} <= {float(t['threshold']) * 1000:g} ms ({kind})")
	return lines


def _question(task: dict[str, Any], spec: dict[str, Any], prov: dict[str, Any] | None) -> list[tuple[str, str]]:
	model = (spec.get("model") or {}).get("id_or_path") or (spec.get("model") or {}).get("name") or "?"
	engine = task["engine"]
	version = None
	if prov:
		version = (prov.get("engine") or {}).get("version")
	out = [("model", str(model))]
	out.append(("engine", f"{engine} {version}" if version else engine))
	out.append(
		(
			"where",
			task["deployment_mode"] + (" (figures PREDICTED by a performance model)" if task["predicted"] else ""),
		)
	)
	hw = spec.get("hardware") or {}
	hardware = []
	if hw.get("gpu"):
		hardware.append(f"{hw.get('gpu_count') or '?'} x {hw['gpu']}")
	if prov:
		host = prov.get("host") or {}
		gpus = host.get("gpus") or []
		if gpus:
			hardware.append(f"measured on {len(gpus)} x {gpus[0].get('name')} (driver {host.get('driver') or '?'})")
		elif host.get("cpu"):
			hardware.append(f"measured on {host.get('cpu')} ({host.get('cpu_count')} cores), no GPU")
	out.append(("hardware", "; ".join(hardware) or "not given"))
	b = spec.get("benchmark") or {}
	load = (
		b.get("request_rates")
		and f"rates {b['request_rates']} req/s"
		or f"concurrency {b.get('num_concurrency', [1, 4])}"
	)
	if b.get("load_search"):
		ls = b["load_search"]
		load = f"max-load search ({ls.get('mode', 'concurrency')}, {ls.get('start', 1)} to {ls.get('limit', 256)})"
	scen = ", ".join(b.get("traffic_scenarios") or ["D(100,100)"])
	out.append(
		(
			"workload",
			f"{scen}; {load}; up to {b.get('max_requests_per_iteration', 50)} requests per run; "
			f"driver {b.get('driver', 'builtin')}",
		)
	)
	out.append(("SLOs", "; ".join(_slo_lines(spec.get("slo"))) or "none"))
	objectives = ", ".join(f"{o} ({OBJECTIVE_INFO[o].unit})" for o in task["objectives"])
	opt = spec.get("optimization") or {}
	out.append(("objective", objectives))
	out.append(("search", f"{opt.get('strategy', 'auto')}, up to {opt.get('max_iterations', '?')} experiments"))
	return out


def _launch(spec_dict: dict[str, Any], rec: dict[str, Any] | None) -> dict[str, Any]:
	"""The commands and manifests that serve the recommended configuration."""
	out: dict[str, Any] = {"command": None, "docker": None, "manifests": None, "notes": []}
	if rec is None:
		return out
	out["command"] = rec.get("launch_command")
	try:
		from ..spec.models import TaskSpec

		spec = TaskSpec.model_validate(spec_dict)
	except Exception as exc:  # noqa: BLE001 - a stored spec that no longer validates: show what was stored
		out["notes"].append(f"the stored spec no longer validates ({type(exc).__name__}); no docker run or manifests")
		return out
	params = dict(rec["params"])
	try:
		out["docker"] = docker_run_command(spec, params)
	except Exception as exc:  # noqa: BLE001
		out["notes"].append(f"no docker run: {exc}")
	try:
		from ..services.manifests import manifest_yaml

		out["manifests"] = manifest_yaml(spec, params)  # the spec's mode when it is a cluster one, else kubernetes
	except Exception as exc:  # noqa: BLE001
		out["notes"].append(f"no Kubernetes manifests: {exc}")
	return out


def docker_run_command(spec: Any, params: dict[str, Any]) -> str | None:
	"""`docker run` of the configuration: the engine's image, host networking, the model mounted read-only, GPUs."""
	import shlex

	from ..deploy.docker import MODEL_MOUNT, DockerDeployer
	from ..engines import get_engine
	from ..engines.plan import hardware_for, plan_launch

	engine = get_engine(spec.base_runtime)
	plan = plan_launch(engine, params, model_ref=spec.model.ref, hardware=hardware_for(spec))
	if plan.status != "ok":
		return None
	deployer = DockerDeployer.from_spec(spec)
	model = Path(spec.model.ref)
	argv = deployer.container_argv(engine, model, plan.flags, port=8000)
	parts = ["docker", "run", "--rm", "--network", "host"]
	if deployer.use_gpus or (spec.hardware and spec.hardware.gpu):
		parts += ["--gpus", f'"device={",".join(str(i) for i in range(plan.world_size))}"']
	if deployer.ipc_mode:
		parts += ["--ipc", deployer.ipc_mode]
	if deployer.shm_size:
		parts += ["--shm-size", deployer.shm_size]
	if model.is_absolute():
		parts += ["-v", f"{model}:{MODEL_MOUNT}/{model.name}:ro"]
	for k, v in sorted(spec.env.items()):
		parts += ["-e", f"{k}={v}"]
	parts.append(deployer.image)
	return " ".join(parts[:4] + [shlex.quote(p) if " " in p else p for p in parts[4:]] + [shlex.join(argv)])


def _provenance(
	experiments: list[dict[str, Any]], rec: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[str]]:
	from ..provenance import differences

	provs: list[dict[str, Any]] = [e["provenance"] for e in experiments if e.get("provenance")]
	if not provs:
		return None, []
	first = (rec or {}).get("provenance") or provs[0]
	return first, differences(provs)


def comparable_provenance(store: Store, ref: str | int) -> tuple[int | None, dict[str, Any] | None, list[str]]:
	"""What `autotuner compare` and the web compare page set side by side: the provenance of the task's recommended
	experiment (else its first with one) as flat dotted fields without the per-experiment ones (argv, experiment,
	tuner_argv), its experiment number, and the fields the task's own experiments differ in."""
	from ..provenance import PER_EXPERIMENT, differences, flatten

	data, _summary, rec = task_data(store, ref)
	with_prov = [e for e in data["experiments"] if e.get("provenance")]
	chosen = rec if rec is not None and rec.get("provenance") else (with_prov[0] if with_prov else None)
	if chosen is None:
		return None, None, []
	skip = (*PER_EXPERIMENT, "tuner_argv")
	flat = {
		k: v for k, v in flatten(chosen["provenance"]).items() if not any(k == s or k.startswith(s + ".") for s in skip)
	}
	return chosen["number"], flat, differences([e["provenance"] for e in with_prov])


def collect(store: Store, ref: str | int, *, gpu_hour_usd: float | None = None) -> ReportData:
	"""What a report of task `ref` (name or id) shows."""
	data, summary, rec = task_data(store, ref)
	base = None
	if summary.baseline is not None:
		base = next((e for e in data["experiments"] if e["number"] == summary.baseline.number), None)
	spec = dict(data["spec"])
	price = gpu_hour_price(spec, gpu_hour_usd)
	importance, imp_note = param_importance(store, spec, data["study_name"])
	more = [
		(name, *param_importance(store, spec, data["study_name"], i))
		for i, name in enumerate(data["objectives"])
		if i > 0 and len(data["objectives"]) > 1
	]
	prov, differs = _provenance(data["experiments"], rec)
	notes = []
	if data["predicted"]:
		notes.append("figures come from a performance model (aiconfigurator), not from measurements")
	return ReportData(
		task=data,
		spec=spec,
		summary=summary,
		recommended=rec,
		baseline=base,
		question=_question(data, spec, prov),
		configs=_configs(data["experiments"], price),
		importance=importance,
		importance_note=imp_note,
		importance_more=more,
		failures=_failures(data["experiments"]),
		launch=_launch(spec, rec),
		gpu_hour_usd=price,
		provenance=prov,
		provenance_differs=differs,
		generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
		notes=notes,
	)


def status_counts(experiments: list[dict[str, Any]]) -> dict[str, int]:
	return dict(Counter(e["status"] for e in experiments))
