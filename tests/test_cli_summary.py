"""`autotuner best`, `show` and `pareto` over tasks with baselines, repeats, pruned runs and a Pareto front."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from summary_rows import seed_multi, seed_single
from typer.testing import CliRunner

from inference_autotuner.cli import app
from inference_autotuner.runner.summary import refresh_pareto
from inference_autotuner.store import Store


@pytest.fixture
def db(tmp_path: Path) -> str:
	url = f"sqlite:///{tmp_path / 'cli.db'}"
	store = Store(url)
	seed_single(store, "noisy")
	seed_single(store, "single", repeats=False, baseline=False)
	refresh_pareto(store, seed_multi(store, "front"))
	return url


def invoke(*args: str) -> tuple[int, str, str]:
	r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
	return r.exit_code, r.stdout, r.stderr


def test_help_of_the_new_and_changed_commands() -> None:
	for cmd in ("pareto", "best", "show"):
		code, out, _ = invoke(cmd, "--help")
		assert code == 0 and "--format" in out, cmd


def test_best_shows_mean_ci_and_gain(db: str) -> None:
	code, out, _ = invoke("best", "noisy", "--db", db)
	assert code == 0, out
	assert "experiment 4" in out and "parallel=2" in out
	assert "128.0 ± 4.97 tokens/s/GPU (n=3, 95% CI 123.0 to 133.0)" in out
	assert "gain over the baseline (experiment 1, mean 100.0 tokens/s/GPU, n=3): +28.0%" in out
	assert "95% CI +23.5% to +32.5%" in out
	assert "llama-server --parallel 2" in out
	code, out, _ = invoke("best", "noisy", "--db", db, "--format", "json")
	data = json.loads(out)
	assert code == 0 and data["number"] == 4 and data["origin"] == "search"
	assert data["summary"]["gain"]["value"] == pytest.approx(0.28) and data["summary"]["recommended"]["n"] == 3


def test_best_says_what_was_not_measured(db: str) -> None:
	code, out, _ = invoke("best", "single", "--db", db)
	assert code == 0
	assert "experiment 5" in out and "no baseline was measured" in out
	assert "measured more than once" in out and "gain over" not in out


def test_show_has_origin_pruned_and_time_saved(db: str) -> None:
	code, out, _ = invoke("show", "noisy", "--db", db)
	assert code == 0, out
	for word in ("origin", "baseline", "warm_start", "repeat", "pruned"):
		assert word in out, word
	assert "time saved by early stopping and pruning: 15.5 s" in out
	assert "3 baseline" in out and "1 pruned" in out
	code, out, _ = invoke("show", "noisy", "--db", db, "--format", "json")
	data = json.loads(out)
	assert data["experiments"][6]["status"] == "pruned" and data["experiments"][6]["saved_seconds"] == 12.5
	assert data["summary"]["saved_seconds"] == 15.5
	code, out, _ = invoke("export", "noisy", "--db", db)
	assert code == 0 and out.splitlines()[0].startswith("number,status,origin,param:parallel")


def test_pareto_table_and_json(db: str) -> None:
	code, out, _ = invoke("pareto", "front", "--db", db)
	assert code == 0, out
	assert "maximize_throughput (tokens/s/GPU)" in out and "minimize_latency (s)" in out
	assert "parallel=1" in out and "parallel=4" in out and "parallel=3" not in out
	code, out, _ = invoke("pareto", "front", "--db", db, "--format", "json")
	data = json.loads(out)
	assert code == 0 and [o["name"] for o in data["objectives"]] == ["maximize_throughput", "minimize_latency"]
	assert sorted(p["number"] for p in data["front"]) == [1, 2, 4]
	code, out, _ = invoke("show", "front", "--db", db)
	assert code == 0 and "Pareto front" in out


def test_pareto_errors(db: str) -> None:
	code, _, err = invoke("pareto", "noisy", "--db", db)
	assert code == 1 and "has one objective" in err and "optimization.objectives" in err
	code, _, err = invoke("pareto", "nope", "--db", db)
	assert code == 2 and "no task named" in err
	code, _, err = invoke("pareto", "front", "--db", db, "--format", "csv")
	assert code == 2 and "unknown format" in err  # bad input: exit 2 (errors.UsageError)


def marked(table: str) -> list[str]:
	"""The experiment numbers in a rendered table that carry the `*` mark."""
	return re.findall(r"^\W*(\d+\*)", table, flags=re.M)


def test_show_marks_the_recommendation(db: str) -> None:
	code, out, _ = invoke("show", "noisy", "--db", db)
	assert code == 0 and "* = recommended" in out
	# the best single run is #5 (150), the recommendation by the repeats' intervals is #4
	assert marked(out) == ["4*"], out


def test_live_view_moves_the_mark_to_the_recommendation_at_the_end() -> None:
	from rich.console import Console

	from inference_autotuner.cli.render import LiveView

	def render(view: LiveView) -> str:
		console = Console(width=200, record=True)
		console.print(view)
		return console.export_text()

	view = LiveView("tokens/s")
	view.update({"type": "task_started", "max_iterations": 2, "done": 0, "planned": 2})
	for number, score in ((1, -150.0), (2, -130.0)):  # scores are minimized: #1 is the best single run
		view.update({"type": "experiment_started", "number": number, "params": {"parallel": number}})
		view.update({"type": "experiment_finished", "number": number, "status": "success", "score": score})
	out = render(view)
	assert "* = best so far" in out and marked(out) == ["1*"], out
	view.update({"type": "task_finished", "status": "completed", "experiments": 2, "best_number": 2})
	out = render(view)
	assert "* = recommended (autotuner best)" in out
	assert marked(out) == ["2*"], out
