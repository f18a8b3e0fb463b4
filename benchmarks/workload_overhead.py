"""The built-in client's own cost per request in each workload mode (docs/workloads.md, Figures).

    .venv/bin/python benchmarks/workload_overhead.py [--requests 400]

Runs the stand-in streaming server of load_generator.py (no delay: it is never the bottleneck) in its own process and
the built-in client in this one, once per mode: synthetic D(32,16) closed loop (the reference), a dataset
(examples/workloads/chat.json), multi-turn sessions (4 turns, history re-sent), shared prefixes, and a trace (a
generated JSONL trace of `requests` arrivals over 2 s, replayed open-loop). Prints the client's CPU time per request
(this process's user+system time over the run, prompt building included) and its ratio to the synthetic mode, and
the trace's worst send lag (how late its schedule was kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from load_generator import server_main  # noqa: E402

from inference_autotuner.bench.client import run_load  # noqa: E402
from inference_autotuner.bench.request import RunRequest  # noqa: E402
from inference_autotuner.bench.workload import scenarios_for  # noqa: E402
from inference_autotuner.spec.models import BenchmarkSpec  # noqa: E402


def main() -> None:
	p = argparse.ArgumentParser()
	p.add_argument("--requests", type=int, default=400)
	args = p.parse_args()
	n = args.requests
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
	srv = multiprocessing.Process(target=server_main, args=(port, 0.0), daemon=True)
	srv.start()
	url = f"http://127.0.0.1:{port}"
	time.sleep(1.0)
	folder = Path(tempfile.mkdtemp())
	trace = folder / "burst.jsonl"
	trace.write_text(
		"".join(
			json.dumps({"timestamp": 2.0 * i / n, "input_tokens": 32, "output_tokens": 16}) + "\n" for i in range(n)
		)
	)
	os.environ["AUTOTUNER_WORKLOAD_DIRS"] = os.pathsep.join([str(REPO / "examples" / "workloads"), str(folder)])
	os.environ.setdefault("AUTOTUNER_DATA_DIR", str(folder / "data"))
	modes = {
		"synthetic D(32,16)": BenchmarkSpec(traffic_scenarios=["D(32,16)"]),
		"dataset chat.json": BenchmarkSpec(dataset={"path": "chat.json", "output_tokens": 16, "salt": False}),
		"sessions (4 turns)": BenchmarkSpec(traffic_scenarios=["D(32,16)"], sessions={"turns": 4}),
		"shared_prefix 4x256": BenchmarkSpec(
			shared_prefix={"groups": 4, "prefix_tokens": 256, "suffix_tokens": 32, "output_tokens": 16}
		),
		"trace (open loop)": BenchmarkSpec(trace={"path": "burst.jsonl", "format": "jsonl"}),
	}
	try:
		base = None
		print(f"{'mode':24} {'CPU ms/request':>15} {'vs synthetic':>13} {'completed':>10}")
		for name, b in modes.items():
			(scenario,) = scenarios_for(b)
			req = RunRequest(url, scenario=scenario, concurrency=8, max_requests=n, max_duration_s=120, endpoint="chat",
				model="zero", precision=None)  # fmt: skip
			t0 = time.process_time()
			m = asyncio.run(run_load(req))
			cpu = (time.process_time() - t0) / max(1, m.total_requests) * 1000
			base = base or cpu
			lag = f"  max send lag {m.max_send_lag * 1000:.1f} ms" if m.speedup is not None else ""
			print(f"{name:24} {cpu:15.2f} {cpu / base:12.2f}x {m.completed:>10}{lag}", flush=True)
	finally:
		srv.kill()


if __name__ == "__main__":
	main()
