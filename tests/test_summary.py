"""runner.summary over a real SQLite store holding the rows the runner writes (baseline, repeats, pruned, Pareto)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from summary_rows import ids_by_number, seed_multi, seed_single

from inference_autotuner.errors import TaskNotFoundError
from inference_autotuner.runner.summary import recommended_experiment_id, refresh_pareto
from inference_autotuner.services.summary import task_summary
from inference_autotuner.store import Experiment, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
	return Store(f"sqlite:///{tmp_path / 'summary.db'}")


def test_summary_recommends_the_safest_repeated_config_and_the_gain(store: Store) -> None:
	tid = seed_single(store)
	ids = ids_by_number(store, tid)
	s = task_summary(store, tid)
	assert [o.name for o in s.objectives] == ["maximize_throughput"] and not s.multi_objective
	assert s.objectives[0].direction == "maximize" and s.objectives[0].unit == "tokens/s/GPU"
	# parallel=2: 130, 126, 128 -> mean 128, std 2, CI 128 +- 4.303 * 2 / sqrt(3) = +-4.968676
	# parallel=4: 150, 110, 130 -> mean 130 but std 20: CI low 80.3; parallel=6 (140 once) has no interval
	rec = s.recommended
	assert rec is not None and rec.params == {"parallel": 2} and s.ranking == "confidence_bound"
	assert rec.experiment_id == ids[4] and rec.n == 3 and rec.experiment_ids == [ids[4], ids[9], ids[10]]
	assert rec.objective is not None and rec.objective.mean == pytest.approx(128)
	assert rec.objective.ci_low == pytest.approx(123.031324, abs=1e-5)
	assert rec.origins == ["search", "repeat", "repeat"]
	# baseline 100, 102, 98: mean 100, std 2; gain (128 - 100) / 100 = 0.28; Welch: se sqrt(4/3 + 4/3) = 1.632993,
	# df (8/3)^2 / ((4/3)^2 / 2 * 2) = 4 -> t 2.776; half 2.776 * 1.632993 / 100 = 0.0453319
	assert s.baseline is not None and s.baseline.n == 3 and s.baseline.objective is not None
	assert s.baseline.objective.mean == pytest.approx(100) and s.baseline.experiment_id == ids[1]
	assert s.gain is not None and s.gain.value == pytest.approx(0.28)
	assert s.gain.ci_low == pytest.approx(0.28 - 0.0453319, abs=1e-6)
	assert s.gain.ci_high == pytest.approx(0.28 + 0.0453319, abs=1e-6)
	assert s.saved_seconds == pytest.approx(15.5)
	assert s.experiments_by_origin == {"baseline": 3, "search": 4, "warm_start": 1, "repeat": 4}
	assert s.experiments_by_status == {"success": 10, "failed": 1, "pruned": 1}
	assert s.pareto == [] and s.notes == []
	assert recommended_experiment_id(store, tid) == ids[4]
	assert s.model_dump(mode="json")["recommended"]["objective"]["n"] == 3  # JSON-ready


def test_summary_without_repeats_ranks_single_values(store: Store) -> None:
	tid = seed_single(store, repeats=False)
	ids = ids_by_number(store, tid)
	s = task_summary(store, tid)
	# Only the baseline has repeats: every configuration competes on its point value; parallel=4 (150) wins
	rec = s.recommended
	assert rec is not None and rec.params == {"parallel": 4} and rec.n == 1 and s.ranking == "single_measurement"
	assert rec.objective is not None and rec.objective.ci_low is None
	assert s.gain is not None and s.gain.value == pytest.approx(0.5) and s.gain.ci_low is None
	assert any("measured more than once" in n for n in s.notes)
	assert recommended_experiment_id(store, tid) == ids[5]


def test_summary_without_baseline(store: Store) -> None:
	tid = seed_single(store, baseline=False)
	s = task_summary(store, tid)
	assert s.baseline is None and s.gain is None and any("no baseline" in n for n in s.notes)
	assert s.recommended is not None and s.recommended.params == {"parallel": 2}


def test_summary_of_an_empty_task_and_unknown_task(store: Store) -> None:
	tid = seed_single(store, "empty", baseline=False, repeats=False)
	with store.session() as s:
		for e in s.scalars(select(Experiment).where(Experiment.task_id == tid)):
			s.delete(e)
	summary = task_summary(store, tid)
	assert summary.recommended is None and summary.ranking is None and summary.saved_seconds == 0
	assert summary.experiments_by_status == {} and recommended_experiment_id(store, tid) is None
	with pytest.raises(TaskNotFoundError):
		task_summary(store, 999)


def test_pareto_front_over_configuration_means(store: Store) -> None:
	tid = seed_multi(store)
	ids = ids_by_number(store, tid)
	s = task_summary(store, tid)
	assert s.multi_objective and [o.direction for o in s.objectives] == ["maximize", "minimize"]
	# parallel=2 is the mean of (150, 2.0) and (130, 1.8); parallel=3 (90, 1.5) is dominated by parallel=1 (100, 1.0);
	# the failed run and the one with a missing value are left out
	front = {tuple(sorted(p.params.items())): p for p in s.pareto}
	assert set(front) == {(("parallel", 1),), (("parallel", 2),), (("parallel", 4),)}
	p2 = front[(("parallel", 2),)]
	assert p2.n == 2 and p2.objective_values == pytest.approx([140.0, 1.9])
	assert p2.experiment_ids == [ids[2], ids[5]] and p2.experiment_id == ids[2]
	marked = refresh_pareto(store, tid)
	assert marked == sorted([ids[1], ids[2], ids[4], ids[5]])
	with store.session() as sess:
		flags = dict(sess.execute(select(Experiment.number, Experiment.pareto).where(Experiment.task_id == tid)).all())
	assert flags == {1: True, 2: True, 3: False, 4: True, 5: True, 6: False, 7: False}


def test_refresh_pareto_clears_marks_of_single_objective_tasks(store: Store) -> None:
	tid = seed_single(store)
	with store.session() as s:
		s.execute(Experiment.__table__.update().where(Experiment.task_id == tid).values(pareto=True))
	assert refresh_pareto(store, tid) == []
	with store.session() as s:
		assert not any(s.scalars(select(Experiment.pareto).where(Experiment.task_id == tid)))


def test_noise_floor_leaves_out_baseline_runs_the_audit_called_suspect(store: Store) -> None:
	"""Baseline 100, 102, 98; a fourth baseline measured while another process took the machine (its run's audit
	says suspect) at 60 would widen the floor to interference: it is left out while two or more clean ones remain."""
	tid = seed_single(store)
	quiet = task_summary(store, tid).noise
	assert quiet is not None and quiet.n == 3
	with store.session() as s:
		s.add(
			Experiment(
				task_id=tid,
				number=13,
				params={"parallel": 1},
				params_key='{"parallel": 1}',
				status="success",
				origin="baseline",
				objective_value=60.0,
				objective_values=[60.0],
				score=-60.0,
				runs=[
					{"scenario": "D(64,32)", "audit": {"status": "suspect", "reasons": ["other processes used 1.5"]}}
				],
			)
		)
	noise = task_summary(store, tid).noise
	assert noise is not None and noise.n == 3 and noise.floor == pytest.approx(quiet.floor)
	with store.session() as s:  # with fewer than two clean ones left, every measurement counts
		for e in s.scalars(select(Experiment).where(Experiment.task_id == tid, Experiment.number.in_([1, 2]))):
			e.runs = [{"audit": {"status": "suspect"}}]
	assert task_summary(store, tid).noise.n == 4  # type: ignore[union-attr]
