"""benchmarks/api_latency.py at a small scale, so it cannot rot (the goals are judged at 100k experiments)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_api_latency_benchmark_small(tmp_path: Path) -> None:
	out = tmp_path / "latency.json"
	proc = subprocess.run(
		[
			sys.executable,
			str(REPO / "benchmarks" / "api_latency.py"),
			"--experiments",
			"2000",
			"--tasks",
			"20",
			"--repeat",
			"5",
			"--ws-events",
			"5",
			"--json",
			str(out),
		],
		capture_output=True,
		text=True,
		timeout=300,
	)
	assert proc.returncode == 0, proc.stdout + proc.stderr
	result = json.loads(out.read_text())
	assert {r["route"] for r in result["routes"]} >= {"tasks list (100)", "task detail", "one experiment"}
	assert all(r["p50_ms"] > 0 and r["bytes"] > 2 for r in result["routes"])
	assert result["websocket"]["events"] == 5 and result["websocket"]["p95_ms"] < 10_000
	assert "WebSocket: store write -> client" in proc.stdout
