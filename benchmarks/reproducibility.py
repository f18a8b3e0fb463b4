"""Benchmark: does the quick start give the same answer twice, and is a loaded machine detected? (issue 18)

    .venv/bin/python benchmarks/reproducibility.py [--tunings 3] [--hog] [--before] [--spec examples/quickstart.yaml]

Runs `autotuner tune SPEC` --tunings times from scratch (a fresh database and data folder each; the model cache is
shared), then `autotuner best --format json` for each, and prints per tuning: wall time, experiments, the
recommended configuration, the verdict and the gain with its 95 % interval. Then whether they agree: the same
recommended configuration, or gains within +-10 percentage points of each other; and whether every gain's interval
is narrower than +-10 %.

--before alternates each tuning with one of the quick start as it was when issue 18 was filed
(benchmarks/data/quickstart_before_18.yaml: 16 requests a run, 2 repeats, no noise runs, no precision, no audit
retries, no quality probe), then prints the wall-time ratio of each pair (goal: at most 1.5x) and how many
configurations each measured (the same search budget: 8).

--hog adds one more tuning during which a CPU hog (one busy process per core, unpinned) runs from 25 % to 60 % of the
first tuning's wall time: every run it overlapped must be flagged suspect by its audit and measured again, and the
recommendation must be the quiet tunings'. Prints the suspect runs found and their reasons.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BEFORE = REPO / "benchmarks" / "data" / "quickstart_before_18.yaml"


def _cli(args: list[str], env: dict[str, str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
	cmd = [sys.executable, "-m", "inference_autotuner.cli", *args]
	return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _burn(stop_at: float) -> None:
	while time.time() < stop_at:
		pass


def tune(spec: Path, hog: tuple[float, float] | None = None) -> dict[str, Any]:
	"""One fresh tuning; hog = (start, end) seconds after the tuning starts during which every core is kept busy."""
	work = Path(tempfile.mkdtemp(prefix="repro-"))
	env = dict(os.environ, AUTOTUNER_DATA_DIR=str(work / "data"), AUTOTUNER_DB=f"sqlite:///{work / 'db.sqlite'}")
	env.pop("CI", None)
	hogs: list[multiprocessing.Process] = []
	timer: threading.Timer | None = None
	if hog is not None:

		def start_hogs() -> None:
			stop_at = time.time() + (hog[1] - hog[0])
			for _ in range(os.cpu_count() or 1):
				p = multiprocessing.Process(target=_burn, args=(stop_at,), daemon=True)
				p.start()
				hogs.append(p)

		timer = threading.Timer(hog[0], start_hogs)
		timer.start()
	t0 = time.monotonic()
	done = _cli(["tune", str(spec)], env)
	wall = time.monotonic() - t0
	if timer is not None:
		timer.cancel()
	for p in hogs:
		p.join(timeout=1)
		if p.is_alive():
			p.kill()
	if done.returncode != 0:
		return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall": wall}
	name = _task_name(spec)
	best = json.loads(_cli(["best", name, "--format", "json"], env).stdout)
	shown = json.loads(_cli(["show", name, "--format", "json"], env).stdout)
	summary = best.get("summary") or {}
	suspect = []
	for e in shown.get("experiments", []):
		for run in e.get("runs") or []:
			audit = (run or {}).get("audit") or {}
			if audit.get("status") == "suspect" or (audit.get("attempts") or 1) > 1:
				why = audit.get("reasons") or audit.get("earlier") or []
				suspect.append((e["number"], audit.get("attempts"), audit.get("status"), "; ".join(why)[:120]))
	return {
		"wall": wall,
		"experiments": len(shown.get("experiments", [])),
		"configs": len({json.dumps(e.get("params"), sort_keys=True) for e in shown.get("experiments", [])}),
		"params": (summary.get("recommended") or {}).get("params") or best.get("params"),
		"verdict": (summary.get("verdict") or {}).get("text"),
		"gain": summary.get("gain"),
		"noise": summary.get("noise"),
		"suspect": suspect,
	}


def _task_name(spec: Path) -> str:
	for line in spec.read_text().splitlines():
		if line.startswith("task_name:"):
			return line.split(":", 1)[1].split("#")[0].strip()
	raise SystemExit(f"{spec}: no task_name")


def _gain_text(g: dict[str, Any] | None) -> str:
	if not g:
		return "-"
	lo, hi = g.get("ci_low"), g.get("ci_high")
	ci = f" (95% CI {lo:+.1%} to {hi:+.1%}, {g.get('method')})" if lo is not None and hi is not None else ""
	return f"{g['value']:+.1%}{ci}"


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--tunings", type=int, default=3)
	ap.add_argument("--hog", action="store_true", help="one more tuning with a CPU hog during part of it")
	ap.add_argument("--before", action="store_true", help="alternate with the quick start as it was (wall ratio)")
	ap.add_argument("--spec", type=Path, default=REPO / "examples" / "quickstart.yaml")
	args = ap.parse_args()
	results, befores = [], []
	for i in range(args.tunings):
		if args.before:  # side by side: the old quick start right before each new one
			b = tune(BEFORE)
			befores.append(b)
			print(f"before {i + 1}: {json.dumps(b, default=str)}", flush=True)
		r = tune(args.spec)
		results.append(r)
		print(f"tuning {i + 1}: {json.dumps(r, default=str)}", flush=True)
	print()
	print(f"{'#':>3} {'wall s':>7} {'exps':>5}  recommended / verdict / gain")
	for i, r in enumerate(results, 1):
		if "error" in r:
			print(f"{i:>3} {r['wall']:>7.0f}  FAILED: {r['error']}")
			continue
		print(f"{i:>3} {r['wall']:>7.0f} {r['experiments']:>5}  {r['params']}")
		print(f"{'':>17}{r['verdict']}")
		print(f"{'':>17}gain {_gain_text(r['gain'])}; noise floor {((r['noise'] or {}).get('floor') or 0):.1%}")
	ok = [r for r in results if "error" not in r]
	same = len({json.dumps(r["params"], sort_keys=True) for r in ok}) == 1
	gains = [r["gain"]["value"] for r in ok if r.get("gain")]
	spread = (max(gains) - min(gains)) if gains else float("nan")
	widths = [
		(r["gain"]["ci_high"] - r["gain"]["ci_low"]) / 2
		for r in ok
		if r.get("gain") and r["gain"].get("ci_low") is not None
	]
	print()
	print(f"same recommended configuration: {same}; gains spread {spread:.1%} (goal: same, or within 10 points)")
	if widths:
		print(f"gain 95% half-widths: {', '.join(f'±{w:.1%}' for w in widths)} (goal: < ±10%)")
	walls = [r["wall"] for r in ok]
	if walls:
		print(f"wall time: {', '.join(f'{w:.0f} s' for w in walls)}")
	for i, (b, r) in enumerate(zip(befores, results, strict=False), 1):
		if "error" in b or "error" in r:
			continue
		print(
			f"pair {i}: before {b['wall']:.0f} s ({b['experiments']} experiments, {b['configs']} configurations), now "
			f"{r['wall']:.0f} s ({r['experiments']} experiments, {r['configs']} configurations): "
			f"{r['wall'] / b['wall']:.2f}x (goal: at most 1.5x); before said: {b['verdict']}"
		)
	if args.hog and ok:
		first = ok[0]["wall"]
		r = tune(args.spec, hog=(0.25 * first, 0.60 * first))
		print()
		print(f"with a CPU hog from {0.25 * first:.0f} s to {0.60 * first:.0f} s: {json.dumps(r, default=str)}")
		if "error" not in r:
			print(f"  suspect or re-measured runs: {len(r['suspect'])}")
			for number, attempts, status, why in r["suspect"]:
				print(f"    #{number}: {status}, attempts {attempts}: {why}")
			quiet = {json.dumps(x["params"], sort_keys=True) for x in ok}
			print(f"  recommendation unchanged: {json.dumps(r['params'], sort_keys=True) in quiet} ({r['params']})")


if __name__ == "__main__":
	main()
