"""The roofline prior of a landscape (benchmarks/search_efficiency.py `--priors roofline`), computed without it.

A landscape's "truth" is aiconfigurator's prediction for one model, GPU, engine and workload (scripts/
make_landscapes.py). This module builds that task's spec (the same model id, GPU, engine, traffic scenario and
concurrency) and asks the roofline (inference_autotuner/search/roofline.py: the model's shape and the GPU's
datasheet, nothing from aiconfigurator or the CSV's figures) for every configuration of the landscape's grid, through
the real launch plan of the real engine, as `optimization.prior: roofline` does in a task. The CSV written is a prior
file (param:NAME columns, status, objective_value); a row is ok when the roofline's figures meet the benchmark's
--constraint rules (e.g. mean_tpot<=0.05).

    python benchmarks/roofline_prior.py benchmarks/landscapes/llama31-70b-h100-vllm.csv   # prints its ranking
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from make_landscapes import ALL, spec_for  # noqa: E402

from inference_autotuner.engines import get_engine  # noqa: E402
from inference_autotuner.engines.plan import plan_for  # noqa: E402
from inference_autotuner.search.roofline import RooflineInfeasible, RooflinePredictor  # noqa: E402
from inference_autotuner.services.validate import parse_spec  # noqa: E402


def workload_of(landscape_path: Path, name: str | None = None) -> str:
	"""The make_landscapes.py entry of a landscape (its file name's stem unless `name` is given)."""
	key = name or landscape_path.stem
	if key not in ALL:
		raise SystemExit(f"no workload for {landscape_path.name}: pass --workload, one of {', '.join(sorted(ALL))}")
	return key


def roofline_figures(workload: str, rows: list[dict[str, Any]]) -> list[dict[str, float] | None]:
	"""Per row (its raw `NAME: value` parameters): the roofline's figures, or None where it cannot run."""
	spec = parse_spec(spec_for(workload))
	engine = get_engine(str(spec.base_runtime))
	predictor = RooflinePredictor.from_spec(spec)
	out: list[dict[str, float] | None] = []
	for params in rows:
		plan = plan_for(engine, params, spec, Path(spec.model.ref))
		if plan.status != "ok":
			out.append(None)
			continue
		try:
			runs, _ = predictor.predict(spec=spec, plan=plan)
		except RooflineInfeasible:
			out.append(None)
			continue
		r = runs[0]
		out.append(
			{
				"objective_value": r.total_throughput / plan.world_size,
				"per_gpu_throughput": r.total_throughput / plan.world_size,
				"output_throughput": r.output_throughput,
				"mean_tpot": r.tpot.mean,
				"mean_ttft": r.ttft.mean,
				"mean_e2e_latency": r.e2e.mean,
			}
		)
	return out


def write_roofline_prior(landscape: Any, path: Path, workload: str) -> int:
	"""The prior CSV of `landscape` (search_efficiency.Landscape) from the roofline; returns its feasible rows."""
	raw = [{n: _value(row[f"param:{n}"]) for n in landscape.names} for row in landscape.rows.values()]
	figures = roofline_figures(workload, raw)
	feasible = 0
	with path.open("w", newline="") as f:
		w = csv.writer(f)
		w.writerow([*(f"param:{_safe(n)}" for n in landscape.names), "status", "objective_value"])
		for params, fig in zip(raw, figures, strict=True):
			ok = fig is not None and all(op(fig[c], x) for c, op, x in landscape.rules if c in fig)
			feasible += ok
			value = fig["objective_value"] if ok and fig is not None else ""
			w.writerow([*(params[n] for n in landscape.names), "ok" if ok else "infeasible", value])
	return feasible


def _value(text: str) -> Any:
	for cast in (int, float):
		try:
			return cast(text)
		except ValueError:
			pass
	return {"True": True, "False": False, "true": True, "false": False}.get(text, text)


def _safe(name: str) -> str:
	return name.replace("__quant__", "quant.").replace("__parallel__", "parallel.")


def main(argv: list[str] | None = None) -> None:
	import argparse

	from search_efficiency import Landscape

	p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("landscape")
	p.add_argument("--workload", default=None, help=f"one of {', '.join(sorted(ALL))} (default: the file's stem)")
	p.add_argument("--constraint", action="append", default=["mean_tpot<=0.05"])
	args = p.parse_args(argv)
	path = Path(args.landscape)
	land = Landscape(path, "maximize:objective_value", args.constraint)
	raw = [{n: _value(row[f"param:{n}"]) for n in land.names} for row in land.rows.values()]
	figures = roofline_figures(workload_of(path, args.workload), raw)
	table = []
	for params, fig, row in zip(raw, figures, land.rows.values(), strict=True):
		truth = row.get("objective_value") or ""
		table.append((fig["objective_value"] if fig else -1.0, params, fig, truth, row.get("mean_tpot") or ""))
	for value, params, fig, truth, tpot in sorted(table, key=lambda t: -t[0]):
		est = f"{value:9.0f} tpot {fig['mean_tpot'] * 1000:6.1f} ms" if fig else "   (does not fit)      "
		t = f"{float(truth):9.0f} tpot {float(tpot) * 1000:6.1f} ms" if truth else "   -"
		print(f"{list(params.values())!s:<32} roofline {est}   truth {t}")


if __name__ == "__main__":
	sys.path.insert(0, str(REPO / "benchmarks"))
	main()
