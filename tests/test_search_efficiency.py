"""The search-efficiency benchmark on a tiny landscape: grid's count is deterministic, the others run and reach it."""

from __future__ import annotations

import ast
import csv
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_benchmark():  # type: ignore[no-untyped-def]
	spec = importlib.util.spec_from_file_location("search_efficiency", REPO / "benchmarks" / "search_efficiency.py")
	assert spec and spec.loader
	module = importlib.util.module_from_spec(spec)
	sys.modules["search_efficiency"] = module
	spec.loader.exec_module(module)
	return module


def write_landscape(path: Path) -> None:
	"""4 x 3 = 12 configurations; value = a * 10 + b; a=4 infeasible; best feasible 3,3 (33), 3,2 within 5%."""
	with path.open("w", newline="") as f:
		w = csv.writer(f)
		w.writerow(["param:a", "param:b", "status", "tput", "latency"])
		for a in (1, 2, 3, 4):
			for b in (1, 2, 3):
				w.writerow([a, b, "infeasible" if a == 4 else "ok", a * 10 + b, 1.0 / (a * 10 + b)])


def test_tiny_landscape_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	args = ["--landscape", str(path), "--objective", "maximize:tput", "--seeds", "3"]
	out = bench.main(args)
	assert out["grid"]["experiments"] == 12  # full enumeration of the 12-point grid
	assert 1 <= out["grid"]["first_hit"] <= 12
	for name in ("random", "tpe"):
		assert 1 <= out[name]["experiments"] <= 12
		assert out[name]["within_5pct"] <= out[name]["experiments"]
	text = capsys.readouterr().out
	assert "12 configurations, 9 feasible" in text and "vs grid" in text


def test_constraint_and_minimize(tmp_path: Path) -> None:
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	land = bench.Landscape(path, "minimize:latency", ["tput<=22"])
	assert land.best == pytest.approx(1 / 22)  # 23..33 break the constraint, 41..43 are infeasible
	assert sum(v is not None for v in land.values.values()) == 5
	out = bench.main(
		[
			"--landscape",
			str(path),
			"--objective",
			"minimize:latency",
			"--constraint",
			"tput<=22",
			"--seeds",
			"2",
			"--strategies",
			"grid,tpe",
		]
	)
	assert out["grid"]["experiments"] == 12 and out["tpe"]["experiments"] <= 12


def test_every_strategy_with_and_without_a_perturbed_prior(tmp_path: Path) -> None:
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	out = bench.main(["--landscape", str(path), "--objective", "maximize:tput", "--seeds", "2"])
	assert {"grid", "random", "tpe", "gp", "random+prior", "tpe+prior", "gp+prior"} <= set(out)
	assert "grid+prior" not in out  # full enumeration: a prior changes nothing
	for name, r in out.items():
		assert 1 <= r["experiments"] <= 12
		if name != "grid":
			assert 1 <= r["stopped_at"] <= 12 and 0.0 <= r["found_by_stop"] <= 1.0


def test_perturbed_prior_is_seeded_and_exact_at_zero_error(tmp_path: Path) -> None:
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	land = bench.Landscape(path, "maximize:tput", ["latency<=0.05"])
	exact, a, b, c = (tmp_path / f"{n}.csv" for n in "xabc")
	land.write_prior(exact, 0, 0.0)
	rows = {(r["param:a"], r["param:b"]): r for r in csv.DictReader(exact.open())}
	assert float(rows[("3", "3")]["objective_value"]) == 33.0
	assert rows[("1", "1")]["status"] == "infeasible"  # latency 1/11 breaks the constraint
	assert rows[("4", "1")]["status"] == "infeasible"  # infeasible in the landscape
	land.write_prior(a, 1, 0.4)
	land.write_prior(b, 1, 0.4)
	land.write_prior(c, 2, 0.4)
	assert a.read_text() == b.read_text() != c.read_text()
	assert bench.stop_point([1.0, None, 1.005, 0.5], True, 3) == 4  # 0.5% better is within the noise floor
	assert bench.stop_point([1.0, 2.0, 1.0, 1.0], True, 3) is None


def test_fast_replay_proposes_what_the_runner_replay_proposes(tmp_path: Path) -> None:
	"""--fast (benchmarks/search_replay.py: the sampler, prior and tell without the runner) gives the same counts per
	seed as the replay through the real TaskRunner and store, with and without a perturbed prior."""
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	land = bench.Landscape(path, "maximize:tput", ["latency<=0.05"])
	for strategy, seeds in (("gp", (0, 1)), ("tpe", (0,)), ("random", (1,))):
		for seed in seeds:
			prior = tmp_path / f"prior-{seed}.csv"
			land.write_prior(prior, seed, 0.4)
			for p in (None, prior):
				full = bench.replay(land, strategy, seed, 0.99, tmp_path, p)
				fast = bench.replay(land, strategy, seed, 0.99, tmp_path, p, fast=True)
				assert fast == full, (strategy, seed, p)
				assert 1 <= fast[0] <= land.size


