"""Does the best configuration change with the workload? Two short grid tunings of the same llama.cpp space: one on
synthetic D(64,32), one on the multi-turn chat workload of examples/chat-llamacpp.yaml (docs/workloads.md, Figures).

    AUTOTUNER_WORKLOAD_DIRS=examples/workloads python benchmarks/workload_winners.py

Both grids measure every configuration, so the D winner's figure on the chat workload is read from the chat tuning.
Prints each configuration's objective per workload (with its 95% interval where repeated), the two winners, and by
how much the D winner loses on chat; then the client's own time per request (its event loop's busy share, from the
run audit) for the session and trace modes.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference_autotuner.runner.task import TaskRunner, get_or_create_task  # noqa: E402
from inference_autotuner.scoring.noise import t95  # noqa: E402
from inference_autotuner.services.validate import load_spec, parse_spec  # noqa: E402
from inference_autotuner.services.views import experiments_of  # noqa: E402
from inference_autotuner.store import Store  # noqa: E402


def tune(data: dict[str, Any], db: str) -> dict[str, list[float]]:
	"""objective values per configuration (params as text), every measurement of it."""
	spec = parse_spec(data)
	store = Store(f"sqlite:///{db}")
	task_id = get_or_create_task(store, spec)
	t0 = time.monotonic()
	TaskRunner(store, task_id).run()
	print(f"  {spec.task_name}: {time.monotonic() - t0:.0f} s", flush=True)
	out: dict[str, list[float]] = {}
	for e in experiments_of(store, task_id):
		if e.status == "success" and e.objective_value is not None and e.origin != "baseline":
			key = ", ".join(f"{k}={v}" for k, v in sorted(e.params.items()) if k in ("parallel", "no-cache-prompt"))
			out.setdefault(key, []).append(float(e.objective_value))
	store.engine.dispose()
	return out


def interval(values: list[float]) -> str:
	import statistics

	mean = statistics.fmean(values)
	if len(values) < 2:
		return f"{abs(mean):.1f} (1 run)"
	half = t95(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5  # Student-t, as `autotuner best`
	return f"{abs(mean):.1f} ± {half:.1f} ({len(values)} runs)"


def main() -> None:
	os.environ.setdefault("AUTOTUNER_WORKLOAD_DIRS", str(REPO / "examples" / "workloads"))
	chat = load_spec(REPO / "examples" / "chat-llamacpp.yaml").model_dump(mode="json", exclude_none=True)
	synth = copy.deepcopy(chat)
	synth["task_name"] = "d-64-32"
	for k in ("dataset", "sessions"):
		synth["benchmark"].pop(k, None)
	synth["benchmark"]["traffic_scenarios"] = ["D(64,32)"]
	synth["benchmark"]["endpoint"] = "chat"
	with tempfile.TemporaryDirectory() as d:
		os.environ["AUTOTUNER_DATA_DIR"] = d
		res = {"D(64,32)": tune(synth, f"{d}/d.db"), "chat": tune(chat, f"{d}/chat.db")}
	configs = sorted(set(res["D(64,32)"]) | set(res["chat"]))
	print(f"\n{'configuration':36} {'D(64,32) tok/s':>24} {'chat sessions tok/s':>24}")
	for c in configs:
		print(f"{c:36} {interval(res['D(64,32)'].get(c, [0.0])):>24} {interval(res['chat'].get(c, [0.0])):>24}")

	def best(r: dict[str, list[float]]) -> str:
		return max(r, key=lambda c: abs(sum(r[c]) / len(r[c])))

	wd, wc = best(res["D(64,32)"]), best(res["chat"])
	mean = {c: abs(sum(v) / len(v)) for c, v in res["chat"].items()}
	print(f"\nD(64,32) winner: {wd}\nchat winner:     {wc}")
	if wd != wc and wd in mean:
		print(f"the D winner on chat: {mean[wd]:.1f} vs {mean[wc]:.1f} tok/s ({mean[wd] / mean[wc] - 1:+.1%})")


if __name__ == "__main__":
	main()