def test_fast_mode_refuses_parallel_strategies(tmp_path: Path) -> None:
	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_landscape(path)
	with pytest.raises(SystemExit, match="serial strategies only"):
		bench.main(["--landscape", str(path), "--objective", "maximize:tput", "--strategies", "tpe-parallel", "--fast"])


def test_held_out_landscapes_are_not_the_training_set() -> None:
	"""The held-out set differs from the training set in model, GPU or engine, and its CSVs are full grids."""
	# the two tables are literal dicts: read them without importing the script (it needs aiconfigurator's CLI)
	text = (REPO / "scripts" / "make_landscapes.py").read_text()
	tables: dict[str, dict[str, tuple[str, ...]]] = {}
	for node in ast.parse(text).body:
		if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
			if node.target.id in ("LANDSCAPES", "HELD_OUT"):
				tables[node.target.id] = ast.literal_eval(node.value)
	train, held = tables["LANDSCAPES"], tables["HELD_OUT"]
	assert len(held) >= 2 and not set(train) & set(held)
	combos = {(engine, model, gpu) for engine, model, gpu, *_ in train.values()}
	for name, (engine, model, gpu, *_) in held.items():
		assert (engine, model, gpu) not in combos
		rows = list(csv.DictReader((REPO / "benchmarks" / "landscapes" / "held-out" / f"{name}.csv").open()))
		assert len(rows) == 112 and any(r["status"] == "success" for r in rows)


def write_refusing_landscape(path: Path) -> None:
	"""The tiny landscape with b=1 refused before launch (status skipped, as TensorRT-LLM's online FP8 GEMM is)."""
	write_landscape(path)
	rows = list(csv.reader(path.open()))
	for row in rows[1:]:
		if row[1] == "1":
			row[2] = "skipped"
	with path.open("w", newline="") as f:
		csv.writer(f).writerows(rows)


def test_configurations_the_launch_plan_refuses_are_left_out_of_the_gp_search(tmp_path: Path) -> None:
	"""search/prior.py asks the real launch plan (engines/plan.py) about every configuration before the search; the
	gp sampler never proposes a refused one, and the fast replay agrees with the runner's."""
	from inference_autotuner.search.prior import refused_before_launch
	from inference_autotuner.space import build_task_space
	from inference_autotuner.store import Experiment, Store

	bench = load_benchmark()
	path = tmp_path / "land.csv"
	write_refusing_landscape(path)
	land = bench.Landscape(path, "maximize:tput", [])
	assert len(land.refused) == 4
	spec = bench.spec_for(land, "gp", 0, None)
	space = build_task_space(spec.parameters, spec.quant_config, spec.parallel_config)
	refused = refused_before_launch(spec, space, bench.ReplayEngine(land.refused), "landscape")
	assert set(refused) == land.refused and all("GPUs" in why for why in refused.values())
	for seed in (0, 1):
		full = bench.replay(land, "gp", seed, 1.0, tmp_path, None)
		assert bench.replay(land, "gp", seed, 1.0, tmp_path, None, fast=True) == full
		store = Store(f"sqlite:///{tmp_path / f'gp-{seed}-False.db'}")
		with store.session() as s:
			statuses = [e.status for e in s.query(Experiment).order_by(Experiment.number).all()]
		store.engine.dispose()
		# every configuration the plan accepts comes first; only then (the sampler has nothing left) a refusal
		assert len(statuses) >= 8 and "skipped" not in statuses[:8]
		assert full[0] <= 8  # the best (3, 3) among the 8 configurations left
	random_full = bench.replay(land, "random", 0, 1.0, tmp_path, None)
	assert bench.replay(land, "random", 0, 1.0, tmp_path, None, fast=True) == random_full  # refusals told alike


def test_roofline_prior_of_a_landscape_is_computed_from_its_workload_not_its_figures(tmp_path: Path) -> None:
	"""--priors roofline: the prior comes from the landscape's model, GPU, engine and workload (make_landscapes.py)
	through search/roofline.py; the CSV's figures are not read (blanking them changes nothing)."""
	bench = load_benchmark()
	src = REPO / "benchmarks" / "landscapes" / "llama31-70b-h100-vllm.csv"
	land = bench.Landscape(src, "maximize:objective_value", ["mean_tpot<=0.05"])
	from roofline_prior import write_roofline_prior

	a, b = tmp_path / "a.csv", tmp_path / "b.csv"
	feasible = write_roofline_prior(land, a, "llama31-70b-h100-vllm")
	for row in land.rows.values():
		row.update({k: "" for k in row if k not in ("status",) and not k.startswith("param:")})
	assert write_roofline_prior(land, b, "llama31-70b-h100-vllm") == feasible > 0
	assert a.read_text() == b.read_text()
	out = bench.main(
		[
			"--landscape",
			str(src),
			"--objective",
			"maximize:objective_value",
			"--constraint",
			"mean_tpot<=0.05",
			"--seeds",
			"2",
			"--strategies",
			"gp",
			"--priors",
			"roofline",
			"--fast",
		]
	)
	assert set(out) == {"gp+roofline"} and out["gp+roofline"]["experiments"] <= 11
